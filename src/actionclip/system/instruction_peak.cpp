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
    if (took >= seconds || steps > (1LL << 40)) {
      // The fastest of three: a peak, and on shared machines (VMs) single runs vary by 1.5x.
      double fastest = took;
      for (int again = 0; again < 2; ++again) {
        const auto restart = std::chrono::steady_clock::now();
        loop(steps);
        fastest = std::min(fastest, seconds_since(restart));
      }
      return ops_per_step * static_cast<double>(steps) / fastest;
    }
    steps = static_cast<long long>(static_cast<double>(steps) * std::min(16.0, 1.2 * seconds / std::max(took, 1e-6)));
  }
}

// Every accumulator ends in the result, so none of their chains is dead code.
__attribute__((target("avx2"))) long long sum_lanes(const __m256i (&acc)[kChains]) {
  long long sum = 0;
  for (const auto& a : acc) {
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
    for (int32_t lane : lanes) sum += lane;
  }
  return sum;
}

// (Stored and added here: GCC 12's _mm512_reduce_add_* warn of uninitialized values.)
__attribute__((target("avx512f"))) long long sum_lanes(const __m512i (&acc)[kChains]) {
  long long sum = 0;
  for (const auto& a : acc) {
    alignas(64) int32_t lanes[16];
    _mm512_store_si512(lanes, a);
    for (int32_t lane : lanes) sum += lane;
  }
  return sum;
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
  return sum_lanes(acc);
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
  return sum_lanes(acc);
}

__attribute__((target("avx512f"))) double avx512_fma(long long steps) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512 one = _mm512_set1_ps(1.0f);
  asm volatile("" : "+v"(one));
  for (long long n = 0; n < steps; ++n)
    for (auto& a : acc) a = _mm512_fmadd_ps(a, one, one);
  double sum = 0;
  for (auto& a : acc) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, a);
    for (float lane : lanes) sum += lane;
  }
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
  return sum_lanes(acc);
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
  return sum_lanes(acc);
}

}  // namespace

PeakLoopShape peak_loop_shape(PeakLoop loop) {
  switch (loop) {
    case PeakLoop::Avx2Fma: return {false, 8};
    case PeakLoop::Avx512Fma: return {false, 16};
    case PeakLoop::Avx2Int8:
    case PeakLoop::AvxVnniInt8: return {true, 8};
    default: return {true, 16};
  }
}

bool peak_loop_runs_on(PeakLoop loop, const CpuFeatures& cpu) {
  switch (loop) {
    case PeakLoop::Avx2Fma: return cpu.avx2 && cpu.fma;
    case PeakLoop::Avx512Fma: return cpu.avx512f;
    case PeakLoop::Avx2Int8: return cpu.avx2;
    case PeakLoop::AvxVnniInt8: return cpu.avx_vnni;
    case PeakLoop::Avx512BwInt8: return cpu.avx512f && cpu.avx512bw;
    default: return cpu.avx512f && cpu.avx512_vnni;
  }
}

double peak_loop_checksum(PeakLoop loop, long long steps) {
  switch (loop) {
    case PeakLoop::Avx2Fma: return avx2_fma(steps);
    case PeakLoop::Avx512Fma: return avx512_fma(steps);
    case PeakLoop::Avx2Int8: return static_cast<double>(avx2_int8(steps));
    case PeakLoop::AvxVnniInt8: return static_cast<double>(avx_vnni_int8(steps));
    case PeakLoop::Avx512BwInt8: return static_cast<double>(avx512bw_int8(steps));
    default: return static_cast<double>(avx512_vnni_int8(steps));
  }
}

namespace {

// Operations per second of one loop. The result goes to a volatile, so no call can be dropped as
// unused (a pure function's discarded result may be, inlined or not).
volatile double g_loop_result;

double loop_rate(PeakLoop loop, double seconds) {
  const auto shape = peak_loop_shape(loop);
  const double ops_per_step = 2.0 * kChains * shape.lanes * (shape.int8 ? 4 : 1);
  return rate([loop](long long steps) { g_loop_result = peak_loop_checksum(loop, steps); }, ops_per_step, seconds);
}

const char* loop_instructions(PeakLoop loop) {
  switch (loop) {
    case PeakLoop::Avx2Fma: return "vfmadd (AVX2)";
    case PeakLoop::Avx512Fma: return "vfmadd (AVX-512)";
    case PeakLoop::Avx2Int8: return "vpmaddubsw + vpmaddwd (AVX2)";
    case PeakLoop::AvxVnniInt8: return "vpdpbusd (AVX-VNNI)";
    case PeakLoop::Avx512BwInt8: return "vpmaddubsw + vpmaddwd (AVX-512BW)";
    default: return "vpdpbusd (AVX512-VNNI)";
  }
}

}  // namespace

InstructionPeak measure_instruction_peak(const CpuFeatures& cpu, double seconds) {
  InstructionPeak peak;
  if (!peak_loop_runs_on(PeakLoop::Avx2Fma, cpu)) return peak;
  // The widest of each kind that this CPU runs; for int8 the sequence its GEMM kernels use.
  const auto float32 = peak_loop_runs_on(PeakLoop::Avx512Fma, cpu) ? PeakLoop::Avx512Fma : PeakLoop::Avx2Fma;
  auto int8 = PeakLoop::Avx2Int8;
  for (const auto wider : {PeakLoop::Avx512BwInt8, PeakLoop::AvxVnniInt8, PeakLoop::Avx512VnniInt8})
    if (peak_loop_runs_on(wider, cpu)) int8 = wider;
  peak.float32_instructions = loop_instructions(float32);
  peak.float32_gflops = loop_rate(float32, seconds) / 1e9;
  peak.int8_instructions = loop_instructions(int8);
  peak.int8_gops = loop_rate(int8, seconds) / 1e9;
  return peak;
}

}  // namespace actionclip
