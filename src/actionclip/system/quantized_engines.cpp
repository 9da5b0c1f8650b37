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

std::string preferred_int8_engine(const std::vector<std::string>& engines) {
  for (const char* preferred : {"fbgemm", "qnnpack"})
    if (std::find(engines.begin(), engines.end(), preferred) != engines.end()) return preferred;
  return "";
}

const std::string& activate_int8_engine() {
  static const std::string chosen = [] {
    auto name = preferred_int8_engine(available_quantized_engines());
    if (name.empty()) throw Error("int8 inference needs libtorch's fbgemm or qnnpack quantized engine; this build has neither");
    at::globalContext().setQEngine(name == "fbgemm" ? at::QEngine::FBGEMM : at::QEngine::QNNPACK);
    return name;
  }();
  return chosen;
}

}  // namespace actionclip
