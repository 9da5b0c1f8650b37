#pragma once
// Which number format the encoders compute in, decided from what was asked and what the device
// can do fast. bf16 on a CPU without a bf16 matrix unit would take libtorch's generic bf16 GEMM,
// tens of times slower than float32 (seen: 60x on a Zen 3), so it runs float32 with a notice.
// int8 runs on libtorch's quantized engines, which are CPU-only: refused elsewhere.
#include <c10/core/Device.h>

#include <string>
#include <vector>

#include "actionclip/system/cpu_features.h"

namespace actionclip {

enum class Precision { Float32, BFloat16, Int8 };

// "fp32", "bf16" or "int8"; anything else is an Error naming the choices.
Precision precision_from_name(const std::string& name);
const char* precision_name(Precision precision);

struct PrecisionDecision {
  Precision requested = Precision::Float32;
  Precision used = Precision::Float32;
  std::string notice;  // one line for stderr when `used` differs from `requested`, else empty
  std::string int8_engine;  // the quantized engine int8 runs on (preferred_int8_engine), when used
};

// int8 on a GPU, or with none of the engines int8 runs on among `quantized_engines`, is an Error
// saying why.
PrecisionDecision decide_precision(Precision requested, const c10::Device& device, const CpuFeatures& cpu,
                                   const std::vector<std::string>& quantized_engines);
// With this libtorch's quantized engines.
PrecisionDecision decide_precision(Precision requested, const c10::Device& device, const CpuFeatures& cpu);
// The same for this machine's CPU.
PrecisionDecision decide_precision(Precision requested, const c10::Device& device);

}  // namespace actionclip
