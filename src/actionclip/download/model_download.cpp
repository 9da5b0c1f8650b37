#include "actionclip/download/model_download.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "actionclip/model/model_io.h"

namespace actionclip {
namespace {

bool tokenizer_available(const std::string& model_path) {
  try {
    find_bpe_file("", model_path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

std::string released_model_url(const ReleasedModel& model) {
  const char* base = std::getenv("ACTIONCLIP_MODEL_BASE_URL");
  if (!base || !*base) return model.url;
  std::string mirror = base;
  while (!mirror.empty() && mirror.back() == '/') mirror.pop_back();
  const auto host_start = model.url.find("://") + 3;
  return mirror + model.url.substr(model.url.find('/', host_start));
}

std::string download_released_model(const ReleasedModel& model, const DownloadOptions& options) {
  namespace fs = std::filesystem;
  // The tokenizer is not in OpenAI's model files: unless load_model finds one already
  // (ACTIONCLIP_BPE, installed), it is fetched beside them.
  std::vector<const ReleasedModel*> missing;
  if (!tokenizer_available(released_model_cache_path(model))) missing.push_back(&released_tokenizer());
  missing.push_back(&model);
  for (const auto* file : missing) {
    auto labelled = options;
    if (labelled.label.empty()) labelled.label = file->name;
    try {
      download_verified(released_model_url(*file), released_model_cache_path(*file), file->sha256, labelled);
    } catch (const DownloadError& e) {
      std::string message = "CLIP model " + model.name + " is not in the model cache (" + model_cache_dir() + "): " + e.what();
      if (e.kind() == DownloadError::Kind::Offline || e.kind() == DownloadError::Kind::Unreachable) {
        for (const auto* other : missing)
          if (other != file && !fs::exists(released_model_cache_path(*other)))
            message += ", and " + released_model_url(*other) + " at " + released_model_cache_path(*other);
        message += " (ACTIONCLIP_CACHE sets the cache folder, ACTIONCLIP_MODEL_BASE_URL a mirror); or give a weights "
                   "file's path instead of the name";
      }
      throw DownloadError(e.kind(), message);
    }
  }
  return released_model_cache_path(model);
}

}  // namespace actionclip
