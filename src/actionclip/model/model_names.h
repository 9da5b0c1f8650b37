#pragma once
// OpenAI's released CLIP models by name (`network.arch: ViT-B/32`, `--model ViT-B/32`), found in
// a local model cache under the file names their download URLs end with.
#include <optional>
#include <string>
#include <vector>

namespace actionclip {

struct ReleasedModel {
  std::string name;       // as openai/CLIP's clip.available_models() lists it: "ViT-B/32"
  std::string file_name;  // the last part of its download URL: "ViT-B-32.pt"
};

// RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px.
const std::vector<ReleasedModel>& released_models();

// The file name for a released model's name; nullopt for anything else (paths included).
std::optional<std::string> released_model_file_name(const std::string& name);

// $ACTIONCLIP_CACHE/models (default ~/.cache/actionclip/models).
std::string model_cache_dir();

// A released model's name -> its file: model_cache_dir()/<file name>, else ~/.cache/clip/<file
// name> (where openai/CLIP and the ActionCLIP code download it). A missing file is an Error that
// says where to put it. Any other name (a path) is returned unchanged.
std::string resolve_model_name(const std::string& name_or_path);

// The file resolve_model_name would use for a released model's name, or nullopt when the name is
// not a released model or its file is in neither folder.
std::optional<std::string> find_released_model(const std::string& name);

}  // namespace actionclip
