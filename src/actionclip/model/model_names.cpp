#include "actionclip/model/model_names.h"

#include <cstdlib>
#include <filesystem>

#include "actionclip/util/cache_dir.h"
#include "actionclip/util/error.h"

namespace actionclip {
namespace fs = std::filesystem;

const std::vector<ReleasedModel>& released_models() {
  static const std::vector<ReleasedModel> models = {
      {"RN50", "RN50.pt"},         {"RN101", "RN101.pt"},       {"RN50x4", "RN50x4.pt"},
      {"RN50x16", "RN50x16.pt"},   {"RN50x64", "RN50x64.pt"},   {"ViT-B/32", "ViT-B-32.pt"},
      {"ViT-B/16", "ViT-B-16.pt"}, {"ViT-L/14", "ViT-L-14.pt"}, {"ViT-L/14@336px", "ViT-L-14-336px.pt"},
  };
  return models;
}

std::optional<std::string> released_model_file_name(const std::string& name) {
  for (const auto& model : released_models())
    if (model.name == name) return model.file_name;
  return std::nullopt;
}

std::string model_cache_dir() {
  const auto base = default_cache_dir();
  return (fs::path(base.empty() ? "." : base) / "models").string();
}

namespace {

std::vector<fs::path> candidate_files(const std::string& file_name) {
  std::vector<fs::path> candidates = {fs::path(model_cache_dir()) / file_name};
  if (const char* home = std::getenv("HOME")) candidates.push_back(fs::path(home) / ".cache" / "clip" / file_name);
  return candidates;
}

}  // namespace

std::optional<std::string> find_released_model(const std::string& name) {
  const auto file_name = released_model_file_name(name);
  if (!file_name) return std::nullopt;
  for (const auto& candidate : candidate_files(*file_name))
    if (fs::is_regular_file(candidate)) return candidate.string();
  return std::nullopt;
}

std::string resolve_model_name(const std::string& name_or_path) {
  const auto file_name = released_model_file_name(name_or_path);
  if (!file_name) return name_or_path;
  if (auto found = find_released_model(name_or_path)) return *found;
  throw Error("CLIP model " + name_or_path + " is not in the local model cache: put OpenAI's " + *file_name + " at " +
              (fs::path(model_cache_dir()) / *file_name).string() +
              " (set ACTIONCLIP_CACHE to use another cache folder), or give the weights file's path");
}

}  // namespace actionclip
