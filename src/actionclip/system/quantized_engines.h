#pragma once
// libtorch's quantized engines, which run int8 inference. PyTorch's own x86 builds have FBGEMM;
// Debian's libtorch has QNNPACK and oneDNN only. Which is fast depends on the CPU: oneDNN's int8
// kernels use VNNI's dot products where the CPU has them (measured 2.4-3x its float32 GEMM at the
// encoder's shapes on a Xeon with AVX512_VNNI), but on an AVX2 CPU without VNNI they ran 0.8x and
// QNNPACK's 1.45x. So: FBGEMM where present, else oneDNN on VNNI/AMX CPUs, else QNNPACK, else oneDNN.
#include <string>
#include <vector>

#include "actionclip/system/cpu_features.h"

namespace actionclip {

// The engines this libtorch build has ("fbgemm", "qnnpack", "onednn"), in libtorch's order.
std::vector<std::string> available_quantized_engines();

// The engine int8 inference uses among `engines` on `cpu` (the order above); empty when none.
std::string preferred_int8_engine(const std::vector<std::string>& engines, const CpuFeatures& cpu);

// Makes this build's preferred engine on this machine's CPU libtorch's current one (weights are packed for the engine
// current when they are packed) and returns its name; an Error when there is none.
const std::string& activate_int8_engine();

}  // namespace actionclip
