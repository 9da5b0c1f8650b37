#include "actionclip/system/cpu_features.h"

#include <cpuinfo.h>

#include <sstream>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace actionclip {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// Extensions Debian's cpuinfo (2022) predates: AVX-VNNI (leaf 7.1 EAX bit 4) and AMX (leaf 7.0
// EDX bits 22, 24, 25). AMX is usable only where the OS enables tile state (XCR0 bits 17-18).
void add_newer_x86_features(CpuFeatures& cpu) {
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid_max(0, nullptr) < 7) return;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool amx_bf16 = edx & (1u << 22), amx_tile = edx & (1u << 24), amx_int8 = edx & (1u << 25);
  const unsigned max_subleaf = eax;
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    cpu.avx_vnni = eax & (1u << 4);
  }
  if (amx_tile) {
    __cpuid(1, eax, ebx, ecx, edx);
    const bool osxsave = ecx & (1u << 27);
    if (osxsave) {
      unsigned xcr0_low, xcr0_high;
      __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
      const unsigned tile_state = (1u << 17) | (1u << 18);
      if ((xcr0_low & tile_state) == tile_state) {
        cpu.amx_tile = true;
        cpu.amx_bf16 = amx_bf16;
        cpu.amx_int8 = amx_int8;
      }
    }
  }
}
#endif

CpuFeatures detect() {
  CpuFeatures cpu;
  cpu.model = "unknown";
  cpu.logical_processors = static_cast<int>(std::thread::hardware_concurrency());
  if (!cpuinfo_initialize()) return cpu;
  if (const auto* package = cpuinfo_get_package(0); package && package->name[0]) cpu.model = package->name;
  cpu.cores = static_cast<int>(cpuinfo_get_cores_count());
  cpu.logical_processors = static_cast<int>(cpuinfo_get_processors_count());
#if defined(__x86_64__) || defined(__i386__)
  cpu.avx2 = cpuinfo_has_x86_avx2();
  cpu.fma = cpuinfo_has_x86_fma3();
  cpu.f16c = cpuinfo_has_x86_f16c();
  cpu.avx512f = cpuinfo_has_x86_avx512f();
  cpu.avx512bw = cpuinfo_has_x86_avx512bw();
  cpu.avx512vl = cpuinfo_has_x86_avx512vl();
  cpu.avx512dq = cpuinfo_has_x86_avx512dq();
  cpu.avx512_vnni = cpuinfo_has_x86_avx512vnni();
  cpu.avx512_bf16 = cpuinfo_has_x86_avx512bf16();
  add_newer_x86_features(cpu);
#endif
  return cpu;
}

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
  const std::pair<bool, const char*> flags[] = {
      {avx2, "avx2"},         {fma, "fma"},           {f16c, "f16c"},
      {avx512f, "avx512f"},   {avx512bw, "avx512bw"}, {avx512vl, "avx512vl"},
      {avx512dq, "avx512dq"}, {avx512_vnni, "avx512_vnni"}, {avx512_bf16, "avx512_bf16"},
      {avx_vnni, "avx_vnni"}, {amx_tile, "amx_tile"}, {amx_bf16, "amx_bf16"},
      {amx_int8, "amx_int8"},
  };
  std::vector<std::string> present;
  for (const auto& [has, name] : flags)
    if (has) present.emplace_back(name);
  return present;
}

std::string CpuFeatures::describe() const {
  std::ostringstream out;
  out << model << ", " << cores << " cores (" << logical_processors << " threads);";
  for (const auto& name : names()) out << " " << name;
  return out.str();
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures detected = detect();
  return detected;
}

}  // namespace actionclip
