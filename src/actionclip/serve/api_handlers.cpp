#include "actionclip/serve/api_handlers.h"

#include <set>

#include "actionclip/serve/api_error.h"
#include "actionclip/serve/request_fields.h"
#include "actionclip/serve/upload_file.h"

namespace actionclip::serve {
namespace {

// Form fields other than the file are labels and small settings; 10,000 long labels fit.
constexpr size_t kMaxFieldBytes = 4u << 20;
constexpr size_t kMaxJsonBytes = 8u << 20;

struct Form {
  std::map<std::string, std::string> fields;
  std::unique_ptr<UploadFile> file;
};

bool has_content_type(const httplib::Request& request, const std::string& type) {
  const auto value = request.get_header_value("Content-Type");
  return value.compare(0, type.size(), type) == 0;
}

void refuse_content_type(const httplib::Request& request, const std::string& accepted) {
  const auto given = request.get_header_value("Content-Type");
  throw ApiError(415, "unsupported_media_type",
                 "Content-Type " + (given.empty() ? std::string("(none)") : given) + " is not accepted here; send " + accepted);
}

Form read_form(const ApiContext& context, const httplib::ContentReader& reader) {
  Form form;
  std::string current;
  bool in_file = false;
  size_t total = 0;
  std::optional<ApiError> failure;
  const bool complete = reader(
      [&](const httplib::MultipartFormData& part) {
        current = part.name;
        in_file = current == "file";
        if (in_file ? form.file != nullptr : form.fields.count(current) > 0) {
          failure = bad_request("the field '" + current + "' is given twice", "invalid_multipart");
          return false;
        }
        try {
          if (in_file) form.file = std::make_unique<UploadFile>(context.upload_folder, safe_extension(part.filename));
          else form.fields[current];
        } catch (const Error& e) {
          failure = ApiError(500, "server_error", e.what());
          return false;
        }
        return true;
      },
      [&](const char* data, size_t size) {
        total += size;
        if (total > context.max_upload_bytes) {
          failure = ApiError(413, "upload_too_large",
                             "the upload exceeds " + std::to_string(context.max_upload_bytes >> 20) + " MB (--max-upload-mb)");
          return false;
        }
        if (!in_file) {
          auto& field = form.fields[current];
          if (field.size() + size > kMaxFieldBytes) {
            failure = ApiError(413, "field_too_large", "the field '" + current + "' is larger than 4 MB");
            return false;
          }
          field.append(data, size);
          return true;
        }
        try {
          form.file->append(data, size);
        } catch (const Error& e) {
          failure = ApiError(500, "server_error", e.what());
          return false;
        }
        return true;
      });
  if (failure) throw *failure;
  if (!complete) throw bad_request("the multipart body is malformed or incomplete", "invalid_multipart");
  if (!form.file) throw bad_request("the form has no 'file' field (the video)", "missing_file");
  if (form.file->size() == 0) throw bad_request("the uploaded file is empty", "invalid_video");
  form.file->finish();
  return form;
}

nlohmann::json read_json(const httplib::ContentReader& reader) {
  std::string body;
  bool too_large = false;
  const bool complete = reader([&](const char* data, size_t size) {
    if (body.size() + size > kMaxJsonBytes) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (too_large) throw ApiError(413, "body_too_large", "the JSON body is larger than 8 MB");
  if (!complete) throw bad_request("the body is incomplete", "invalid_json");
  return parse_json_object(body);
}

nlohmann::json views_json(const std::vector<ViewFrames>& views) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& view : views) {
    nlohmann::json entry = {{"frames", view.indices}};
    if (!view.seconds.empty()) entry["seconds"] = view.seconds;
    out.push_back(std::move(entry));
  }
  return out;
}

nlohmann::json timings_json(const Timings& timings) {
  return {{"decode_seconds", timings.decode_seconds}, {"model_seconds", timings.model_seconds},
          {"text_seconds", timings.text_seconds}};
}

void refuse_unknown_fields(const nlohmann::json& body, const std::set<std::string>& known) {
  for (const auto& item : body.items())
    if (!known.count(item.key())) throw bad_request("unknown field '" + item.key() + "'", "unknown_field");
}

nlohmann::json embedding_json(const torch::Tensor& row, size_t index, bool base64) {
  auto values = row.contiguous().to(torch::kFloat32);
  nlohmann::json item = {{"object", "embedding"}, {"index", index}};
  const auto* data = values.data_ptr<float>();
  if (base64) item["embedding"] = base64_encode(data, static_cast<size_t>(values.numel()) * sizeof(float));
  else item["embedding"] = std::vector<float>(data, data + values.numel());
  return item;
}

}  // namespace

std::string base64_encode(const void* data, size_t size) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    const uint32_t chunk = (uint32_t{bytes[i]} << 16) | (i + 1 < size ? uint32_t{bytes[i + 1]} << 8 : 0) |
                           (i + 2 < size ? uint32_t{bytes[i + 2]} : 0);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < size ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

void send_json(httplib::Response& response, const nlohmann::json& body, int status) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void handle_classify(const ApiContext& context, const httplib::Request& request, httplib::Response& response,
                     const httplib::ContentReader& reader) {
  ClassifyRequest classify;
  Form form;
  if (request.is_multipart_form_data()) {
    context.service();  // 503 before reading a large upload while loading
    form = read_form(context, reader);
    classify = classify_request_from_form(form.fields, form.file->path());
  } else if (has_content_type(request, "application/json")) {
    classify = classify_request_from_json(read_json(reader), context.allow_path);
  } else {
    refuse_content_type(request, "multipart/form-data (a video upload) or application/json (a server-side path)");
  }
  auto service = context.service();
  const auto result = service->classify(classify);
  nlohmann::json predictions = nlohmann::json::array();
  for (const auto& [label, probability] : result.top) predictions.push_back({{"label", label}, {"probability", probability}});
  send_json(response, {{"object", "classification"},
                       {"model", service->model_name()},
                       {"predictions", predictions},
                       {"views", views_json(result.frames)},
                       {"timings", timings_json(result.timings)},
                       {"text_cache_hit", result.text_cache_hit}});
}

void handle_embeddings(const ApiContext& context, const httplib::Request& request, httplib::Response& response,
                       const httplib::ContentReader& reader) {
  if (request.is_multipart_form_data()) {
    auto service = context.service();  // 503 before reading a large upload while loading
    auto form = read_form(context, reader);
    auto fields = form.fields;
    const bool base64 = fields.count("encoding_format") && fields.at("encoding_format") == "base64";
    if (fields.count("encoding_format") && !base64 && fields.at("encoding_format") != "float")
      throw bad_request("encoding_format must be float or base64", "invalid_encoding_format");
    fields.erase("encoding_format");
    fields.erase("model");
    for (const auto& [name, _] : fields)
      if (name != "views" && name != "frames") throw bad_request("unknown field '" + name + "'", "unknown_field");
    const auto video = service->embed_video(video_request_from_form(fields, form.file->path()));
    send_json(response, {{"object", "list"},
                         {"data", nlohmann::json::array({embedding_json(video.embedding, 0, base64)})},
                         {"model", service->model_name()},
                         {"usage", {{"prompt_tokens", 0}, {"total_tokens", 0}}},
                         {"views", views_json(video.frames)},
                         {"timings", timings_json(video.timings)}});
    return;
  }
  if (!has_content_type(request, "application/json"))
    refuse_content_type(request, "application/json (texts) or multipart/form-data (a video upload)");
  const auto body = read_json(reader);
  refuse_unknown_fields(body, {"model", "input", "encoding_format", "dimensions", "user"});
  bool base64 = false;
  if (body.contains("encoding_format")) {
    const auto& format = body.at("encoding_format");
    if (!format.is_string() || (format != "float" && format != "base64"))
      throw bad_request("encoding_format must be float or base64", "invalid_encoding_format");
    base64 = format == "base64";
  }
  const auto texts = embedding_inputs(body);
  for (const auto& text : texts)
    if (!is_valid_utf8(text)) throw bad_request("input: not valid UTF-8", "invalid_input");
  auto service = context.service();
  if (body.contains("dimensions") && body.at("dimensions") != service->embedding_size())
    throw bad_request("dimensions: this model's embeddings have " + std::to_string(service->embedding_size()),
                      "invalid_dimensions");
  if (texts.size() > service->options().max_labels)
    throw bad_request("input: at most " + std::to_string(service->options().max_labels) + " strings per request",
                      "invalid_input");
  const auto embeddings = service->embed_texts(texts);
  nlohmann::json data = nlohmann::json::array();
  for (size_t i = 0; i < texts.size(); ++i) data.push_back(embedding_json(embeddings[static_cast<int64_t>(i)], i, base64));
  const auto tokens = service->token_count(texts);
  send_json(response, {{"object", "list"},
                       {"data", data},
                       {"model", service->model_name()},
                       {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

void handle_search(const ApiContext& context, const httplib::Request& request, httplib::Response& response,
                   const httplib::ContentReader& reader) {
  if (!has_content_type(request, "application/json")) refuse_content_type(request, "application/json");
  const auto body = read_json(reader);
  refuse_unknown_fields(body, {"query", "top_k"});
  if (!body.contains("query") || !body.at("query").is_string() || body.at("query").get<std::string>().empty())
    throw bad_request("query: a non-empty string is required", "invalid_query");
  const auto query = body.at("query").get<std::string>();
  if (!is_valid_utf8(query)) throw bad_request("query: not valid UTF-8", "invalid_query");
  int k = 10;
  if (body.contains("top_k")) {
    if (!body.at("top_k").is_number_integer()) throw bad_request("top_k: must be an integer", "invalid_top_k");
    k = static_cast<int>(std::clamp<int64_t>(body.at("top_k").get<int64_t>(), -1, 1000000));
  }
  auto service = context.service();
  nlohmann::json results = nlohmann::json::array();
  for (const auto& hit : service->search(query, k)) results.push_back({{"path", hit.path}, {"score", hit.score}});
  send_json(response, {{"object", "list"}, {"model", service->model_name()}, {"query", query}, {"results", results}});
}

void handle_models(const ApiContext& context, httplib::Response& response) {
  auto service = context.service();
  send_json(response, {{"object", "list"},
                       {"data", nlohmann::json::array({{{"id", service->model_name()},
                                                        {"object", "model"},
                                                        {"created", 0},
                                                        {"owned_by", "actionclip"},
                                                        {"meta", service->describe()}}})}});
}

void handle_label_sets(httplib::Response& response) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& [name, labels] : builtin_label_sets()) data.push_back({{"id", name}, {"count", labels.size()}});
  send_json(response, {{"object", "list"}, {"data", data}});
}

void handle_label_set(const std::string& name, httplib::Response& response) {
  const auto& sets = builtin_label_sets();
  auto it = sets.find(name);
  if (it == sets.end()) throw ApiError(404, "not_found", "no label set named '" + name + "'");
  send_json(response, {{"id", name}, {"labels", it->second}});
}

}  // namespace actionclip::serve
