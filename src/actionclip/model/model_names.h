#pragma once
// OpenAI's released CLIP models by name (`network.arch: ViT-B/32`, `--model ViT-B/32`): the URLs
// and SHA-256s openai/CLIP publishes for them, and the local model cache they are kept in, under
// the file names their URLs end with.
#include <optional>
#include <string>
#include <vector>

namespace actionclip {

struct ReleasedModel {
  std::string name;       // as openai/CLIP's clip.available_models() lists it: "ViT-B/32"
  std::string file_name;  // the last part of its download URL: "ViT-B-32.pt"
  std::string sha256;     // the file's SHA-256, the URL's part before the file name
  std::string url;        // where OpenAI publishes it (clip/clip.py's _MODELS)
};

// RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px.
const std::vector<ReleasedModel>& released_models();

// The tokenizer every released model uses: bpe_simple_vocab_16e6.txt.gz from openai/CLIP's
// repository, fetched beside a model downloaded by name (where load_model looks for it).
const ReleasedModel& released_tokenizer();

// The released model a name means: OpenAI's ("ViT-L/14@336px") or its file's stem
// ("ViT-L-14-336px"); nullptr for anything else (paths, "ViT-B-32.pt" included).
const ReleasedModel* find_released_model_by_name(const std::string& name);

// The file name for a released model's name; nullopt for anything else.
std::optional<std::string> released_model_file_name(const std::string& name);

// $ACTIONCLIP_CACHE/models (default ~/.cache/actionclip/models).
std::string model_cache_dir();

// Where a released model is downloaded to: model_cache_dir()/<file name>.
std::string released_model_cache_path(const ReleasedModel& model);

// The released model's file if it is there: model_cache_dir()/<file name>, else
// ~/.cache/clip/<file name> (where openai/CLIP and the ActionCLIP code download it). A file
// there is used as it is (its hash was checked when it was downloaded).
std::optional<std::string> find_cached_model(const ReleasedModel& model);

// The file resolve_model_name would use without downloading, or nullopt when the name is not a
// released model or its file is in neither folder.
std::optional<std::string> find_released_model(const std::string& name);

// A released model's name -> its file (find_cached_model), downloaded into the model cache when
// it is in neither folder (download/model_download.h). Any other name (a path) is returned
// unchanged.
std::string resolve_model_name(const std::string& name_or_path);

}  // namespace actionclip
