#include "actionclip/system/precision.h"

#include "actionclip/system/quantized_engines.h"
#include "actionclip/util/error.h"

namespace actionclip {

Precision precision_from_name(const std::string& name) {
  if (name == "fp32") return Precision::Float32;
  if (name == "bf16") return Precision::BFloat16;
  if (name == "int8") return Precision::Int8;
  throw Error("unknown precision '" + name + "' (use fp32, bf16 or int8)");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::BFloat16: return "bf16";
    case Precision::Int8: return "int8";
    default: return "fp32";
  }
}

namespace {

std::string engine_list(const std::vector<std::string>& engines) {
  if (engines.empty()) return "none";
  std::string out;
  for (const auto& engine : engines) out += (out.empty() ? "" : ", ") + engine;
  return out;
}

}  // namespace

PrecisionDecision decide_precision(Precision requested, const c10::Device& device, const CpuFeatures& cpu,
                                   const std::vector<std::string>& quantized_engines) {
  PrecisionDecision decision{requested, requested, "", ""};
  if (requested == Precision::Int8) {
    if (!device.is_cpu())
      throw Error("int8 inference runs on CPUs only (libtorch's quantized engines), not on " + device.str() +
                  ": use --precision fp32 or bf16 there, or --device cpu");
    decision.int8_engine = preferred_int8_engine(quantized_engines, cpu);
    if (decision.int8_engine.empty())
      throw Error("int8 inference needs one of libtorch's quantized engines (fbgemm, onednn, qnnpack); this libtorch "
                  "build has " + engine_list(quantized_engines) + ": use --precision fp32");
    // QNNPACK is built for ARM; its x86 kernels are SSE2 and measured slower than float32 on an AVX2
    // CPU, and oneDNN's int8 kernels without VNNI slower still.
    if (decision.int8_engine == "qnnpack" && cpu.avx2)
      decision.notice = "int8 runs on libtorch's qnnpack engine here (this build has no fbgemm), whose x86 kernels are "
                        "slower than float32 on this CPU: int8 saves memory and file size, not time";
    if (decision.int8_engine == "onednn" && !cpu.native_int8_dot())
      decision.notice = "int8 runs on libtorch's onednn engine here, and this CPU (" + cpu.model +
                        ") has no int8 dot-product unit (VNNI or AMX): int8 saves memory and file size, not time";
  }
  if (requested == Precision::BFloat16 && device.is_cpu() && !cpu.native_bf16()) {
    decision.used = Precision::Float32;
    decision.notice = "bf16 requested, but this CPU (" + cpu.model +
                      ") has no bf16 matrix unit (AVX512_BF16 or AMX), where bf16 is many times slower than "
                      "float32: running float32";
  }
  return decision;
}

PrecisionDecision decide_precision(Precision requested, const c10::Device& device, const CpuFeatures& cpu) {
  return decide_precision(requested, device, cpu, available_quantized_engines());
}

PrecisionDecision decide_precision(Precision requested, const c10::Device& device) {
  return decide_precision(requested, device, cpu_features());
}

}  // namespace actionclip
