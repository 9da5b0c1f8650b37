#pragma once
// The JSON endpoints (/v1/classify, /v1/embeddings, /v1/search, /v1/models, /v1/label-sets):
// each parses its request, calls the InferenceService and writes its answer, or throws ApiError.
// Internal to the HTTP layer (it exposes cpp-httplib's types).
#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "actionclip/serve/inference_service.h"

namespace actionclip::serve {

struct ApiContext {
  std::function<std::shared_ptr<InferenceService>()> service;  // throws ApiError 503 while loading
  std::string upload_folder;
  size_t max_upload_bytes = 0;
  std::string allow_path;
};

void handle_classify(const ApiContext& context, const httplib::Request& request, httplib::Response& response,
                     const httplib::ContentReader& reader);
void handle_embeddings(const ApiContext& context, const httplib::Request& request, httplib::Response& response,
                       const httplib::ContentReader& reader);
void handle_search(const ApiContext& context, const httplib::Request& request, httplib::Response& response,
                   const httplib::ContentReader& reader);
void handle_models(const ApiContext& context, httplib::Response& response);
void handle_label_sets(httplib::Response& response);
void handle_label_set(const std::string& name, httplib::Response& response);

void send_json(httplib::Response& response, const nlohmann::json& body, int status = 200);

// Standard base64 (RFC 4648, padded), as OpenAI's encoding_format "base64" uses.
std::string base64_encode(const void* data, size_t size);

}  // namespace actionclip::serve
