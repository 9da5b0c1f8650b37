#include "actionclip/model/builtin_model.h"

#include <filesystem>

#include "actionclip/build_paths.h"
#include "actionclip/util/error.h"
#include "actionclip/util/install_paths.h"

namespace actionclip {
namespace fs = std::filesystem;

std::string builtin_model_path() {
  std::vector<fs::path> candidates;
  for (const auto& dir : installed_data_dirs()) candidates.push_back(dir / kBuiltinModelFile);
  candidates.push_back(fs::path(ACTIONCLIP_SOURCE_DIR) / "models" / "builtin" / kBuiltinModelFile);
  std::string looked;
  for (const auto& candidate : candidates) {
    if (fs::is_regular_file(candidate)) return candidate.string();
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  throw Error(std::string("the built-in model ") + kBuiltinModelFile + " is not installed (looked in " + looked +
              "); pass --model");
}

std::string builtin_model_notice() {
  return "actionclip: no --model given: using the built-in model, a tiny ActionCLIP trained on synthetic videos of "
         "coloured shapes moving (see `actionclip demo`); real videos need --model ViT-B/32 or another CLIP";
}

}  // namespace actionclip
