#include <gtest/gtest.h>

#include <cmath>

#include "actionclip/system/instruction_peak.h"

namespace {

#define REQUIRE_AVX2()                                                     \
  if (!actionclip::cpu_features().avx2 || !actionclip::cpu_features().fma) \
  GTEST_SKIP() << "this CPU has no AVX2/FMA"

// The loops compute what their instructions should, so the rates are of real multiply-adds.
TEST(InstructionPeak, Avx2LoopsComputeTheirProducts) {
  REQUIRE_AVX2();
  using actionclip::kInstructionPeakChains;
  constexpr long long kSteps = 1000, kLanes = 8, kBytesPerLane = 4;
  const long long product = static_cast<long long>(actionclip::kInstructionPeakUnsigned) *
                            static_cast<long long>(actionclip::kInstructionPeakSigned);
  EXPECT_EQ(actionclip::avx2_int8_dot_checksum(kSteps), kSteps * kInstructionPeakChains * kLanes * kBytesPerLane * product);
  double start = 0;
  for (int chain = 0; chain < kInstructionPeakChains; ++chain) start += kLanes * chain;
  EXPECT_EQ(actionclip::avx2_fma_checksum(kSteps), start + static_cast<double>(kSteps * kInstructionPeakChains * kLanes));
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
  std::cout << "[ figures ] one core: " << peak.float32_instructions << " " << peak.float32_gflops << " GFLOP/s, "
            << peak.int8_instructions << " " << peak.int8_gops << " GOP/s\n";
}

TEST(InstructionPeak, NothingIsMeasuredWithoutAvx2) {
  actionclip::CpuFeatures old_cpu;  // all extensions off
  EXPECT_FALSE(actionclip::measure_instruction_peak(old_cpu, 0.01).measured());
}

}  // namespace
