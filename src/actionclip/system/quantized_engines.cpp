#include "actionclip/system/quantized_engines.h"

#include <ATen/Context.h>

#include <algorithm>

#include "actionclip/util/error.h"

namespace actionclip {
namespace {

const char* engine_name(at::QEngine engine) {
  switch (engine) {
    case at::QEngine::FBGEMM: return "fbgemm";
    case at::QEngine::QNNPACK: return "qnnpack";
    case at::QEngine::ONEDNN: return "onednn";
    default: return nullptr;
  }
}

}  // namespace

std::vector<std::string> available_quantized_engines() {
  std::vector<std::string> names;
  for (const auto engine : at::globalContext().supportedQEngines())
    if (const char* name = engine_name(engine)) names.emplace_back(name);
  return names;
}

std::string preferred_int8_engine(const std::vector<std::string>& engines, const CpuFeatures& cpu) {
  auto has = [&](const char* name) { return std::find(engines.begin(), engines.end(), name) != engines.end(); };
  if (has("fbgemm")) return "fbgemm";
  if (has("onednn") && cpu.native_int8_dot()) return "onednn";
  if (has("qnnpack")) return "qnnpack";
  if (has("onednn")) return "onednn";
  return "";
}

const std::string& activate_int8_engine() {
  static const std::string chosen = [] {
    auto name = preferred_int8_engine(available_quantized_engines(), cpu_features());
    if (name.empty()) throw Error("int8 inference needs one of libtorch's quantized engines (fbgemm, onednn, qnnpack); this build has none");
    at::globalContext().setQEngine(name == "fbgemm"   ? at::QEngine::FBGEMM
                                   : name == "onednn" ? at::QEngine::ONEDNN
                                                      : at::QEngine::QNNPACK);
    return name;
  }();
  return chosen;
}

}  // namespace actionclip
