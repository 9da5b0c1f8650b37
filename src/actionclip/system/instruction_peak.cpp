#include "actionclip/system/instruction_peak.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <functional>

namespace actionclip {
namespace {

// Enough independent accumulators to cover each instruction's latency on current cores (and few
// enough for 16 vector registers). The empty asm statements make an input opaque after each use,
// so the compiler can neither fold the work nor share it between accumulators.
constexpr int kChains = kInstructionPeakChains;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Operations per second of `loop(steps)`, which does `ops_per_step` operations each step.
double rate(const std::function<void(long long)>& loop, double ops_per_step, double seconds) {
  long long steps = 1 << 16;
  loop(steps);  // warm-up: wakes the vector units (some CPUs run them slower until then)
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    loop(steps);
    const double took = seconds_since(start);
    if (took >= seconds || steps > (1LL << 40)) return ops_per_step * static_cast<double>(steps) / took;
    steps = static_cast<long long>(static_cast<double>(steps) * std::min(16.0, 1.2 * seconds / std::max(took, 1e-6)));
  }
}

__attribute__((target("avx2,fma"))) double avx2_fma(long long steps) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  __m256 one = _mm256_set1_ps(1.0f);
  asm volatile("" : "+x"(one));
  for (long long n = 0; n < steps; ++n)
    for (auto& a : acc) a = _mm256_fmadd_ps(a, one, one);
  double sum = 0;
  for (auto& a : acc) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, a);
    for (float lane : lanes) sum += lane;
  }
  return sum;
}

__attribute__((target("avx2"))) long long avx2_int8(long long steps) {
  __m256i acc[kChains];
  for (auto& a : acc) a = _mm256_setzero_si256();
  __m256i x = _mm256_set1_epi8(kInstructionPeakUnsigned);
  const __m256i y = _mm256_set1_epi8(kInstructionPeakSigned), ones = _mm256_set1_epi16(1);
  for (long long n = 0; n < steps; ++n)
    for (auto& a : acc) {
      a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones));
      asm volatile("" : "+x"(x));
    }
  long long sum = 0;
  for (auto& a : acc) {
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
    for (int32_t lane : lanes) sum += lane;
  }
  return sum;
}

__attribute__((target("avxvnni"))) long long avx_vnni_int8(long long steps) {
  __m256i acc[kChains];
  for (auto& a : acc) a = _mm256_setzero_si256();
  __m256i x = _mm256_set1_epi8(kInstructionPeakUnsigned);
  const __m256i y = _mm256_set1_epi8(kInstructionPeakSigned);
  for (long long n = 0; n < steps; ++n)
    for (auto& a : acc) {
      a = _mm256_dpbusd_avx_epi32(a, x, y);
      asm volatile("" : "+x"(x));
    }
  return _mm256_extract_epi32(acc[0], 0);
}

__attribute__((target("avx512f"))) double avx512_fma(long long steps) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512 one = _mm512_set1_ps(1.0f);
  asm volatile("" : "+v"(one));
  for (long long n = 0; n < steps; ++n)
    for (auto& a : acc) a = _mm512_fmadd_ps(a, one, one);
  double sum = 0;
  for (auto& a : acc) sum += _mm512_reduce_add_ps(a);
  return sum;
}

__attribute__((target("avx512f,avx512bw"))) long long avx512bw_int8(long long steps) {
  __m512i acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_si512();
  __m512i x = _mm512_set1_epi8(kInstructionPeakUnsigned);
  const __m512i y = _mm512_set1_epi8(kInstructionPeakSigned), ones = _mm512_set1_epi16(1);
  for (long long n = 0; n < steps; ++n)
    for (auto& a : acc) {
      a = _mm512_add_epi32(a, _mm512_madd_epi16(_mm512_maddubs_epi16(x, y), ones));
      asm volatile("" : "+v"(x));
    }
  return _mm512_reduce_add_epi32(acc[0]);
}

__attribute__((target("avx512f,avx512vnni"))) long long avx512_vnni_int8(long long steps) {
  __m512i acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_si512();
  __m512i x = _mm512_set1_epi8(kInstructionPeakUnsigned);
  const __m512i y = _mm512_set1_epi8(kInstructionPeakSigned);
  for (long long n = 0; n < steps; ++n)
    for (auto& a : acc) {
      a = _mm512_dpbusd_epi32(a, x, y);
      asm volatile("" : "+v"(x));
    }
  return _mm512_reduce_add_epi32(acc[0]);
}

}  // namespace

long long avx2_int8_dot_checksum(long long steps) { return avx2_int8(steps); }
double avx2_fma_checksum(long long steps) { return avx2_fma(steps); }

InstructionPeak measure_instruction_peak(const CpuFeatures& cpu, double seconds) {
  InstructionPeak peak;
  if (!cpu.avx2 || !cpu.fma) return peak;
  // Multiply-adds per step, times 2 operations each.
  constexpr double kYmmOps = 2.0 * kChains * 8, kZmmOps = 2.0 * kChains * 16;
  constexpr double kYmmInt8Ops = 2.0 * kChains * 32, kZmmInt8Ops = 2.0 * kChains * 64;
  if (cpu.avx512f) {
    peak.float32_instructions = "vfmadd (AVX-512)";
    peak.float32_gflops = rate([](long long n) { avx512_fma(n); }, kZmmOps, seconds) / 1e9;
  } else {
    peak.float32_instructions = "vfmadd (AVX2)";
    peak.float32_gflops = rate([](long long n) { avx2_fma(n); }, kYmmOps, seconds) / 1e9;
  }
  if (cpu.avx512_vnni) {
    peak.int8_instructions = "vpdpbusd (AVX512-VNNI)";
    peak.int8_gops = rate([](long long n) { avx512_vnni_int8(n); }, kZmmInt8Ops, seconds) / 1e9;
  } else if (cpu.avx_vnni) {
    peak.int8_instructions = "vpdpbusd (AVX-VNNI)";
    peak.int8_gops = rate([](long long n) { avx_vnni_int8(n); }, kYmmInt8Ops, seconds) / 1e9;
  } else if (cpu.avx512bw) {
    peak.int8_instructions = "vpmaddubsw + vpmaddwd (AVX-512BW)";
    peak.int8_gops = rate([](long long n) { avx512bw_int8(n); }, kZmmInt8Ops, seconds) / 1e9;
  } else {
    peak.int8_instructions = "vpmaddubsw + vpmaddwd (AVX2)";
    peak.int8_gops = rate([](long long n) { avx2_int8(n); }, kYmmInt8Ops, seconds) / 1e9;
  }
  return peak;
}

}  // namespace actionclip
