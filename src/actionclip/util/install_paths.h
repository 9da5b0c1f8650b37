#pragma once
// Where an installed actionclip keeps its data files (share/actionclip: the CLIP tokenizer).
#include <filesystem>
#include <vector>

namespace actionclip {

// The data folder beside the loaded library (<libdir>/../share/actionclip, as installed), so a
// package installed with `cmake --install --prefix P`, or moved, finds its files; then the
// folder of the prefix the build was configured for. Either may not exist.
std::vector<std::filesystem::path> installed_data_dirs();

}  // namespace actionclip
