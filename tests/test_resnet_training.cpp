// A ResNet ActionCLIP trains: from random initialisation (network.arch: tiny-rn) its contrastive
// loss falls on generated videos, and network.freeze_bn keeps batch-norm statistics fixed during
// training steps that otherwise update them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actionclip/data/synth.h"
#include "actionclip/train/trainer.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace {

std::string bpe_path() {
  return (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string();
}

class ResnetTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(bpe_path())) GTEST_SKIP() << "CLIP tokenizer file not found: " << bpe_path();
    dir_.emplace("actionclip_rn_training_");
    actionclip::data::SynthOptions synth;
    synth.out_dir = dir_->path("data");
    synth.videos_per_class = 8;
    synth.frames = 8;
    synth.width = synth.height = 64;  // tiny-rn's resolution
    synth.colors = {"red", "green", "blue", "yellow"};
    synth.shapes = {"square"};
    synth.motions = {"left"};
    synth.seed = 6;
    synth.val_fraction = 0.25;
    actionclip::data::generate_synth_dataset(synth);
  }

  actionclip::TrainConfig config(const std::string& run, const std::string& network, int epochs,
                                 const std::string& warmup_epochs = "1") const {
    const fs::path data = dir_->path("data");
    const std::string yaml = "seed: 3\n"
                             "data:\n  num_segments: 4\n  batch_size: 8\n  workers: 2\n  templates: none\n"
                             "  train_list: " + (data / "train.txt").string() + "\n"
                             "  label_list: " + (data / "labels.csv").string() + "\n"
                             "network:\n  arch: tiny-rn\n  init: false\n  bpe: " + bpe_path() + "\n" + network +
                             "solver:\n  epochs: " + std::to_string(epochs) + "\n  lr: 1.e-4\n  lr_warmup_step: " + warmup_epochs + "\n"
                             "logging:\n  output_dir: " + dir_->path(run) + "\n";
    return actionclip::TrainConfig::parse(yaml, "", run + ".yaml");
  }

  // Batch-norm running means of the image encoder, by name.
  static std::map<std::string, torch::Tensor> running_means(actionclip::Trainer& trainer) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& b : trainer.model()->clip->visual->named_buffers())
      if (b.key().find("running_mean") != std::string::npos) out[b.key()] = b.value().clone();
    return out;
  }

  static void one_step(actionclip::Trainer& trainer) {
    actionclip::TrainRunOptions run;
    run.progress = false;
    run.save_checkpoints = false;
    run.stop_after_steps = 1;
    trainer.run(run);
  }

  std::optional<actionclip::testing::TempDir> dir_;
};

}  // namespace

TEST_F(ResnetTraining, TinyResnetFromScratchLossFalls) {
  actionclip::Trainer trainer(config("run", "  sim_header: Transf\n", 8));
  ASSERT_TRUE(trainer.model()->clip->config().resnet());
  actionclip::TrainRunOptions run;
  run.progress = false;
  const auto summary = trainer.run(run);
  ASSERT_EQ(summary.epochs_completed, 8);

  std::vector<double> losses;
  std::ifstream metrics(dir_->path("run/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) losses.push_back(nlohmann::json::parse(line).at("train_loss"));
  ASSERT_EQ(losses.size(), 8u);
  for (double loss : losses) ASSERT_TRUE(std::isfinite(loss));
  EXPECT_LT(losses.back(), 0.8 * losses.front()) << "first epoch " << losses.front() << ", last " << losses.back();
}

TEST_F(ResnetTraining, FreezeBnKeepsRunningStatisticsDuringTrainingSteps) {
  {
    actionclip::Trainer trainer(config("updating", "  sim_header: meanP\n", 1));
    const auto before = running_means(trainer);
    ASSERT_FALSE(before.empty());
    one_step(trainer);
    const auto after = running_means(trainer);
    double largest = 0;
    for (const auto& [name, value] : before) largest = std::max(largest, (after.at(name) - value).abs().max().item<double>());
    EXPECT_GT(largest, 0.0) << "a training step must update batch-norm statistics";
  }
  // Without warmup, so that the first step's learning rate is not zero.
  actionclip::Trainer trainer(config("frozen", "  sim_header: meanP\n  freeze_bn: true\n", 1, "0"));
  const auto before = running_means(trainer);
  const auto weights_before = trainer.model()->clip->visual->named_parameters()["bn1.weight"].clone();
  one_step(trainer);
  for (const auto& [name, value] : running_means(trainer))
    EXPECT_TRUE(torch::equal(value, before.at(name))) << name << " changed with freeze_bn";
  // Only the statistics are frozen: the affine parameters still train.
  EXPECT_FALSE(torch::equal(trainer.model()->clip->visual->named_parameters()["bn1.weight"], weights_before));
}
