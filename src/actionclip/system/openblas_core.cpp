#include "actionclip/system/openblas_core.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace actionclip {

std::string openblas_core() {
  using CoreName = char* (*)();
  const auto name = reinterpret_cast<CoreName>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return name ? std::string(name()) : std::string();
}

std::string openblas_core_for(const CpuFeatures& cpu) {
  if (cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return "Haswell";
  return "";
}

bool openblas_core_is_fallback(const std::string& core, const CpuFeatures& cpu) {
  const auto wanted = openblas_core_for(cpu);
  if (core.empty() || wanted.empty()) return false;
  std::string name = core;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  // OpenBLAS's x86 kernels with AVX2 or more, by the names it reports; its own choice among them
  // (Zen's or Haswell's on some AVX-512 CPUs) is kept.
  for (const char* vectorized : {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"})
    if (name == vectorized) return false;
  return true;
}

void restart_with_vectorized_openblas(char** argv) {
  if (const char* named = std::getenv("OPENBLAS_CORETYPE"); named && *named) return;
  const auto& cpu = cpu_features();
  if (!openblas_core_is_fallback(openblas_core(), cpu)) return;
  ::setenv("OPENBLAS_CORETYPE", openblas_core_for(cpu).c_str(), 1);
  ::execv("/proc/self/exe", argv);
}

}  // namespace actionclip
