#include <gtest/gtest.h>

#include <cmath>

#include "actionclip/system/instruction_peak.h"

namespace {

#define REQUIRE_AVX2()                                                     \
  if (!actionclip::cpu_features().avx2 || !actionclip::cpu_features().fma) \
  GTEST_SKIP() << "this CPU has no AVX2/FMA"

// Every loop this CPU runs computes what its instructions should, over all its accumulators, so
// the rates are of real multiply-adds (a loop left with dead chains measured 4x VNNI's peak).
TEST(InstructionPeak, LoopsComputeTheirProducts) {
  REQUIRE_AVX2();
  using actionclip::kInstructionPeakChains;
  using actionclip::PeakLoop;
  constexpr long long kSteps = 1000, kBytesPerLane = 4;
  const long long product = static_cast<long long>(actionclip::kInstructionPeakUnsigned) *
                            static_cast<long long>(actionclip::kInstructionPeakSigned);
  int tested = 0;
  for (const auto loop : {PeakLoop::Avx2Fma, PeakLoop::Avx512Fma, PeakLoop::Avx2Int8, PeakLoop::AvxVnniInt8,
                          PeakLoop::Avx512BwInt8, PeakLoop::Avx512VnniInt8}) {
    if (!actionclip::peak_loop_runs_on(loop, actionclip::cpu_features())) continue;
    const auto shape = actionclip::peak_loop_shape(loop);
    double expected = 0;
    if (shape.int8) {
      expected = static_cast<double>(kSteps * kInstructionPeakChains * shape.lanes * kBytesPerLane * product);
    } else {
      for (int chain = 0; chain < kInstructionPeakChains; ++chain) expected += shape.lanes * chain;
      expected += static_cast<double>(kSteps * kInstructionPeakChains * shape.lanes);
    }
    EXPECT_EQ(actionclip::peak_loop_checksum(loop, kSteps), expected) << "loop " << static_cast<int>(loop);
    ++tested;
  }
  EXPECT_GE(tested, 2);
}

TEST(InstructionPeak, MeasuresBothRatesWithTheInstructionsNamed) {
  REQUIRE_AVX2();
  const auto peak = actionclip::measure_instruction_peak(actionclip::cpu_features(), 0.02);
  ASSERT_TRUE(peak.measured());
  EXPECT_TRUE(std::isfinite(peak.float32_gflops));
  EXPECT_TRUE(std::isfinite(peak.int8_gops));
  EXPECT_NE(peak.float32_instructions.find("vfmadd"), std::string::npos);
  EXPECT_NE(peak.int8_instructions.find(actionclip::cpu_features().native_int8_dot() ? "vpdpbusd" : "vpmaddubsw"),
            std::string::npos);
  // Bounded by what any core can issue (2 FMA pipes at under 6 GHz, 4 ops per byte pair at most):
  // a loop whose work the compiler dropped reads as many times that.
  const double lanes = actionclip::cpu_features().avx512f ? 16 : 8;
  EXPECT_LT(peak.float32_gflops, 2 * 2 * lanes * 6.0);
  EXPECT_LT(peak.int8_gops, 2 * 2 * 4 * lanes * 6.0);
  std::cout << "[ figures ] one core: " << peak.float32_instructions << " " << peak.float32_gflops << " GFLOP/s, "
            << peak.int8_instructions << " " << peak.int8_gops << " GOP/s\n";
}

TEST(InstructionPeak, NothingIsMeasuredWithoutAvx2) {
  actionclip::CpuFeatures old_cpu;  // all extensions off
  EXPECT_FALSE(actionclip::measure_instruction_peak(old_cpu, 0.01).measured());
}

}  // namespace
