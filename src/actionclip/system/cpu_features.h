#pragma once
// What this CPU can do fast, detected once at run time: the SIMD and matrix extensions that
// decide which precision is quick here (a build runs on many CPUs, so compile-time flags tell
// nothing). Read through cpuinfo (the library libtorch itself uses), with cpuid for the
// extensions newer than Debian's cpuinfo (AVX-VNNI, AMX).
#include <string>
#include <vector>

namespace actionclip {

struct CpuFeatures {
  std::string model;  // "AMD EPYC 7B13", or "unknown"
  int cores = 0;      // physical cores
  int logical_processors = 0;
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false;
  bool avx_vnni = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;  // usable: the OS saves tile state

  // Matrix units that compute bf16 products natively (AVX512_BF16 dot products or AMX tiles);
  // without them libtorch's CPU bf16 matrix multiply is a generic loop, far slower than float32.
  bool native_bf16() const { return avx512_bf16 || amx_bf16; }
  // Integer dot-product instructions that int8 GEMM kernels use (VNNI, AMX-INT8).
  bool native_int8_dot() const { return avx512_vnni || avx_vnni || amx_int8; }
  // The present extensions, by their /proc/cpuinfo names (avx2, avx512f, avx512_bf16, amx_tile...).
  std::vector<std::string> names() const;
  // "AMD EPYC 7B13, 2 cores; avx2 fma f16c" — the line every benchmark prints.
  std::string describe() const;
};

// This machine's CPU, detected on first use.
const CpuFeatures& cpu_features();

}  // namespace actionclip
