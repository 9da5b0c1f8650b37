#include "actionclip/system/system_info.h"

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <thread>

#include "actionclip/system/cpu_features.h"
#include "actionclip/system/precision.h"

namespace actionclip {
namespace {

const char* quantized_engine_name(at::QEngine engine) {
  switch (engine) {
    case at::QEngine::FBGEMM: return "fbgemm";
    case at::QEngine::QNNPACK: return "qnnpack";
    case at::QEngine::ONEDNN: return "onednn";
    default: return nullptr;
  }
}

}  // namespace

nlohmann::json system_info() {
  const auto& cpu = cpu_features();
  const auto bf16 = decide_precision(Precision::BFloat16, c10::Device(c10::kCPU), cpu);
  nlohmann::json engines = nlohmann::json::array();
  for (const auto engine : at::globalContext().supportedQEngines())
    if (const char* name = quantized_engine_name(engine)) engines.push_back(name);
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
        {"openmp", at::hasOpenMP()},
        {"quantized_engines", engines}}},
      {"cuda", {{"available", torch::cuda::is_available()}, {"devices", torch::cuda::device_count()}}},
  };
  return info;
}

}  // namespace actionclip
