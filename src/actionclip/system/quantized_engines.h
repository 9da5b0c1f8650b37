#pragma once
// libtorch's quantized engines, which run int8 inference. PyTorch's own x86 builds have FBGEMM;
// Debian's libtorch has QNNPACK and oneDNN only. On the AVX2 machine this project measured,
// QNNPACK's dynamic int8 linear was 1.45x oneDNN's float32 GEMM at the encoder's shapes and
// oneDNN's own int8 one 0.8x, so int8 runs on FBGEMM where present, else QNNPACK, never oneDNN.
#include <string>
#include <vector>

namespace actionclip {

// The engines this libtorch build has ("fbgemm", "qnnpack", "onednn"), in libtorch's order.
std::vector<std::string> available_quantized_engines();

// The engine int8 inference uses among `engines`: fbgemm, else qnnpack; empty when neither.
std::string preferred_int8_engine(const std::vector<std::string>& engines);

// Makes this build's preferred engine libtorch's current one (weights are packed for the engine
// current when they are packed) and returns its name; an Error when there is none.
const std::string& activate_int8_engine();

}  // namespace actionclip
