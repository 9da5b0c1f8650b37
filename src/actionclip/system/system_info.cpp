#include "actionclip/system/system_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <thread>

#include "actionclip/system/cpu_features.h"
#include "actionclip/system/openblas_core.h"
#include "actionclip/system/precision.h"
#include "actionclip/system/quantized_engines.h"

namespace actionclip {

nlohmann::json system_info() {
  const auto& cpu = cpu_features();
  const auto bf16 = decide_precision(Precision::BFloat16, c10::Device(c10::kCPU), cpu);
  const auto engines = available_quantized_engines();
  nlohmann::json info = {
      {"cpu",
       {{"model", cpu.model},
        {"cores", cpu.cores},
        {"logical_processors", cpu.logical_processors},
        {"features", cpu.names()},
        {"native_bf16", cpu.native_bf16()},
        {"native_int8_dot", cpu.native_int8_dot()},
        {"bf16_runs_as", precision_name(bf16.used)}}},
      {"libtorch",
       {{"version", TORCH_VERSION},
        {"threads", at::get_num_threads()},
        {"onednn", at::hasMKLDNN()},
        {"openblas_core", openblas_core()},
        {"openmp", at::hasOpenMP()},
        {"quantized_engines", engines},
        {"int8_engine", preferred_int8_engine(engines, cpu)}}},
      {"cuda", {{"available", torch::cuda::is_available()}, {"devices", torch::cuda::device_count()}}},
  };
  return info;
}

}  // namespace actionclip
