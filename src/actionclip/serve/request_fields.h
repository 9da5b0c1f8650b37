#pragma once
// The fields of classify, embeddings and search requests, from a multipart form or a JSON body,
// checked before any work starts: unknown fields, wrong types, empty or non-UTF-8 labels and
// paths outside --allow-path are ApiErrors (4xx) that say which field is wrong and why.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "actionclip/serve/inference_service.h"

namespace actionclip::serve {

// Label lists the server knows by name ("kinetics400", "ucf101", "hmdb51").
using LabelSets = std::map<std::string, std::vector<std::string>>;

// The built-in lists, from the CSVs embedded with the web page (UCF-101's names humanized).
const LabelSets& builtin_label_sets();

bool is_valid_utf8(std::string_view text);

// "a,b,c" (CSV quoting for names with commas) or a JSON array of strings.
std::vector<std::string> parse_labels_field(const std::string& value);

// A multipart form's text fields (the file travels apart) as a classify request for PATH. Without
// labels and label_set the request's labels stay empty: the model's own, if it carries them.
ClassifyRequest classify_request_from_form(const std::map<std::string, std::string>& fields, const std::string& path);
// A JSON body {"path", "labels" | "label_set", "templates", "top_k", "views", "frames"}: the
// video named by a path under ALLOW_DIR (empty: path requests are refused).
ClassifyRequest classify_request_from_json(const nlohmann::json& body, const std::string& allow_dir);

// REQUESTED resolved (relative to ALLOW_DIR when relative, symlinks followed) and checked to lie
// inside ALLOW_DIR; 403 when it does not, 404 when it does not exist.
std::string resolve_allowed_path(const std::string& requested, const std::string& allow_dir);

// Video fields of an embeddings upload (views, frames) for PATH.
VideoRequest video_request_from_form(const std::map<std::string, std::string>& fields, const std::string& path);

// OpenAI's embeddings input: a string or an array of strings (token arrays are refused).
std::vector<std::string> embedding_inputs(const nlohmann::json& body);

// Parses BODY as a JSON object; 400 naming the problem otherwise.
nlohmann::json parse_json_object(const std::string& body);

}  // namespace actionclip::serve
