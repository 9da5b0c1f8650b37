#include "actionclip/data/labels.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <fstream>

#include "actionclip/util/error.h"

namespace actionclip::data {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int64_t> parse_id(std::string_view s) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

struct Line {
  int number;  // 1-based, counting blank lines, as an editor shows it
  std::string text;  // trimmed, never empty
};

std::vector<Line> read_nonblank_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open label file");
  std::vector<Line> lines;
  std::string raw;
  for (int number = 1; std::getline(in, raw); ++number) {
    std::string_view text = raw;
    // Spreadsheet exports start with a byte-order mark that would otherwise stick to the header.
    if (number == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    text = trim(text);
    if (!text.empty()) lines.push_back({number, std::string(text)});
  }
  if (in.bad()) throw FileError(path, "read error");
  return lines;
}

struct Entry {
  int64_t id;
  std::string name;
  int line;
};

// "1 ApplyEyeMakeup": digits, blanks, then the name.
std::optional<Entry> parse_class_ind(const Line& line) {
  const std::string_view text = line.text;
  const size_t digits_end = std::min(text.find_first_not_of("0123456789"), text.size());
  if (digits_end == 0 || digits_end == text.size() || !is_blank(text[digits_end])) return std::nullopt;
  return Entry{*parse_id(text.substr(0, digits_end)), std::string(trim(text.substr(digits_end))), line.number};
}

bool is_csv_header(const Line& line) {
  const auto fields = split_csv_record(line.text);
  return fields && fields->size() >= 2 && lower((*fields)[0]) == "id" && lower((*fields)[1]) == "name";
}

// A headerless "0,abseiling" file: without this check it would read as a plain list of
// names that all begin with their id.
bool looks_like_headerless_csv(const std::vector<Line>& lines) {
  return std::all_of(lines.begin(), lines.end(), [](const Line& line) {
    const auto fields = split_csv_record(line.text);
    return fields && fields->size() >= 2 && parse_id((*fields)[0]).has_value();
  });
}

std::vector<Entry> parse_csv(const std::string& path, const std::vector<Line>& lines, bool has_header) {
  const size_t columns = has_header ? split_csv_record(lines.front().text)->size() : 2;
  std::vector<Entry> entries;
  for (size_t i = has_header ? 1 : 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    const std::string where = "line " + std::to_string(line.number) + ": ";
    const auto fields = split_csv_record(line.text);
    if (!fields) throw FileError(path, where + "unterminated quote");
    if (fields->size() != columns)
      throw FileError(path, where + std::to_string(fields->size()) + " fields, expected " + std::to_string(columns) +
                                " (quote names that contain commas)");
    const auto id = parse_id((*fields)[0]);
    if (!id) throw FileError(path, where + "id '" + (*fields)[0] + "' is not an integer");
    entries.push_back({*id, (*fields)[1], line.number});
  }
  return entries;
}

// Places each name at its id, which must run over first_id .. first_id + n - 1 exactly once.
std::vector<std::string> place_by_id(const std::string& path, std::vector<Entry> entries, int64_t first_id) {
  if (entries.empty()) throw FileError(path, "no labels");
  const auto n = static_cast<int64_t>(entries.size());
  std::vector<std::string> names(entries.size());
  std::vector<int> defined_on(entries.size(), 0);
  for (Entry& entry : entries) {
    const std::string where = "line " + std::to_string(entry.line) + ": ";
    const int64_t index = entry.id - first_id;
    if (index < 0 || index >= n)
      throw FileError(path, where + "id " + std::to_string(entry.id) + " is out of range: " + std::to_string(n) +
                                " labels need ids " + std::to_string(first_id) + ".." +
                                std::to_string(first_id + n - 1) + " (is an id missing?)");
    if (defined_on[index] != 0)
      throw FileError(path, where + "duplicate id " + std::to_string(entry.id) + " (first on line " +
                                std::to_string(defined_on[index]) + ")");
    if (entry.name.empty()) throw FileError(path, where + "empty name");
    defined_on[index] = entry.line;
    names[index] = std::move(entry.name);
  }
  return names;
}

}  // namespace

std::optional<std::vector<std::string>> split_csv_record(std::string_view line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back(trim(field));
      field.clear();
    } else {
      field += c;
    }
  }
  if (quoted) return std::nullopt;
  fields.emplace_back(trim(field));
  return fields;
}

std::vector<std::string> read_label_file(const std::string& path) {
  const std::vector<Line> lines = read_nonblank_lines(path);
  if (lines.empty()) throw FileError(path, "no labels");

  if (is_csv_header(lines.front())) return place_by_id(path, parse_csv(path, lines, true), 0);
  if (looks_like_headerless_csv(lines)) return place_by_id(path, parse_csv(path, lines, false), 0);

  std::vector<Entry> class_ind;
  for (const Line& line : lines) {
    auto entry = parse_class_ind(line);
    if (!entry) break;
    class_ind.push_back(std::move(*entry));
  }
  if (class_ind.size() == lines.size()) return place_by_id(path, std::move(class_ind), 1);

  std::vector<std::string> names;
  names.reserve(lines.size());
  for (const Line& line : lines) names.push_back(line.text);
  return names;
}

std::vector<std::string> parse_label_list(const std::string& comma_separated) {
  auto fields = split_csv_record(comma_separated);
  if (!fields) throw Error("label list: unterminated quote in '" + comma_separated + "'");
  fields->erase(std::remove(fields->begin(), fields->end(), std::string()), fields->end());
  return std::move(*fields);
}

std::string humanize_label(std::string_view label) {
  const auto at = [&](size_t i) { return static_cast<unsigned char>(label[i]); };
  std::string out;
  bool pending_space = false;
  for (size_t i = 0; i < label.size(); ++i) {
    const unsigned char c = at(i);
    if (c == '_' || is_blank(static_cast<char>(c))) {
      pending_space = true;
      continue;
    }
    if (i > 0) {
      const unsigned char prev = at(i - 1);
      const bool lower_to_upper = (std::islower(prev) || std::isdigit(prev)) && std::isupper(c);
      // The last capital of an acronym starts the next word: "TVShow" -> "TV Show".
      const bool acronym_end = std::isupper(prev) && std::isupper(c) && i + 1 < label.size() && std::islower(at(i + 1));
      const bool letter_digit = (std::isalpha(prev) && std::isdigit(c)) || (std::isdigit(prev) && std::isalpha(c));
      if (lower_to_upper || acronym_end || letter_digit) pending_space = true;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

}  // namespace actionclip::data
