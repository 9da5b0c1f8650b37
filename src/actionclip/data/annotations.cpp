#include "actionclip/data/annotations.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "actionclip/data/labels.h"
#include "actionclip/util/error.h"
#include "actionclip/util/random.h"

namespace actionclip::data {
namespace {

namespace fs = std::filesystem;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_blanks(std::string_view s) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    const size_t begin = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    if (i > begin) tokens.push_back(s.substr(begin, i - begin));
  }
  return tokens;
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// Calls fn(line number, trimmed text) for every nonblank line; CRLF files read like LF ones.
template <typename Fn>
void for_each_line(const std::string& path, Fn&& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open annotation file");
  std::string raw;
  for (int number = 1; std::getline(in, raw); ++number) {
    const std::string_view text = trim(raw);
    if (!text.empty()) fn(number, text);
  }
  if (in.bad()) throw FileError(path, "read error");
}

bool is_directory(const std::string& path) {
  std::error_code ignored;
  return fs::is_directory(path, ignored);
}

bool is_file(const std::string& path) {
  std::error_code ignored;
  return fs::is_regular_file(path, ignored);
}

// Class names as annotations spell them (folder names, CamelCase) -> ids.
class ClassIndex {
 public:
  explicit ClassIndex(const std::vector<std::string>& class_names) : size_(class_names.size()) {
    for (size_t id = 0; id < class_names.size(); ++id)
      ids_.emplace(humanize_label(class_names[id]), static_cast<int64_t>(id));
  }
  std::optional<int64_t> find(std::string_view name) const {
    const auto it = ids_.find(humanize_label(name));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  size_t size() const { return size_; }

 private:
  size_t size_;
  std::unordered_map<std::string, int64_t> ids_;
};

// Collects the records and problems of one annotation file.
class Collector {
 public:
  Collector(std::string file, const AnnotationOptions& options) : file_(std::move(file)), options_(options) {}

  const AnnotationOptions& options() const { return options_; }

  std::string resolve(std::string_view path) const {
    if (options_.data_root.empty()) return std::string(path);
    return (fs::path(options_.data_root) / fs::path(path)).string();
  }

  void skip(int line, const std::string& why) {
    report_.problems.push_back(file_ + ":" + std::to_string(line) + ": " + why);
    ++report_.skipped;
  }

  // Adds the record unless a label is out of range or (with check_exists) the path is missing.
  void add(int line, VideoRecord record, bool is_frame_folder) {
    for (const int64_t label : record.labels) {
      if (label < 0) return skip(line, "negative label " + std::to_string(label));
      if (options_.num_classes > 0 && label >= options_.num_classes)
        return skip(line, "label " + std::to_string(label) + " is outside 0.." +
                              std::to_string(options_.num_classes - 1));
    }
    if (options_.check_exists && !(is_frame_folder ? is_directory(record.path) : is_file(record.path))) {
      skip(line, "missing " + record.path);
      return;
    }
    report_.records.push_back(std::move(record));
  }

  AnnotationReport& report() { return report_; }

 private:
  std::string file_;
  const AnnotationOptions& options_;
  AnnotationReport report_;
};

std::optional<std::vector<int64_t>> parse_labels(const std::vector<std::string_view>& tokens, size_t first) {
  std::vector<int64_t> labels;
  for (size_t i = first; i < tokens.size(); ++i) {
    const auto label = parse_int(tokens[i]);
    if (!label) return std::nullopt;
    labels.push_back(*label);
  }
  return labels;
}

std::string zero_pad6(int64_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%06lld", static_cast<long long>(value));
  return buffer;
}

// Kinetics times are whole seconds, sometimes written "14.0"; the downloader formats them with
// %06d, which truncates.
std::optional<int64_t> parse_seconds(const std::string& s) {
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(value >= 0) || value > 1e9) return std::nullopt;
  return static_cast<int64_t>(value);
}

// Where a Kinetics clip may be stored, the ActivityNet downloader's layout first.
std::vector<fs::path> kinetics_candidates(const fs::path& root, const std::string& label, const std::string& stem,
                                          bool all_layouts) {
  if (!all_layouts) return {root / label / (stem + ".mp4")};
  std::string underscored = label;
  std::replace(underscored.begin(), underscored.end(), ' ', '_');
  std::vector<fs::path> folders{root / label};
  if (underscored != label) folders.push_back(root / underscored);
  folders.push_back(root);
  std::vector<fs::path> candidates;
  for (const fs::path& folder : folders)
    for (const char* extension : {".mp4", ".mkv", ".webm"}) candidates.push_back(folder / (stem + extension));
  return candidates;
}

}  // namespace

AnnotationReport read_rawframe_list(const std::string& path, const AnnotationOptions& options) {
  Collector collector(path, options);
  for_each_line(path, [&](int line, std::string_view text) {
    const auto tokens = split_blanks(text);
    if (tokens.size() < 3) return collector.skip(line, "expected '<frame_dir> <num_frames> <label> ...'");
    const auto num_frames = parse_int(tokens[1]);
    if (!num_frames || *num_frames <= 0)
      return collector.skip(line, "frame count '" + std::string(tokens[1]) + "' is not a positive integer");
    auto labels = parse_labels(tokens, 2);
    if (!labels) return collector.skip(line, "labels must be integers");
    collector.add(line, {collector.resolve(tokens[0]), *num_frames, std::move(*labels)}, true);
  });
  return std::move(collector.report());
}

AnnotationReport read_video_list(const std::string& path, const AnnotationOptions& options) {
  Collector collector(path, options);
  for_each_line(path, [&](int line, std::string_view text) {
    const auto tokens = split_blanks(text);
    if (tokens.size() < 2) return collector.skip(line, "expected '<video> <label> ...'");
    auto labels = parse_labels(tokens, 1);
    if (!labels) return collector.skip(line, "labels must be integers");
    collector.add(line, {collector.resolve(tokens[0]), -1, std::move(*labels)}, false);
  });
  return std::move(collector.report());
}

AnnotationReport read_kinetics_csv(const std::string& path, const std::vector<std::string>& class_names,
                                   const AnnotationOptions& options) {
  const ClassIndex classes(class_names);
  Collector collector(path, options);
  // Column positions, from the header; the Kinetics releases do not all order them alike.
  size_t columns = 0, label_column = 0, id_column = 0, start_column = 0, end_column = 0;
  for_each_line(path, [&](int line, std::string_view text) {
    const auto fields = split_csv_record(text);
    if (columns == 0) {
      const auto find = [&](const char* name) -> size_t {
        if (fields) {
          const auto at = std::find(fields->begin(), fields->end(), name);
          if (at != fields->end()) return static_cast<size_t>(at - fields->begin());
        }
        throw FileError(path, "line " + std::to_string(line) + ": header has no '" + name +
                                  "' column (expected label,youtube_id,time_start,time_end,split)");
      };
      label_column = find("label");
      id_column = find("youtube_id");
      start_column = find("time_start");
      end_column = find("time_end");
      columns = fields->size();
      return;
    }
    if (!fields) return collector.skip(line, "unterminated quote");
    if (fields->size() != columns)
      return collector.skip(line, std::to_string(fields->size()) + " fields, expected " + std::to_string(columns));
    const std::string& label = (*fields)[label_column];
    const auto id = classes.find(label);
    if (!id) return collector.skip(line, "class '" + label + "' is not in the label list");
    const auto start = parse_seconds((*fields)[start_column]);
    const auto end = parse_seconds((*fields)[end_column]);
    if (!start || !end) return collector.skip(line, "times must be non-negative numbers");
    const std::string stem = (*fields)[id_column] + "_" + zero_pad6(*start) + "_" + zero_pad6(*end);
    const fs::path root = options.data_root;
    const auto candidates = kinetics_candidates(root, label, stem, options.check_exists);
    const auto found = options.check_exists ? std::find_if(candidates.begin(), candidates.end(),
                                                           [](const fs::path& p) { return is_file(p.string()); })
                                            : candidates.begin();
    if (found == candidates.end())
      return collector.skip(line, "missing " + candidates.front().string() + " (also tried other layouts, .mkv, .webm)");
    collector.add(line, {found->string(), -1, {*id}}, false);
  });
  if (columns == 0) throw FileError(path, "empty annotation file");
  return std::move(collector.report());
}

AnnotationReport read_ucf101_split(const std::string& path, const std::vector<std::string>& class_names,
                                   const AnnotationOptions& options) {
  const ClassIndex classes(class_names);
  Collector collector(path, options);
  for_each_line(path, [&](int line, std::string_view text) {
    const auto tokens = split_blanks(text);
    if (tokens.size() > 2) return collector.skip(line, "expected '<class>/<video> [<class id>]'");
    const size_t slash = tokens[0].find('/');
    if (slash == std::string_view::npos || slash == 0)
      return collector.skip(line, "no class folder in '" + std::string(tokens[0]) + "'");
    const std::string folder(tokens[0].substr(0, slash));
    const auto folder_id = classes.find(folder);
    int64_t label = 0;
    if (tokens.size() == 2) {
      // classInd ids are 1-based.
      const auto id = parse_int(tokens[1]);
      if (!id || *id < 1 || *id > static_cast<int64_t>(classes.size()))
        return collector.skip(line, "class id '" + std::string(tokens[1]) + "' is outside 1.." +
                                        std::to_string(classes.size()));
      label = *id - 1;
      if (folder_id && *folder_id != label)
        return collector.skip(line, "class id " + std::to_string(*id) + " is '" + class_names[label] +
                                        "' but the folder is '" + folder + "'");
    } else if (folder_id) {
      label = *folder_id;
    } else {
      return collector.skip(line, "class folder '" + folder + "' is not in the label list");
    }
    collector.add(line, {collector.resolve(tokens[0]), -1, {label}}, false);
  });
  return std::move(collector.report());
}

AnnotationReport read_hmdb51_split(const std::string& split_dir, int split, HmdbSubset subset,
                                   const std::vector<std::string>& class_names, const AnnotationOptions& options) {
  const ClassIndex classes(class_names);
  const std::string suffix = "_test_split" + std::to_string(split) + ".txt";
  struct SplitFile {
    int64_t class_id;
    std::string folder;
    std::string path;
  };
  std::vector<SplitFile> files;
  std::vector<std::string> unknown;
  std::error_code error;
  for (fs::directory_iterator it(split_dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string folder = name.substr(0, name.size() - suffix.size());
    if (const auto id = classes.find(folder))
      files.push_back({*id, folder, it->path().string()});
    else
      unknown.push_back(it->path().string() + ": class '" + folder + "' is not in the label list");
  }
  if (error) throw FileError(split_dir, "cannot read split folder: " + error.message());
  if (files.empty() && unknown.empty()) throw FileError(split_dir, "no *" + suffix + " files");
  std::sort(files.begin(), files.end(), [](const SplitFile& a, const SplitFile& b) {
    return a.class_id != b.class_id ? a.class_id < b.class_id : a.path < b.path;
  });

  AnnotationReport merged;
  merged.problems = std::move(unknown);
  std::sort(merged.problems.begin(), merged.problems.end());
  std::vector<bool> has_file(class_names.size(), false);
  for (const SplitFile& file : files) {
    has_file[file.class_id] = true;
    Collector collector(file.path, options);
    for_each_line(file.path, [&](int line, std::string_view text) {
      const auto tokens = split_blanks(text);
      const auto flag = tokens.size() == 2 ? parse_int(tokens[1]) : std::nullopt;
      if (!flag || *flag < 0 || *flag > 2) return collector.skip(line, "expected '<video> <0|1|2>'");
      if (*flag == static_cast<int64_t>(subset))
        collector.add(line, {collector.resolve(file.folder + "/" + std::string(tokens[0])), -1, {file.class_id}},
                      false);
    });
    AnnotationReport& part = collector.report();
    std::move(part.records.begin(), part.records.end(), std::back_inserter(merged.records));
    std::move(part.problems.begin(), part.problems.end(), std::back_inserter(merged.problems));
    merged.skipped += part.skipped;
  }
  for (size_t id = 0; id < class_names.size(); ++id)
    if (!has_file[id]) merged.problems.push_back(split_dir + ": no split file for class '" + class_names[id] + "'");
  return merged;
}

std::vector<VideoRecord> few_shot_subset(const std::vector<VideoRecord>& records, int shots, uint64_t seed) {
  if (shots <= 0) throw std::invalid_argument("few-shot subset: shots must be positive, got " + std::to_string(shots));
  std::map<int64_t, std::vector<size_t>> by_class;
  for (size_t i = 0; i < records.size(); ++i)
    if (!records[i].labels.empty()) by_class[records[i].labels.front()].push_back(i);

  std::vector<bool> keep(records.size(), false);
  for (auto& [label, indices] : by_class) {
    // A generator per class keeps each class's draw independent of the others.
    std::mt19937_64 rng(splitmix64(seed ^ splitmix64(static_cast<uint64_t>(label))));
    const size_t take = std::min(indices.size(), static_cast<size_t>(shots));
    // The first `take` steps of a Fisher-Yates shuffle: a uniformly random `take`-subset.
    for (size_t i = 0; i < take; ++i) {
      std::swap(indices[i], indices[i + uniform_below(rng, indices.size() - i)]);
      keep[indices[i]] = true;
    }
  }
  std::vector<VideoRecord> subset;
  for (size_t i = 0; i < records.size(); ++i)
    if (keep[i]) subset.push_back(records[i]);
  return subset;
}

}  // namespace actionclip::data
