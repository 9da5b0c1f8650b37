// Training is reproducible and resumable: an interrupted run continued from its checkpoint ends
// with exactly the weights of an uninterrupted run, at epoch boundaries and inside an epoch. And
// the model variants train as configured: every visual prompt, frozen encoders, the reference's
// learning-rate groups.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "actionclip/data/synth.h"
#include "actionclip/model/model_io.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/error.h"
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

  // A one-epoch config without warmup or weight decay, with NETWORK
  // lines added to the network section and SOLVER lines to the solver section.
  actionclip::TrainConfig variant(const std::string& run, const std::string& network, const std::string& solver = "") const {
    const auto data = dir_ / "data";
    std::string yaml = "seed: 5\n"
                       "data:\n  num_segments: 4\n  batch_size: 4\n  workers: 1\n"
                       "  train_list: " + (data / "train.txt").string() + "\n"
                       "  label_list: " + (data / "labels.csv").string() + "\n"
                       "network:\n  arch: tiny\n  init: false\n" + network +
                       "  bpe: " + (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string() + "\n"
                       "solver:\n  epochs: 1\n  lr: 1.e-3\n  lr_warmup_step: 0\n  weight_decay: 0\n" + solver +
                       "logging:\n  output_dir: " + (dir_ / run).string() + "\n";
    return actionclip::TrainConfig::parse(yaml, "", run + ".yaml");
  }

  // The largest change of any parameter whose name starts with one of PREFIXES, over one step.
  static std::map<std::string, double> one_step_changes(actionclip::Trainer& trainer,
                                                        const std::vector<std::string>& prefixes) {
    std::map<std::string, torch::Tensor> before;
    for (auto& [name, value] : trainer.named_state()) before[name] = value.detach().clone();
    actionclip::TrainRunOptions one_step;
    one_step.progress = false;
    one_step.save_checkpoints = false;
    one_step.stop_after_steps = 1;
    trainer.run(one_step);
    std::map<std::string, double> largest;
    for (auto& [name, value] : trainer.named_state())
      for (const auto& prefix : prefixes)
        if (name.rfind(prefix, 0) == 0)
          largest[prefix] = std::max(largest[prefix], (value - before[name]).abs().max().item<double>());
    return largest;
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

namespace {
class TrainingVariants : public TrainingResume {};
}  // namespace

// AdamW's first step moves each parameter by about its group's learning rate (the update is
// m/sqrt(v) = sign(g)), so the largest moves show the reference's groups: text and logit scale at
// lr, vision at lr x ratio, the visual prompt at lr x f_ratio.
TEST_F(TrainingVariants, ParameterGroupsFollowRatioAndFRatio) {
  actionclip::Trainer trainer(variant("groups", "  sim_header: Transf\n", "  ratio: 0.5\n  f_ratio: 10\n"));
  const auto moved = one_step_changes(trainer, {"clip.transformer.", "clip.visual.", "fusion."});
  ASSERT_EQ(moved.size(), 3u);
  const double text = moved.at("clip.transformer.");
  ASSERT_GT(text, 0.0);
  EXPECT_NEAR(moved.at("clip.visual.") / text, 0.5, 0.05);
  EXPECT_NEAR(moved.at("fusion.") / text, 10.0, 1.0);
}

TEST_F(TrainingVariants, FrozenEncodersDoNotMove) {
  {
    actionclip::Trainer trainer(variant("frozen_text", "  sim_header: meanP\n  freeze_text: true\n"));
    const auto moved = one_step_changes(trainer, {"clip.transformer.", "clip.token_embedding", "clip.logit_scale", "clip.visual."});
    EXPECT_EQ(moved.at("clip.transformer."), 0.0);
    EXPECT_EQ(moved.at("clip.token_embedding"), 0.0);
    EXPECT_EQ(moved.at("clip.logit_scale"), 0.0);
    EXPECT_GT(moved.at("clip.visual."), 0.0);
  }
  {
    actionclip::Trainer trainer(variant("frozen_visual", "  sim_header: meanP\n  freeze_visual: true\n"));
    const auto moved = one_step_changes(trainer, {"clip.transformer.", "clip.visual."});
    EXPECT_EQ(moved.at("clip.visual."), 0.0);
    EXPECT_GT(moved.at("clip.transformer."), 0.0);
  }
}

// All seven visual prompts train: the step is finite and moves the image encoder and, where the
// prompt has parameters, the prompt (Joint's temporal embedding lives in the encoder).
TEST_F(TrainingVariants, EveryVisualPromptTrains) {
  const std::vector<std::pair<std::string, std::string>> prompts = {
      {"meanP", "  sim_header: meanP\n"},         {"Conv_1D", "  sim_header: Conv_1D\n"},
      {"LSTM", "  sim_header: LSTM\n"},           {"Transf", "  sim_header: Transf\n"},
      {"Transf_cls", "  sim_header: Transf_cls\n"}, {"Joint", "  joint: true\n"},
      {"Shift", "  tsm: true\n"}};
  for (const auto& [name, network] : prompts) {
    actionclip::Trainer trainer(variant("prompt_" + name, network));
    const auto moved = one_step_changes(trainer, {"clip.visual.", "fusion.", "clip.visual.time_embedding"});
    EXPECT_GT(moved.at("clip.visual."), 0.0) << name;
    if (name == "Joint") {
      EXPECT_GT(moved.at("clip.visual.time_embedding"), 0.0) << name;
    }
    const bool has_parameters = name != "meanP" && name != "Joint" && name != "Shift";
    if (has_parameters) {
      EXPECT_GT(moved.at("fusion."), 0.0) << name;
    } else {
      EXPECT_EQ(moved.count("fusion."), 0u) << name << " should have no prompt parameters";
    }
  }
}

// Starting from pretrained CLIP weights, random_init_visual / random_init_text replace exactly one
// encoder with fresh values (the paper's ablation of pre-training).
TEST_F(TrainingVariants, RandomInitialisationReplacesOneEncoder) {
  REQUIRE_FIXTURES();
  const auto weights = actionclip::testing::fixture("reference/clip-tiny-jit.pt");
  actionclip::LoadOptions weights_only;
  weights_only.load_tokenizer = false;
  auto pretrained = actionclip::load_model(weights, weights_only);
  auto changed = [&](const std::string& flag) {
    auto config = variant("random_" + flag, "  sim_header: meanP\n  " + flag + ": true\n");
    config.network.init = true;
    config.network.pretrained = weights;
    actionclip::Trainer trainer(config);
    std::map<std::string, bool> differs;  // "visual" / "text" -> some tensor differs from the weights
    auto reference = pretrained.model->clip->named_parameters();
    for (auto& p : trainer.model()->clip->named_parameters()) {
      const bool visual = p.key().rfind("visual.", 0) == 0;
      if (p.key() == "logit_scale") continue;
      differs[visual ? "visual" : "text"] |= !torch::equal(p.value(), reference[p.key()]);
    }
    return differs;
  };
  const auto visual_fresh = changed("random_init_visual");
  EXPECT_TRUE(visual_fresh.at("visual"));
  EXPECT_FALSE(visual_fresh.at("text"));
  const auto text_fresh = changed("random_init_text");
  EXPECT_FALSE(text_fresh.at("visual"));
  EXPECT_TRUE(text_fresh.at("text"));
}

TEST_F(TrainingResume, RefusesToResumeFromAnArchiveWithCode) {
  // A TorchScript model (OpenAI's archive layout) declares methods; handing it to libtorch's
  // loader would compile them. It is refused before that, naming the file.
  const auto model = actionclip::testing::fixture("reference/clip-tiny-jit.pt");
  if (!fs::exists(model)) GTEST_SKIP() << "fixtures not found";
  actionclip::TrainRunOptions options;
  options.progress = false;
  options.resume = model;
  actionclip::Trainer trainer(config("archive_with_code"));
  try {
    trainer.run(options);
    FAIL() << "resumed from a TorchScript model";
  } catch (const actionclip::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("with code"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(model), std::string::npos) << e.what();
  }
}
