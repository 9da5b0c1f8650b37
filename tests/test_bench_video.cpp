// `bench video --precision`: end-to-end classify in each precision, as decide_precision lets it
// run. The smallest settings (one 1 s clip, one frame, one thread) keep the ViT-B/32 runs short.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "actionclip/build_paths.h"
#include "actionclip/system/cpu_features.h"
#include "actionclip/system/precision.h"
#include "actionclip/util/error.h"
#include "shell.h"
#include "temp_dir.h"

namespace {

using actionclip::testing::quote;
using actionclip::testing::run_shell;
using nlohmann::json;

bool int8_runs_here() {
  try {
    actionclip::decide_precision(actionclip::Precision::Int8, c10::Device(c10::kCPU));
    return true;
  } catch (const actionclip::Error&) {
    return false;
  }
}

TEST(BenchVideo, ClassifiesInEachPrecisionAndSaysWhichRan) {
  actionclip::testing::TempDir dir("actionclip_bench_video_");
  // --python false: no reference pipeline, whose ViT-B/32 run would take minutes.
  const auto run = run_shell(quote(ACTIONCLIP_CLI_PATH) +
                                 " -t 1 bench video --json --clips 1 --clip-seconds 1 --frames 1 --seconds 0.05 "
                                 "--python false --precision fp32,bf16,int8 --work-dir " + quote(dir.path("clips")),
                             dir.path("stderr.txt"));
  ASSERT_EQ(run.code, 0) << run.err;
  const auto classify = json::parse(run.out).at("classify");

  const auto& fp32 = classify.at("fp32");
  EXPECT_EQ(fp32.at("used"), "fp32");
  EXPECT_GT(fp32.at("videos_per_s").get<double>(), 0.0);
  EXPECT_GE(fp32.at("data_wait_s").get<double>(), 0.0);

  const auto& bf16 = classify.at("bf16");
  if (actionclip::cpu_features().native_bf16()) {
    EXPECT_EQ(bf16.at("used"), "bf16");
    EXPECT_FALSE(bf16.contains("same_run_as"));
  } else {
    // The generic bf16 path is never taken: float32 runs, once, with the notice.
    EXPECT_EQ(bf16.at("used"), "fp32");
    EXPECT_EQ(bf16.at("same_run_as"), "fp32");
    EXPECT_EQ(bf16.at("videos_per_s"), fp32.at("videos_per_s"));
    EXPECT_NE(bf16.at("notice").get<std::string>().find("bf16"), std::string::npos);
  }
  EXPECT_GT(bf16.at("videos_per_s").get<double>(), 0.0);

  const auto& int8 = classify.at("int8");
  if (int8_runs_here()) {
    EXPECT_EQ(int8.at("used"), "int8");
    EXPECT_FALSE(int8.contains("same_run_as"));
    EXPECT_GT(int8.at("videos_per_s").get<double>(), 0.0);
  } else {
    EXPECT_NE(int8.at("skipped").get<std::string>().find("int8"), std::string::npos) << int8.dump();
  }
}

TEST(BenchVideo, RefusesAnUnknownPrecisionNamingTheOption) {
  actionclip::testing::TempDir dir("actionclip_bench_video_");
  const auto unknown = run_shell(quote(ACTIONCLIP_CLI_PATH) + " bench video --precision fp32,fp16", dir.path("stderr.txt"));
  EXPECT_EQ(unknown.code, 64);
  EXPECT_NE(unknown.err.find("--precision"), std::string::npos) << unknown.err;
}

}  // namespace
