#include "actionclip/model/model_names.h"

#include <cstdlib>
#include <filesystem>

#include "actionclip/download/model_download.h"
#include "actionclip/util/cache_dir.h"

namespace actionclip {
namespace fs = std::filesystem;

namespace {

ReleasedModel published(const std::string& name, const std::string& sha256, const std::string& file_name) {
  return {name, file_name, sha256, "https://openaipublic.azureedge.net/clip/models/" + sha256 + "/" + file_name};
}

std::string file_stem(const ReleasedModel& model) { return fs::path(model.file_name).stem().string(); }

}  // namespace

// openai/CLIP's clip/clip.py, _MODELS.
const std::vector<ReleasedModel>& released_models() {
  static const std::vector<ReleasedModel> models = {
      published("RN50", "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", "RN50.pt"),
      published("RN101", "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599", "RN101.pt"),
      published("RN50x4", "7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd", "RN50x4.pt"),
      published("RN50x16", "52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa", "RN50x16.pt"),
      published("RN50x64", "be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c", "RN50x64.pt"),
      published("ViT-B/32", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af", "ViT-B-32.pt"),
      published("ViT-B/16", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f", "ViT-B-16.pt"),
      published("ViT-L/14", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836", "ViT-L-14.pt"),
      published("ViT-L/14@336px", "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02", "ViT-L-14-336px.pt"),
  };
  return models;
}

const ReleasedModel& released_tokenizer() {
  static const ReleasedModel tokenizer = {
      "CLIP's tokenizer", "bpe_simple_vocab_16e6.txt.gz", "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a",
      "https://raw.githubusercontent.com/openai/CLIP/main/clip/bpe_simple_vocab_16e6.txt.gz"};
  return tokenizer;
}

const ReleasedModel* find_released_model_by_name(const std::string& name) {
  for (const auto& model : released_models())
    if (model.name == name || file_stem(model) == name) return &model;
  return nullptr;
}

std::optional<std::string> released_model_file_name(const std::string& name) {
  if (const auto* model = find_released_model_by_name(name)) return model->file_name;
  return std::nullopt;
}

std::string model_cache_dir() {
  const auto base = default_cache_dir();
  return (fs::path(base.empty() ? "." : base) / "models").string();
}

std::string released_model_cache_path(const ReleasedModel& model) {
  return (fs::path(model_cache_dir()) / model.file_name).string();
}

std::optional<std::string> find_cached_model(const ReleasedModel& model) {
  std::vector<fs::path> candidates = {released_model_cache_path(model)};
  if (const char* home = std::getenv("HOME")) candidates.push_back(fs::path(home) / ".cache" / "clip" / model.file_name);
  for (const auto& candidate : candidates)
    if (fs::is_regular_file(candidate)) return candidate.string();
  return std::nullopt;
}

std::optional<std::string> find_released_model(const std::string& name) {
  const auto* model = find_released_model_by_name(name);
  return model ? find_cached_model(*model) : std::nullopt;
}

std::string resolve_model_name(const std::string& name_or_path) {
  const auto* model = find_released_model_by_name(name_or_path);
  if (!model) return name_or_path;
  if (auto found = find_cached_model(*model)) return *found;
  return download_released_model(*model);
}

}  // namespace actionclip
