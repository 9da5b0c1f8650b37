#pragma once
// Which number format the encoders compute in, decided from what was asked and what the device
// can do fast. bf16 on a CPU without a bf16 matrix unit would take libtorch's generic bf16 GEMM,
// tens of times slower than float32 (seen: 60x on a Zen 3), so it runs float32 with a notice.
#include <c10/core/Device.h>

#include <string>

#include "actionclip/system/cpu_features.h"

namespace actionclip {

enum class Precision { Float32, BFloat16 };

// "fp32" or "bf16"; anything else is an Error naming the choices.
Precision precision_from_name(const std::string& name);
const char* precision_name(Precision precision);

struct PrecisionDecision {
  Precision requested = Precision::Float32;
  Precision used = Precision::Float32;
  std::string notice;  // one line for stderr when `used` differs from `requested`, else empty
};

PrecisionDecision decide_precision(Precision requested, const c10::Device& device, const CpuFeatures& cpu);
// The same for this machine's CPU.
PrecisionDecision decide_precision(Precision requested, const c10::Device& device);

}  // namespace actionclip
