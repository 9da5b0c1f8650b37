// The precision a run computes in is decided from what the CPU can do: bf16 only where a bf16
// matrix unit exists (libtorch's generic CPU bf16 GEMM is tens of times slower than float32),
// and the CPU's features as detected agree with what the kernel reports.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "actionclip/build_paths.h"
#include "actionclip/system/cpu_features.h"
#include "actionclip/system/precision.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "shell.h"
#include "temp_dir.h"

namespace {

using actionclip::CpuFeatures;
using actionclip::decide_precision;
using actionclip::Precision;

CpuFeatures zen3() {
  CpuFeatures cpu;
  cpu.model = "AMD EPYC 7B13";
  cpu.avx2 = cpu.fma = cpu.f16c = true;
  return cpu;
}

const c10::Device kCpu(c10::kCPU);

TEST(PrecisionDecision, Bf16OnAnAvx2OnlyCpuRunsFloat32WithOneNotice) {
  const auto decision = decide_precision(Precision::BFloat16, kCpu, zen3());
  EXPECT_EQ(decision.requested, Precision::BFloat16);
  EXPECT_EQ(decision.used, Precision::Float32);
  EXPECT_NE(decision.notice.find("AMD EPYC 7B13"), std::string::npos) << decision.notice;
  EXPECT_NE(decision.notice.find("running float32"), std::string::npos) << decision.notice;
  EXPECT_EQ(decision.notice.find('\n'), std::string::npos) << "one line";
}

TEST(PrecisionDecision, AvxWithout512Bf16IsNotNative) {
  auto cpu = zen3();
  cpu.avx512f = cpu.avx512bw = cpu.avx512vl = cpu.avx512dq = cpu.avx512_vnni = true;  // Ice Lake, Zen 4 minus BF16
  EXPECT_EQ(decide_precision(Precision::BFloat16, kCpu, cpu).used, Precision::Float32);
}

TEST(PrecisionDecision, Bf16StaysBf16WithAvx512Bf16OrAmx) {
  auto avx512_bf16 = zen3();
  avx512_bf16.avx512f = avx512_bf16.avx512_bf16 = true;
  auto amx = zen3();
  amx.amx_tile = amx.amx_bf16 = true;
  for (const auto& cpu : {avx512_bf16, amx}) {
    const auto decision = decide_precision(Precision::BFloat16, kCpu, cpu);
    EXPECT_EQ(decision.used, Precision::BFloat16);
    EXPECT_TRUE(decision.notice.empty()) << decision.notice;
  }
}

TEST(PrecisionDecision, GpusAndFloat32AreNeverChanged) {
  EXPECT_EQ(decide_precision(Precision::BFloat16, c10::Device(c10::kCUDA, 0), zen3()).used, Precision::BFloat16);
  const auto fp32 = decide_precision(Precision::Float32, kCpu, zen3());
  EXPECT_EQ(fp32.used, Precision::Float32);
  EXPECT_TRUE(fp32.notice.empty());
}

TEST(PrecisionDecision, NamesRoundTripAndUnknownOnesAreRefused) {
  for (auto p : {Precision::Float32, Precision::BFloat16, Precision::Int8})
    EXPECT_EQ(actionclip::precision_from_name(actionclip::precision_name(p)), p);
  try {
    actionclip::precision_from_name("fp16");
    FAIL() << "fp16 accepted";
  } catch (const actionclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("fp32, bf16 or int8"), std::string::npos) << e.what();
  }
}

// The kernel's view of the same CPU: the flags line of /proc/cpuinfo.
std::set<std::string> kernel_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
    }
  return {};
}

TEST(CpuFeatures, DetectionAgreesWithTheKernel) {
  const auto flags = kernel_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo (not x86 Linux)";
  const auto& cpu = actionclip::cpu_features();
  EXPECT_GT(cpu.cores, 0);
  EXPECT_GE(cpu.logical_processors, cpu.cores);
  EXPECT_NE(cpu.model, "unknown");
  const std::pair<bool, const char*> checked[] = {
      {cpu.avx2, "avx2"},           {cpu.fma, "fma"},           {cpu.avx512f, "avx512f"},
      {cpu.avx512bw, "avx512bw"},   {cpu.avx512_vnni, "avx512_vnni"}, {cpu.avx512_bf16, "avx512_bf16"},
      {cpu.avx_vnni, "avx_vnni"},   {cpu.amx_tile, "amx_tile"}, {cpu.amx_bf16, "amx_bf16"},
  };
  for (const auto& [detected, flag] : checked) EXPECT_EQ(detected, flags.count(flag) == 1) << flag;
  const auto described = cpu.describe();
  EXPECT_NE(described.find(cpu.model), std::string::npos);
  for (const auto& name : cpu.names()) EXPECT_NE(described.find(name), std::string::npos) << name;
}

using actionclip::testing::run_shell;

TEST(CpuFeatures, InfoSystemReportsTheDetectedFeatures) {
  actionclip::testing::TempDir dir("actionclip_precision_");
  const auto cli = actionclip::testing::quote(ACTIONCLIP_CLI_PATH);
  const auto json_run = run_shell(cli + " info --system --json", dir.path("err"));
  ASSERT_EQ(json_run.code, 0) << json_run.err;
  const auto info = nlohmann::json::parse(json_run.out);
  const auto& cpu = actionclip::cpu_features();
  EXPECT_EQ(info.at("cpu").at("model"), cpu.model);
  EXPECT_EQ(info.at("cpu").at("features").get<std::vector<std::string>>(), cpu.names());
  EXPECT_EQ(info.at("cpu").at("bf16_runs_as"), cpu.native_bf16() ? "bf16" : "fp32");
  EXPECT_FALSE(info.at("libtorch").at("version").get<std::string>().empty());

  const auto text = run_shell(cli + " info --system", dir.path("err"));
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find(cpu.model), std::string::npos) << text.out;
  const auto bare = run_shell(cli + " info", dir.path("err"));
  EXPECT_NE(bare.code, 0);
  EXPECT_NE(bare.err.find("--system"), std::string::npos) << bare.err;
}

// On a CPU without a bf16 unit, --precision bf16 says so once and gives float32's exact answer.
TEST(CpuFeatures, ClassifyInBf16WithoutABf16UnitIsFloat32) {
  REQUIRE_FIXTURES();
  if (actionclip::cpu_features().native_bf16()) GTEST_SKIP() << "this CPU computes bf16 natively";
  actionclip::testing::TempDir dir("actionclip_precision_");
  using actionclip::testing::fixture;
  using actionclip::testing::quote;
  const auto classify = "ACTIONCLIP_CACHE=" + quote(dir.path("cache")) + " " + quote(ACTIONCLIP_CLI_PATH) +
                        " classify -m " + quote(fixture("reference/actionclip-tiny-transf.pt")) + " --bpe " +
                        quote((actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string()) +
                        " --labels 'surfing,cooking,juggling' --json " + quote(fixture("video/clip_h264.mp4"));
  const auto fp32 = run_shell(classify, dir.path("err32"));
  ASSERT_EQ(fp32.code, 0) << fp32.err;
  const auto bf16 = run_shell(classify + " --precision bf16", dir.path("err16"));
  ASSERT_EQ(bf16.code, 0) << bf16.err;
  EXPECT_EQ(nlohmann::json::parse(bf16.out).at("results"), nlohmann::json::parse(fp32.out).at("results"))
      << "bf16 without a bf16 unit must be float32 exactly";
  EXPECT_NE(bf16.err.find("running float32"), std::string::npos) << bf16.err;
  EXPECT_EQ(fp32.err.find("running float32"), std::string::npos) << fp32.err;
}

}  // namespace
