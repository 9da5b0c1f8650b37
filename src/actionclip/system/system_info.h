#pragma once
// What this machine and this build offer for running models: the CPU's features, the precisions
// that are fast here, libtorch's version and back-ends, and the CUDA devices (`info --system`).
#include <nlohmann/json.hpp>

namespace actionclip {

nlohmann::json system_info();

}  // namespace actionclip
