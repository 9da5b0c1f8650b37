// The reference's training settings do what its code does: fix_text, network.init false,
// network.arch by name, pretrain, resume from its checkpoints, start_epoch, eval_freq and
// print_freq, its three optimisers (by hand on one parameter), and CLIP's dropout.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "actionclip/data/synth.h"
#include "actionclip/model/model_io.h"
#include "actionclip/train/optimizer.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "reference_configs.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using actionclip::testing::fixture;

namespace {

std::string bpe_path() {
  return (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string();
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (previous_) ::setenv(name_, previous_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

std::map<std::string, torch::Tensor> snapshot(torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (auto& p : module.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

bool is_text_encoder(const std::string& clip_key) { return clip_key.rfind("visual.", 0) != 0 && clip_key != "logit_scale"; }

class TrainingOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(actionclip::testing::fixtures_dir())) GTEST_SKIP() << "fixtures not found";
    if (!fs::exists(bpe_path())) GTEST_SKIP() << "CLIP tokenizer file not found: " << bpe_path();
    dir_.emplace("actionclip_options_");
    actionclip::data::SynthOptions synth;
    synth.out_dir = dir_->path("data");
    synth.videos_per_class = 3;  // 2 for training, 1 for validation
    synth.frames = 8;
    synth.width = synth.height = 32;
    synth.colors = {"red", "blue"};
    synth.shapes = {"square"};
    synth.motions = {"left"};
    synth.seed = 3;
    actionclip::data::generate_synth_dataset(synth);
  }

  // A config on the synthetic data (4 training videos in batches of 2, 2 validation videos) with
  // the given lines in its network and solver sections (the prompt meanP and one epoch unless they
  // name others).
  actionclip::TrainConfig config(const std::string& run, const std::string& network, const std::string& solver = "",
                                 const std::string& extra = "") const {
    const std::string yaml = "seed: 7\n" + extra +
                             "data:\n  num_segments: 4\n  batch_size: 2\n  workers: 1\n"
                             "  train_list: " + dir_->path("data/train.txt") + "\n"
                             "  val_list: " + dir_->path("data/val.txt") + "\n"
                             "  label_list: " + dir_->path("data/labels.csv") + "\n"
                             "network:\n  bpe: " + bpe_path() + "\n" +
                             (network.find("sim_header") == std::string::npos ? "  sim_header: meanP\n" : "") + network +
                             "solver:\n" + solver + (solver.find("epochs:") == std::string::npos ? "  epochs: 1\n" : "") +
                             "  lr: 1.e-3\n  lr_warmup_step: 0\n" +
                             "logging:\n  output_dir: " + dir_->path(run) + "\n";
    return actionclip::TrainConfig::parse(yaml, "", run + ".yaml");
  }

  static actionclip::TrainRunOptions quiet() {
    actionclip::TrainRunOptions run;
    run.progress = false;
    run.save_checkpoints = false;
    return run;
  }

  std::optional<actionclip::testing::TempDir> dir_;
};

}  // namespace

// k400_train.yaml as shipped, with only its sizes made for the tiny model (batch 128 of 224-pixel
// clips would not fit a test): its relative lists beside it, network.arch ViT-B/32 from the model
// cache, its RandAugment, schedule and optimiser; one step trains.
TEST_F(TrainingOptions, TheReferenceTrainFileTrains) {
  ScopedEnv cache("ACTIONCLIP_CACHE", dir_->path("cache"));
  fs::create_directories(dir_->path("cache/models"));
  fs::copy_file(fixture("reference/clip-tiny-jit.pt"), dir_->path("cache/models/ViT-B-32.pt"));
  std::string labels = "id,name\n";
  for (int i = 0; i < 400; ++i) labels += std::to_string(i) + ",action " + std::to_string(i) + "\n";
  dir_->write("lists/kinetics_400_labels.csv", labels);
  // The synthetic lists, with their paths made absolute for their new folder.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"data/train.txt", "lists/k4001/train_frames_new.txt"}, {"data/val.txt", "lists/k4001/val_frames_re.txt"}}) {
    std::ifstream in(dir_->path(from));
    std::string list;
    for (std::string line; std::getline(in, line);) list += dir_->path("data/" + line) + "\n";
    dir_->write(to, list);
  }
  std::string yaml = actionclip::testing::kK400Train;
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"batch_size: 128", "batch_size: 2"}, {"workers: 16", "workers: 1"}, {"input_size: 224", "input_size: 32"}}) {
    ASSERT_NE(yaml.find(from), std::string::npos) << from;
    yaml.replace(yaml.find(from), from.size(), to);
  }
  auto config = actionclip::TrainConfig::parse(yaml, dir_->path(""), dir_->path("k400_train.yaml"));
  config.network.bpe = bpe_path();
  config.logging.output_dir = dir_->path("k400");
  actionclip::Trainer trainer(config);
  EXPECT_EQ(trainer.class_names().size(), 400u);
  auto run = quiet();
  run.stop_after_steps = 1;
  const auto summary = trainer.run(run);
  EXPECT_EQ(summary.optimizer_steps, 1);
  EXPECT_TRUE(std::isfinite(summary.last_loss));
}

// The reference detaches the text embedding: its encoder gets no gradient, and AdamW skips
// tensors without one, so not even the decoupled weight decay (0.2 here) moves them.
TEST_F(TrainingOptions, FixTextLeavesTheTextEncoderBitIdentical) {
  auto moved_text = [&](bool fix_text) {
    actionclip::Trainer trainer(config(fix_text ? "fixed" : "free",
                                       "  pretrained: " + fixture("reference/clip-tiny-jit.pt") + "\n" +
                                           (fix_text ? "  fix_text: true\n" : ""),
                                       "  weight_decay: 0.2\n"));
    const auto before = snapshot(*trainer.model()->clip);
    const auto summary = trainer.run(quiet());
    EXPECT_EQ(summary.optimizer_steps, 2);
    std::map<std::string, bool> moved;  // text, visual, logit_scale
    for (auto& p : trainer.model()->clip->named_parameters()) {
      const auto group = p.key() == "logit_scale" ? "logit_scale" : is_text_encoder(p.key()) ? "text" : "visual";
      moved[group] = moved[group] || !torch::equal(p.value(), before.at(p.key()));
    }
    return moved;
  };
  const auto fixed = moved_text(true);
  EXPECT_FALSE(fixed.at("text"));
  EXPECT_TRUE(fixed.at("visual"));
  EXPECT_TRUE(fixed.at("logit_scale"));  // used after the detached embedding: it still learns
  const auto free = moved_text(false);
  EXPECT_TRUE(free.at("text"));
}

// network.init false is the reference's "only visual": the image encoder from the weights, the
// text encoder and logit scale from a fresh initialisation.
TEST_F(TrainingOptions, InitFalseLoadsOnlyTheImageEncoder) {
  actionclip::LoadOptions weights_only;
  weights_only.load_tokenizer = false;
  auto weights = actionclip::load_model(fixture("reference/clip-tiny-jit.pt"), weights_only);
  const auto reference = snapshot(*weights.model->clip);
  actionclip::Trainer trainer(
      config("init_false", "  pretrained: " + fixture("reference/clip-tiny-jit.pt") + "\n  init: false\n"));
  bool visual_equal = true, text_equal = true;
  for (auto& p : trainer.model()->clip->named_parameters()) {
    if (p.key() == "logit_scale") continue;
    const bool equal = torch::equal(p.value(), reference.at(p.key()));
    (is_text_encoder(p.key()) ? text_equal : visual_equal) &= equal;
  }
  EXPECT_TRUE(visual_equal);
  EXPECT_FALSE(text_equal);
  EXPECT_NEAR(trainer.model()->clip->logit_scale.item<double>(), std::log(1 / 0.07), 1e-6);
}

// network.arch names a released model, read from the model cache; without the file it is an
// error saying where it belongs.
TEST_F(TrainingOptions, ArchByNameComesFromTheModelCache) {
  ScopedEnv cache("ACTIONCLIP_CACHE", dir_->path("cache"));
  ScopedEnv home("HOME", dir_->path("home"));
  ScopedEnv offline("ACTIONCLIP_OFFLINE", "1");  // a missing file is not downloaded
  try {
    actionclip::Trainer missing(config("missing", "  arch: ViT-B/32\n"));
    ADD_FAILURE() << "trained without the ViT-B/32 weights";
  } catch (const actionclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_->path("cache/models/ViT-B-32.pt")), std::string::npos) << e.what();
  }
  // Any CLIP file under the released name stands for it: here the tiny fixture.
  fs::create_directories(dir_->path("cache/models"));
  fs::copy_file(fixture("reference/clip-tiny-jit.pt"), dir_->path("cache/models/ViT-B-32.pt"));
  actionclip::Trainer trainer(config("by_name", "  arch: ViT-B/32\n"));
  actionclip::LoadOptions weights_only;
  weights_only.load_tokenizer = false;
  auto weights = actionclip::load_model(fixture("reference/clip-tiny-jit.pt"), weights_only);
  const auto reference = snapshot(*weights.model->clip);
  for (auto& p : trainer.model()->clip->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), reference.at(p.key()))) << p.key();
}

// `pretrain:` initialises training with an ActionCLIP checkpoint (CLIP and prompt), and needs no
// released model under it.
TEST_F(TrainingOptions, PretrainInitialisesTheWholeModel) {
  ScopedEnv cache("ACTIONCLIP_CACHE", dir_->path("empty-cache"));
  const auto checkpoint = fixture("reference/actionclip-tiny-transf.pt");
  actionclip::Trainer trainer(config("pretrain", "  arch: ViT-B/32\n  sim_header: Transf\n", "", "pretrain: " + checkpoint + "\n"));
  actionclip::LoadOptions weights_only;
  weights_only.load_tokenizer = false;
  auto expected = actionclip::load_model(checkpoint, weights_only);
  const auto reference = snapshot(*expected.model);
  for (auto& p : trainer.model()->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), reference.at(p.key()))) << p.key();
}

// `resume:` with one of the reference's own checkpoints: its weights, and training again from
// the epoch it records (the reference saves the epoch just trained and restarts there).
TEST_F(TrainingOptions, ResumeFromAReferenceCheckpointStartsAtItsEpoch) {
  const auto checkpoint = fixture("reference/actionclip-tiny-transf.pt");
  const auto saved = actionclip::io::read_checkpoint(checkpoint);
  ASSERT_TRUE(saved.epoch.has_value());
  const auto epochs = std::to_string(*saved.epoch + 1);
  actionclip::Trainer trainer(config("resume", "  pretrained: " + fixture("reference/clip-tiny-jit.pt") + "\n  sim_header: Transf\n",
                                     "  epochs: " + epochs + "\n", "resume: " + checkpoint + "\n"));
  const auto summary = trainer.run(quiet());
  EXPECT_EQ(summary.epochs_completed, *saved.epoch + 1);
  EXPECT_EQ(summary.optimizer_steps, 2);  // one epoch of two batches
}

TEST_F(TrainingOptions, StartEpochSkipsTheEpochsBefore) {
  actionclip::Trainer trainer(config("start", "  arch: tiny\n  init: false\n", "  epochs: 3\n  start_epoch: 2\n"));
  const auto summary = trainer.run(quiet());
  EXPECT_EQ(summary.epochs_completed, 3);
  EXPECT_EQ(summary.optimizer_steps, 2);
}

// eval_freq as the reference: validation after epochs 0, f, 2f, ... (0-based), and here also
// after the last; print_freq: in a log, a progress line every that many batches.
TEST_F(TrainingOptions, EvalFreqAndPrintFreq) {
  auto cfg = config("freq", "  arch: tiny\n  init: false\n", "  epochs: 4\n");
  cfg.logging.eval_freq = 2;
  cfg.logging.print_freq = 2;
  actionclip::Trainer trainer(cfg);
  auto run = quiet();
  run.progress = true;
  ::testing::internal::CaptureStderr();
  trainer.run(run);
  const auto log = ::testing::internal::GetCapturedStderr();
  std::ifstream metrics(dir_->path("freq/metrics.jsonl"));
  std::vector<int> validated;
  for (std::string line; std::getline(metrics, line);) {
    const auto row = nlohmann::json::parse(line);
    if (row.contains("val_top1")) validated.push_back(row.at("epoch").get<int>());
  }
  EXPECT_EQ(validated, (std::vector<int>{1, 3, 4}));  // 1-based epochs
  // Two batches per epoch, print_freq 2: the line after batch 2, and the final one.
  size_t lines = 0;
  for (size_t at = log.find("epoch 1/4 "); at != std::string::npos; at = log.find("epoch 1/4 ", at + 1)) ++lines;
  EXPECT_EQ(lines, 2u) << log;
}

// The reference's optimisers on one parameter p = 1 with gradient 0.5 and weight decay 0.2,
// computed by hand: SGD and Adam add the decay to the gradient, AdamW decays the weight.
TEST(ReferenceOptimizers, OneParameterByHand) {
  auto step_twice = [](const std::string& optim) {
    actionclip::SolverConfig solver;
    solver.optim = optim;
    solver.lr = 0.1;
    solver.weight_decay = 0.2;
    solver.momentum = 0.9;
    auto p = torch::ones({1}, torch::requires_grad());
    auto configured = actionclip::make_optimizer(solver, {{p}, {}, {}});
    std::vector<double> values;
    for (int i = 0; i < 2; ++i) {
      p.mutable_grad() = torch::full({1}, 0.5);
      configured.optimizer->step();
      values.push_back(p.item<double>());
    }
    return values;
  };
  // SGD: d = g + wd p; buf = 0.9 buf + d; p -= lr buf.
  const auto sgd = step_twice("sgd");
  EXPECT_NEAR(sgd[0], 1 - 0.1 * 0.7, 1e-6);
  EXPECT_NEAR(sgd[1], 0.93 - 0.1 * (0.9 * 0.7 + (0.5 + 0.2 * 0.93)), 1e-6);
  // Adam: the first step is lr times the sign of d = g + wd p.
  const auto adam = step_twice("adam");
  EXPECT_NEAR(adam[0], 0.9, 1e-6);
  // AdamW: p *= 1 - lr wd, then the step of the bare gradient.
  const auto adamw = step_twice("adamw");
  EXPECT_NEAR(adamw[0], 0.98 - 0.1, 1e-6);
  EXPECT_NEAR(adamw[1], 0.88 * (1 - 0.02) - 0.1, 1e-6);  // m/sqrt(v) is 1 again for a constant gradient
}

TEST(ReferenceOptimizers, RatioAppliesWithAdamwOnly) {
  actionclip::SolverConfig solver;
  solver.lr = 1e-3;
  solver.ratio = 0.5;
  solver.f_ratio = 10;
  for (const char* optim : {"adamw", "adam", "sgd"}) {
    solver.optim = optim;
    const auto rates = actionclip::make_optimizer(solver, {}).base_learning_rates;
    ASSERT_EQ(rates.size(), 3u);
    EXPECT_DOUBLE_EQ(rates[0], 1e-3) << optim;
    EXPECT_DOUBLE_EQ(rates[1], std::string(optim) == "adamw" ? 5e-4 : 1e-3) << optim;
    EXPECT_DOUBLE_EQ(rates[2], 1e-2) << optim;
  }
}

// The reference's CLIP dropout: emb_dropout on the embedded tokens, drop_out as stochastic depth
// and attention dropout rising over the blocks; training only.
TEST(ClipDropout, TrainingOnlyAndAtTheReferenceRates) {
  torch::manual_seed(1);
  actionclip::ClipConfig config;
  config.embed_dim = 32, config.image_resolution = 16, config.vision_layers = 3, config.vision_width = 32;
  config.vision_heads = 2, config.vision_patch_size = 8, config.text_width = 32, config.text_heads = 2;
  config.text_layers = 3, config.vocab_size = 100, config.context_length = 8;
  actionclip::ClipModel model(config);
  const auto images = torch::randn({2, 3, 16, 16});
  const auto text = torch::tensor({{98, 5, 6, 99, 0, 0, 0, 0}, {98, 7, 99, 0, 0, 0, 0, 0}});
  torch::NoGradGuard no_grad;
  model->eval();
  const auto plain_image = model->encode_image(images), plain_text = model->encode_text(text);
  model->train();
  EXPECT_TRUE(torch::equal(model->encode_image(images), plain_image));  // no dropout configured

  model->set_dropout(0.3, 0.2);
  auto vit = model->vision_transformer("test");
  for (auto* transformer : {&vit->transformer, &model->transformer}) {
    const auto& blocks = (*transformer)->blocks;
    EXPECT_DOUBLE_EQ(blocks[0]->drop_rate, 0.0);  // torch.linspace(0, 0.2, 3)
    EXPECT_DOUBLE_EQ(blocks[1]->drop_rate, 0.1);
    EXPECT_DOUBLE_EQ(blocks[2]->drop_rate, 0.2);
    EXPECT_DOUBLE_EQ(blocks[2]->attn->dropout, 0.2);
  }
  EXPECT_FALSE(torch::equal(model->encode_image(images), plain_image));
  EXPECT_FALSE(torch::equal(model->encode_text(text), plain_text));
  model->eval();
  EXPECT_TRUE(torch::equal(model->encode_image(images), plain_image));
  EXPECT_TRUE(torch::equal(model->encode_text(text), plain_text));
}

// The reference's DropPath runs on sequence-first tensors, so its one draw per "sample" is one
// per token position, shared by the whole batch: identical sequences stay identical.
TEST(ClipDropout, DropPathDrawsPerTokenPositionForTheWholeBatch) {
  torch::manual_seed(2);
  actionclip::ResidualAttentionBlock block(actionclip::BlockOptions{16, 2});
  block->drop_rate = 0.5;  // attention dropout (elementwise) left off
  const auto sequence = torch::randn({1, 12, 16});
  const auto batch = sequence.repeat({2, 1, 1});
  torch::NoGradGuard no_grad;
  block->eval();
  const auto expected = block(batch);
  block->train();
  const auto dropped = block(batch);
  EXPECT_TRUE(torch::equal(dropped[0], dropped[1]));
  EXPECT_FALSE(torch::allclose(dropped, expected));
}
