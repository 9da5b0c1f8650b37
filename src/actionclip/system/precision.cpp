#include "actionclip/system/precision.h"

#include "actionclip/util/error.h"

namespace actionclip {

Precision precision_from_name(const std::string& name) {
  if (name == "fp32") return Precision::Float32;
  if (name == "bf16") return Precision::BFloat16;
  throw Error("unknown precision '" + name + "' (use fp32 or bf16)");
}

const char* precision_name(Precision precision) { return precision == Precision::BFloat16 ? "bf16" : "fp32"; }

PrecisionDecision decide_precision(Precision requested, const c10::Device& device, const CpuFeatures& cpu) {
  PrecisionDecision decision{requested, requested, ""};
  if (requested == Precision::BFloat16 && device.is_cpu() && !cpu.native_bf16()) {
    decision.used = Precision::Float32;
    decision.notice = "bf16 requested, but this CPU (" + cpu.model +
                      ") has no bf16 matrix unit (AVX512_BF16 or AMX), where bf16 is many times slower than "
                      "float32: running float32";
  }
  return decision;
}

PrecisionDecision decide_precision(Precision requested, const c10::Device& device) {
  return decide_precision(requested, device, cpu_features());
}

}  // namespace actionclip
