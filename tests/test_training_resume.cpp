// Training is reproducible and resumable: an interrupted run continued from its checkpoint ends
// with exactly the weights of an uninterrupted run, at epoch boundaries and inside an epoch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "actionclip/data/synth.h"
#include "actionclip/train/trainer.h"
#include "fixtures.h"

namespace fs = std::filesystem;

namespace {

class TrainingResume : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz"))
      GTEST_SKIP() << "CLIP tokenizer file not found under " << actionclip::testing::shared_data_dir();
    dir_ = fs::temp_directory_path() / ("actionclip_resume_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    actionclip::data::SynthOptions synth;
    synth.out_dir = (dir_ / "data").string();
    synth.videos_per_class = 5;
    synth.frames = 8;
    synth.width = synth.height = 32;
    synth.colors = {"red", "blue"};
    synth.shapes = {"square"};
    synth.motions = {"left", "right"};
    synth.seed = 4;
    actionclip::data::generate_synth_dataset(synth);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // Transf_cls trains with dropout, so the torch generator's state must survive a resume too.
  actionclip::TrainConfig config(const std::string& run, const std::string& precision = "fp32") const {
    const auto data = dir_ / "data";
    std::string yaml = "seed: 5\n"
                       "data:\n  num_segments: 4\n  batch_size: 4\n  workers: 2\n"
                       "  train_list: " + (data / "train.txt").string() + "\n"
                       "  label_list: " + (data / "labels.csv").string() + "\n"
                       "  randaug:\n    N: 1\n    M: 9\n"
                       "network:\n  arch: tiny\n  init: false\n  sim_header: Transf_cls\n"
                       "  bpe: " + (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string() + "\n"
                       "solver:\n  epochs: 2\n  lr: 1.e-4\n  lr_warmup_step: 1\n  grad_accumulation: 2\n  clip_gradient: 1.0\n"
                       "  precision: " + precision + "\n"
                       "logging:\n  output_dir: " + (dir_ / run).string() + "\n";
    return actionclip::TrainConfig::parse(yaml, "", run + ".yaml");
  }

  static void expect_identical(actionclip::Trainer& a, actionclip::Trainer& b) {
    auto sa = a.named_state();
    auto sb = b.named_state();
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t i = 0; i < sa.size(); ++i) {
      ASSERT_EQ(sa[i].first, sb[i].first);
      EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first << " differs";
    }
  }

  fs::path dir_;
};

}  // namespace

TEST_F(TrainingResume, ResumeAtAnEpochBoundaryEqualsAnUninterruptedRun) {
  actionclip::TrainRunOptions quiet;
  quiet.progress = false;
  actionclip::Trainer straight(config("straight"));
  auto full = straight.run(quiet);
  EXPECT_EQ(full.epochs_completed, 2);

  {
    actionclip::Trainer first(config("interrupted"));
    auto interrupted = quiet;
    interrupted.stop_after_epochs = 1;
    EXPECT_EQ(first.run(interrupted).epochs_completed, 1);
  }
  actionclip::Trainer resumed(config("interrupted"));
  auto resume = quiet;
  resume.resume = (dir_ / "interrupted" / "last.pt").string();
  auto rest = resumed.run(resume);
  EXPECT_EQ(rest.epochs_completed, 2);
  EXPECT_EQ(rest.optimizer_steps, full.optimizer_steps);
  expect_identical(straight, resumed);
}

TEST_F(TrainingResume, ResumeInsideAnEpochEqualsAnUninterruptedRun) {
  actionclip::TrainRunOptions quiet;
  quiet.progress = false;
  actionclip::Trainer straight(config("straight"));
  straight.run(quiet);
  {
    actionclip::Trainer first(config("mid"));
    auto interrupted = quiet;
    interrupted.stop_after_steps = 1;  // one optimizer step = two batches (grad_accumulation 2)
    first.run(interrupted);
  }
  actionclip::Trainer resumed(config("mid"));
  auto resume = quiet;
  resume.resume = (dir_ / "mid" / "last.pt").string();
  resumed.run(resume);
  expect_identical(straight, resumed);
}

TEST_F(TrainingResume, SameSeedSameWeightsAndMetricsAreLogged) {
  actionclip::TrainRunOptions quiet;
  quiet.progress = false;
  actionclip::Trainer a(config("a")), b(config("b"));
  a.run(quiet);
  b.run(quiet);
  expect_identical(a, b);
  std::ifstream metrics(dir_ / "a" / "metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    auto row = nlohmann::json::parse(line);
    EXPECT_TRUE(row.contains("train_loss"));
    EXPECT_TRUE(row.contains("lr"));
    ++lines;
  }
  EXPECT_EQ(lines, 2);
  EXPECT_TRUE(fs::exists(dir_ / "a" / "best.safetensors"));
}

TEST_F(TrainingResume, Bf16AutocastTrains) {
  actionclip::TrainRunOptions quiet;
  quiet.progress = false;
  actionclip::Trainer trainer(config("bf16", "bf16"));
  auto before = trainer.named_state().front().second.clone();
  auto summary = trainer.run(quiet);
  EXPECT_TRUE(std::isfinite(summary.last_loss));
  EXPECT_GT(summary.last_loss, 0.0);
  EXPECT_FALSE(torch::equal(before, trainer.named_state().front().second));  // the weights moved
}
