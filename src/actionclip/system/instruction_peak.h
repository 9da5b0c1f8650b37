#pragma once
// The most one core's vector units can do, measured: float32 FMAs against the int8
// multiply-accumulate sequence that int8 GEMM kernels are built from on this CPU. No int8 kernel
// can beat float32 by more than the ratio of the two, so it says, before any engine is blamed,
// what int8 can gain here: with VNNI one instruction does 4 products and the sum; plain AVX2
// needs vpmaddubsw (pairs, into int16) and vpmaddwd (into int32), and on some CPUs that pair is no
// faster than an FMA.
#include <string>

#include "actionclip/system/cpu_features.h"

namespace actionclip {

struct InstructionPeak {
  std::string float32_instructions;  // "vfmadd (AVX2, 256-bit)"
  std::string int8_instructions;     // "vpmaddubsw + vpmaddwd (AVX2)", "vpdpbusd (AVX512-VNNI)", ...
  double float32_gflops = 0;         // one core, 2 FLOPs per multiply-add
  double int8_gops = 0;              // one core, 2 ops per multiply-add
  bool measured() const { return float32_gflops > 0 && int8_gops > 0; }
};

// Each figure runs its loop for about `seconds` on the calling thread. On CPUs without AVX2 nothing
// is measured (measured() is false).
InstructionPeak measure_instruction_peak(const CpuFeatures& cpu, double seconds = 0.2);

// The loops themselves, for tests: `steps` rounds over kInstructionPeakChains accumulators,
// returning the sum of all their lanes. int8: each int32 lane adds 4 products of the unsigned and
// the signed byte per round; float32: each lane starts at its accumulator's index and adds 1 per
// round.
enum class PeakLoop { Avx2Fma, Avx512Fma, Avx2Int8, AvxVnniInt8, Avx512BwInt8, Avx512VnniInt8 };
constexpr int kInstructionPeakChains = 10;
constexpr char kInstructionPeakUnsigned = 3, kInstructionPeakSigned = -2;
struct PeakLoopShape {
  bool int8;  // else float32 FMAs
  int lanes;  // 32-bit lanes per register: 8 (256-bit) or 16 (512-bit)
};
PeakLoopShape peak_loop_shape(PeakLoop loop);
bool peak_loop_runs_on(PeakLoop loop, const CpuFeatures& cpu);
double peak_loop_checksum(PeakLoop loop, long long steps);

}  // namespace actionclip
