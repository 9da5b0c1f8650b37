// OpenBLAS's generic kernels on a CPU newer than it are replaced by its vectorized ones: decided
// from the CPU's features, and the CLI runs on them unless the user named others.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "actionclip/build_paths.h"
#include "actionclip/system/openblas_core.h"
#include "shell.h"
#include "temp_dir.h"

namespace {

using actionclip::CpuFeatures;

CpuFeatures zen3() {
  CpuFeatures cpu;
  cpu.model = "AMD EPYC 7B13";
  cpu.avx2 = cpu.fma = true;
  return cpu;
}

CpuFeatures emerald_rapids() {
  auto cpu = zen3();
  cpu.model = "Intel(R) Xeon(R) Processor";
  cpu.avx512f = cpu.avx512bw = cpu.avx512vl = cpu.avx512dq = cpu.avx512_vnni = true;
  return cpu;
}

TEST(OpenblasCore, GenericKernelsOnAVectorCpuAreAFallback) {
  EXPECT_EQ(actionclip::openblas_core_for(emerald_rapids()), "SkylakeX");
  EXPECT_EQ(actionclip::openblas_core_for(zen3()), "Haswell");
  EXPECT_EQ(actionclip::openblas_core_for(CpuFeatures{}), "");
  EXPECT_TRUE(actionclip::openblas_core_is_fallback("Prescott", emerald_rapids()));
  EXPECT_TRUE(actionclip::openblas_core_is_fallback("Sandybridge", zen3()));
  EXPECT_FALSE(actionclip::openblas_core_is_fallback("SkylakeX", emerald_rapids()));
  EXPECT_FALSE(actionclip::openblas_core_is_fallback("Cooperlake", emerald_rapids()));
  // OpenBLAS's own choice among vectorized kernels stands (it picks Zen's or Haswell's on purpose).
  EXPECT_FALSE(actionclip::openblas_core_is_fallback("Haswell", emerald_rapids()));
  EXPECT_FALSE(actionclip::openblas_core_is_fallback("Zen", zen3()));
  EXPECT_FALSE(actionclip::openblas_core_is_fallback("Prescott", CpuFeatures{}));
  EXPECT_FALSE(actionclip::openblas_core_is_fallback("", emerald_rapids()));
}

std::string cli_openblas_core(const std::string& environment) {
  actionclip::testing::TempDir dir("actionclip_openblas_");
  const auto run = actionclip::testing::run_shell(
      environment + " " + actionclip::testing::quote(ACTIONCLIP_CLI_PATH) + " info --system --json", dir.path("err"));
  EXPECT_EQ(run.code, 0) << run.err;
  return nlohmann::json::parse(run.out).at("libtorch").at("openblas_core").get<std::string>();
}

TEST(OpenblasCore, CliRunsOnVectorizedKernelsUnlessTheUserNamedOthers) {
  if (actionclip::openblas_core().empty()) GTEST_SKIP() << "libtorch here does not use OpenBLAS";
  const auto& cpu = actionclip::cpu_features();
  const auto chosen = cli_openblas_core("env -u OPENBLAS_CORETYPE");
  EXPECT_FALSE(actionclip::openblas_core_is_fallback(chosen, cpu)) << chosen << " on " << cpu.describe();
  std::cout << "[ figures ] OpenBLAS kernels: " << chosen << " (in this test process: " << actionclip::openblas_core()
            << ")\n";
  EXPECT_EQ(cli_openblas_core("OPENBLAS_CORETYPE=Prescott"), "Prescott");
}

}  // namespace
