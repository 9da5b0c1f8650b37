#include "actionclip/serve/request_fields.h"

#include <filesystem>
#include <set>
#include <sstream>

#include "actionclip/data/labels.h"
#include "actionclip/serve/api_error.h"
#include "actionclip/serve/web_assets.h"
#include "actionclip/util/parse_int.h"

namespace actionclip::serve {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxLabelBytes = 1000;

std::vector<std::string> csv_label_names(std::string_view csv, bool humanize) {
  std::vector<std::string> labels;
  std::istringstream lines{std::string(csv)};
  std::string line;
  std::getline(lines, line);  // "id,name"
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto fields = data::split_csv_record(line);
    if (!fields || fields->size() < 2) continue;
    labels.push_back(humanize ? data::humanize_label((*fields)[1]) : (*fields)[1]);
  }
  return labels;
}

void check_labels(const std::vector<std::string>& labels) {
  if (labels.empty()) throw bad_request("labels: the list is empty", "invalid_labels");
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!is_valid_utf8(labels[i])) throw bad_request("labels: label " + std::to_string(i) + " is not valid UTF-8", "invalid_labels");
    if (labels[i].empty()) throw bad_request("labels: label " + std::to_string(i) + " is empty", "invalid_labels");
    if (labels[i].size() > kMaxLabelBytes)
      throw bad_request("labels: label " + std::to_string(i) + " is longer than " + std::to_string(kMaxLabelBytes) + " bytes",
                        "invalid_labels");
  }
}

std::vector<std::string> named_label_set(const std::string& name) {
  const auto& sets = builtin_label_sets();
  auto it = sets.find(name);
  if (it == sets.end()) {
    std::string known;
    for (const auto& [key, _] : sets) known += (known.empty() ? "" : ", ") + key;
    throw bad_request("label_set: unknown list '" + name + "' (known: " + known + ")", "invalid_labels");
  }
  return it->second;
}

int integer_field(const std::string& name, const std::string& value) {
  const auto parsed = parse_whole_int(value);
  if (!parsed) throw bad_request(name + ": not an integer: '" + value + "'", "invalid_" + name);
  return *parsed;
}

void refuse_unknown(const std::set<std::string>& known, const std::vector<std::string>& given) {
  for (const auto& name : given)
    if (!known.count(name)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw bad_request("unknown field '" + name + "' (known: " + list + ")", "unknown_field");
    }
}

const std::set<std::string> kClassifyFormFields = {"file", "labels", "label_set", "templates", "top_k", "views", "frames"};
const std::set<std::string> kClassifyJsonFields = {"path", "labels", "label_set", "templates", "top_k", "views", "frames"};

std::string json_string(const nlohmann::json& body, const char* name) {
  if (!body.at(name).is_string()) throw bad_request(std::string(name) + ": must be a string", std::string("invalid_") + name);
  return body.at(name).get<std::string>();
}

int json_integer(const nlohmann::json& body, const char* name) {
  const auto& value = body.at(name);
  if (!value.is_number_integer() || value.get<int64_t>() > 1000000 || value.get<int64_t>() < -1000000)
    throw bad_request(std::string(name) + ": must be an integer", std::string("invalid_") + name);
  return value.get<int>();
}

}  // namespace

const LabelSets& builtin_label_sets() {
  static const LabelSets sets = [] {
    LabelSets out;
    for (const auto& asset : web_assets()) {
      if (asset.path == "labels/kinetics400.csv") out["kinetics400"] = csv_label_names(asset.body, false);
      if (asset.path == "labels/ucf101.csv") out["ucf101"] = csv_label_names(asset.body, true);
      if (asset.path == "labels/hmdb51.csv") out["hmdb51"] = csv_label_names(asset.body, false);
    }
    return out;
  }();
  return sets;
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    int extra = 0;
    uint32_t code = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { extra = 1; code = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { extra = 2; code = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { extra = 3; code = c & 0x07; }
    else return false;
    if (i + static_cast<size_t>(extra) >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static const uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[extra] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

std::vector<std::string> parse_labels_field(const std::string& value) {
  if (!is_valid_utf8(value)) throw bad_request("labels: not valid UTF-8", "invalid_labels");
  std::vector<std::string> labels;
  const auto first = value.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && value[first] == '[') {
    nlohmann::json parsed;
    try {
      parsed = nlohmann::json::parse(value);
    } catch (const nlohmann::json::exception& e) {
      throw bad_request(std::string("labels: not a JSON array: ") + e.what(), "invalid_labels");
    }
    for (const auto& label : parsed) {
      if (!label.is_string()) throw bad_request("labels: every label must be a string", "invalid_labels");
      labels.push_back(label.get<std::string>());
    }
  } else {
    labels = data::parse_label_list(value);
  }
  check_labels(labels);
  return labels;
}

ClassifyRequest classify_request_from_form(const std::map<std::string, std::string>& fields, const std::string& path) {
  std::vector<std::string> names;
  for (const auto& [name, _] : fields) names.push_back(name);
  refuse_unknown(kClassifyFormFields, names);
  ClassifyRequest request;
  request.video = video_request_from_form(fields, path);
  const bool has_labels = fields.count("labels"), has_set = fields.count("label_set");
  if (has_labels && has_set) throw bad_request("give one of the fields labels and label_set, not both", "invalid_labels");
  if (has_labels) request.labels = parse_labels_field(fields.at("labels"));
  if (has_set) request.labels = named_label_set(fields.at("label_set"));
  if (fields.count("templates")) request.templates = fields.at("templates");
  if (fields.count("top_k")) request.top_k = integer_field("top_k", fields.at("top_k"));
  return request;
}

VideoRequest video_request_from_form(const std::map<std::string, std::string>& fields, const std::string& path) {
  VideoRequest video;
  video.path = path;
  if (fields.count("views")) video.views = fields.at("views");
  if (fields.count("frames")) video.frames = integer_field("frames", fields.at("frames"));
  return video;
}

ClassifyRequest classify_request_from_json(const nlohmann::json& body, const std::string& allow_dir) {
  std::vector<std::string> names;
  for (const auto& item : body.items()) names.push_back(item.key());
  refuse_unknown(kClassifyJsonFields, names);
  if (!body.contains("path"))
    throw bad_request("a JSON request names a server-side video in 'path'; upload a file as multipart/form-data instead",
                      "missing_path");
  ClassifyRequest request;
  request.video.path = resolve_allowed_path(json_string(body, "path"), allow_dir);
  const bool has_labels = body.contains("labels"), has_set = body.contains("label_set");
  if (has_labels && has_set) throw bad_request("give one of the fields labels and label_set, not both", "invalid_labels");
  if (has_set) {
    request.labels = named_label_set(json_string(body, "label_set"));
  } else if (!has_labels) {
    // The model's own labels, if it carries them (InferenceService::classify).
  } else if (body.at("labels").is_string()) {
    request.labels = parse_labels_field(body.at("labels").get<std::string>());
  } else if (body.at("labels").is_array()) {
    for (const auto& label : body.at("labels")) {
      if (!label.is_string()) throw bad_request("labels: every label must be a string", "invalid_labels");
      request.labels.push_back(label.get<std::string>());
    }
    check_labels(request.labels);
  } else {
    throw bad_request("labels: must be an array of strings or a comma-separated string", "invalid_labels");
  }
  if (body.contains("templates")) request.templates = json_string(body, "templates");
  if (body.contains("top_k")) request.top_k = json_integer(body, "top_k");
  if (body.contains("views")) request.video.views = json_string(body, "views");
  if (body.contains("frames")) request.video.frames = json_integer(body, "frames");
  return request;
}

std::string resolve_allowed_path(const std::string& requested, const std::string& allow_dir) {
  if (allow_dir.empty())
    throw ApiError(403, "path_not_allowed", "this server does not read server-side paths (start it with --allow-path DIR)");
  if (requested.empty() || !is_valid_utf8(requested)) throw bad_request("path: empty or not UTF-8", "invalid_path");
  const fs::path path(requested);
  for (const auto& part : path)
    if (part == "..") throw ApiError(403, "path_not_allowed", "path: '..' is not allowed");
  std::error_code ec;
  const auto root = fs::canonical(allow_dir, ec);
  if (ec) throw ApiError(500, "server_error", "the allowed folder cannot be resolved");
  const auto resolved = fs::canonical(path.is_absolute() ? path : root / path, ec);
  if (ec) throw ApiError(404, "not_found", "path: no such file: " + requested);
  // Symlinks are resolved first, so a link inside the folder that points out of it is refused.
  auto r = root.begin();
  auto p = resolved.begin();
  for (; r != root.end(); ++r, ++p)
    if (p == resolved.end() || *p != *r) throw ApiError(403, "path_not_allowed", "path: outside the allowed folder: " + requested);
  if (!fs::is_regular_file(resolved)) throw bad_request("path: not a regular file: " + requested, "invalid_path");
  return resolved.string();
}

std::vector<std::string> embedding_inputs(const nlohmann::json& body) {
  if (!body.contains("input")) throw bad_request("input: missing (a string or an array of strings)", "invalid_input");
  const auto& input = body.at("input");
  std::vector<std::string> texts;
  if (input.is_string()) {
    texts.push_back(input.get<std::string>());
  } else if (input.is_array()) {
    for (const auto& item : input) {
      if (!item.is_string())
        throw bad_request("input: only strings are accepted (not token arrays)", "invalid_input");
      texts.push_back(item.get<std::string>());
    }
  } else {
    throw bad_request("input: must be a string or an array of strings", "invalid_input");
  }
  if (texts.empty()) throw bad_request("input: the array is empty", "invalid_input");
  for (const auto& text : texts)
    if (text.empty()) throw bad_request("input: empty strings cannot be embedded", "invalid_input");
  return texts;
}

nlohmann::json parse_json_object(const std::string& body) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw bad_request(std::string("the body is not valid JSON: ") + e.what(), "invalid_json");
  }
  if (!parsed.is_object()) throw bad_request("the body must be a JSON object", "invalid_json");
  return parsed;
}

}  // namespace actionclip::serve
