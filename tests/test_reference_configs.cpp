// The reference's own config files parse unchanged, every key either acts or says why it does
// not, released model names resolve through the local model cache, and the reference's
// multistep schedule and stepping cadence hold at hand-computed points.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "actionclip/model/model_names.h"
#include "actionclip/train/lr_schedule.h"
#include "actionclip/train/train_config.h"
#include "actionclip/util/error.h"
#include "reference_configs.h"
#include "temp_dir.h"

namespace {

using actionclip::TrainConfig;
using namespace actionclip::testing;

std::string all_notices(const TrainConfig& c) {
  std::string text;
  for (const auto& line : c.notices) text += line + "\n";
  return text;
}

bool mentions(const TrainConfig& c, const std::string& what) { return all_notices(c).find(what) != std::string::npos; }

// Sets an environment variable for one scope, restoring the previous value after.
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

}  // namespace

TEST(ReferenceConfigs, TogetherTheyHoldEveryReferenceKey) {
  const std::string files = kK400Train + "\n" + kK400Test + "\n" + kUcfZeroShot;
  auto has = [&files](const std::string& indented_key) { return files.find("\n" + indented_key + ":") != std::string::npos; };
  for (const char* key : {"pretrain", "resume", "seed"}) EXPECT_TRUE(has(key) || files.rfind(std::string(key) + ":", 0) == 0) << key;
  for (const char* key : {"dataset", "modality", "num_segments", "seg_length", "split", "batch_size", "workers", "gpus",
                          "num_classes", "image_tmpl", "train_list", "val_list", "label_list", "index_bias", "input_size",
                          "random_shift", "arch", "init", "tsm", "drop_out", "emb_dropout", "bn_momentum",
                          "consensus_type", "type", "sim_header", "joint", "describe", "fix_text", "fix_img", "ratio",
                          "f_ratio", "epochs", "start_epoch", "epoch_offset", "optim", "lr", "lr_warmup_step", "momentum",
                          "weight_decay", "lr_decay_step", "lr_decay_factor", "clip_gradient", "loss_type", "evaluate",
                          "print_freq", "eval_freq"})
    EXPECT_TRUE(has(std::string("    ") + key)) << key;
  EXPECT_TRUE(has("        N") && has("        M"));
}

TEST(ReferenceConfigs, TheTrainFileReadsAsTheReferenceReadsIt) {
  const auto c = TrainConfig::parse(kK400Train, "", "k400_train.yaml");
  EXPECT_EQ(c.seed, 1024u);
  EXPECT_TRUE(c.pretrain.empty());
  EXPECT_TRUE(c.resume.empty());
  EXPECT_EQ(c.data.num_segments, 8);
  EXPECT_EQ(c.data.batch_size, 128);
  EXPECT_EQ(c.data.workers, 16);
  EXPECT_EQ(c.data.num_classes, 400);
  EXPECT_EQ(c.data.image_tmpl, "img_{:05d}.jpg");
  EXPECT_EQ(c.data.train_list, "lists/k4001/train_frames_new.txt");
  EXPECT_EQ(c.data.val_list, "lists/k4001/val_frames_re.txt");
  EXPECT_EQ(c.data.index_bias, 1);
  EXPECT_EQ(c.data.input_size, 224);
  EXPECT_EQ(c.data.augment.randaug.N, 2);
  EXPECT_EQ(c.data.augment.randaug.M, 9);
  EXPECT_TRUE(c.data.random_shift);
  EXPECT_EQ(c.network.arch, "ViT-B/32");
  EXPECT_TRUE(c.network.init);
  EXPECT_FALSE(c.network.tsm);
  EXPECT_FALSE(c.network.joint);
  EXPECT_EQ(c.network.sim_header, "Transf");
  EXPECT_EQ(c.network.drop_out, 0.0);
  EXPECT_EQ(c.network.emb_dropout, 0.0);
  EXPECT_EQ(c.solver.type, "cosine");
  EXPECT_EQ(c.solver.epochs, 50);
  EXPECT_EQ(c.solver.start_epoch, 0);
  EXPECT_EQ(c.solver.optim, "adamw");
  EXPECT_DOUBLE_EQ(c.solver.lr, 5e-6);
  EXPECT_DOUBLE_EQ(c.solver.lr_warmup_step, 5);
  EXPECT_DOUBLE_EQ(c.solver.momentum, 0.9);
  EXPECT_DOUBLE_EQ(c.solver.weight_decay, 0.2);
  EXPECT_EQ(c.solver.lr_decay_step, 15);
  EXPECT_DOUBLE_EQ(c.solver.lr_decay_factor, 0.1);
  EXPECT_DOUBLE_EQ(c.solver.clip_gradient, 20);
  EXPECT_FALSE(c.solver.evaluate);
  EXPECT_DOUBLE_EQ(c.solver.ratio, 1);
  EXPECT_DOUBLE_EQ(c.solver.f_ratio, 10);
  EXPECT_EQ(c.logging.print_freq, 10);
  EXPECT_EQ(c.logging.eval_freq, 1);

  // Where the file asks for something this project does otherwise than the reference's code, or
  // for nothing at all, a notice says so; keys that do what the reference does stay quiet.
  EXPECT_TRUE(mentions(c, "solver.clip_gradient 20")) << all_notices(c);
  EXPECT_TRUE(mentions(c, "data.random_shift")) << all_notices(c);
  EXPECT_TRUE(mentions(c, "data.dataset and network.type")) << all_notices(c);
  for (const char* unread : {"solver.epoch_offset", "solver.loss_type", "solver.momentum (sgd only)",
                             "solver.lr_decay_step (multistep only)", "solver.lr_decay_factor (multistep only)"})
    EXPECT_TRUE(mentions(c, unread)) << unread << "\n" << all_notices(c);
  for (const char* quiet : {"modality", "seg_length", "describe", "fix_img", "solver.ratio"})
    EXPECT_FALSE(mentions(c, quiet)) << quiet << "\n" << all_notices(c);
  for (const auto& line : c.notices) EXPECT_EQ(line.rfind("k400_train.yaml: ", 0), 0u) << line;
}

TEST(ReferenceConfigs, TheTestAndZeroShotFilesNeedNoTrainList) {
  const auto test = TrainConfig::parse(kK400Test, "", "k400_test.yaml");
  EXPECT_TRUE(test.data.train_list.empty());
  EXPECT_EQ(test.data.split, 1);
  EXPECT_EQ(test.data.batch_size, 64);
  EXPECT_FALSE(test.data.random_shift);
  EXPECT_EQ(test.network.arch, "ViT-B/32");
  for (const char* unread : {"data.gpus", "network.bn_momentum", "network.consensus_type", "network.ratio", "network.f_ratio"})
    EXPECT_TRUE(mentions(test, unread)) << unread << "\n" << all_notices(test);
  EXPECT_FALSE(mentions(test, "random_shift")) << all_notices(test);
  EXPECT_FALSE(mentions(test, "clip_gradient")) << all_notices(test);

  const auto zero_shot = TrainConfig::parse(kUcfZeroShot, "", "ucf_zero_shot.yaml");
  EXPECT_TRUE(zero_shot.data.train_list.empty());
  EXPECT_TRUE(zero_shot.pretrain.empty());
  EXPECT_EQ(zero_shot.network.arch, "ViT-B/16");
  EXPECT_FALSE(zero_shot.network.fix_text);
  EXPECT_EQ(zero_shot.data.num_classes, 101);
  EXPECT_EQ(zero_shot.data.augment.randaug.N, 0);
  EXPECT_FALSE(mentions(zero_shot, "fix_img")) << all_notices(zero_shot);  // false: the image encoder trains, as there
}

TEST(ReferenceConfigs, SettingsTheReferenceIgnoresOrTreatsOtherwiseAreNoticed) {
  auto parse = [](const std::string& data, const std::string& network, const std::string& solver) {
    return TrainConfig::parse("data:\n  label_list: labels.csv\n" + data + "network:\n  arch: tiny\n" + network +
                                  "solver:\n  lr: 1.e-3\n" + solver,
                              "", "cfg.yaml");
  };
  EXPECT_TRUE(mentions(parse("  modality: Flow\n", "", ""), "data.modality 'Flow' has no effect"));
  EXPECT_TRUE(mentions(parse("  seg_length: 2\n", "", ""), "data.seg_length 2 has no effect"));
  EXPECT_TRUE(mentions(parse("", "  fix_img: true\n", ""), "network.fix_img has no effect"));
  const auto multistep = parse("", "", "  type: multistep\n  lr_decay_step: 10\n  lr_decay_factor: 0.5\n  momentum: 0.9\n");
  EXPECT_TRUE(mentions(multistep, "solver.lr_decay_factor 0.5")) << all_notices(multistep);
  EXPECT_TRUE(mentions(multistep, "solver.momentum (sgd only)")) << all_notices(multistep);
  EXPECT_FALSE(mentions(multistep, "lr_decay_step")) << all_notices(multistep);
  const auto adam = parse("", "", "  optim: adam\n  weight_decay: 0.1\n  ratio: 0.5\n");
  EXPECT_TRUE(mentions(adam, "solver.weight_decay 0.1")) << all_notices(adam);
  EXPECT_TRUE(mentions(adam, "solver.ratio (adamw only)")) << all_notices(adam);
  const auto sgd = parse("", "", "  optim: sgd\n  momentum: 0.8\n");
  EXPECT_EQ(sgd.solver.optim, "sgd");
  EXPECT_DOUBLE_EQ(sgd.solver.momentum, 0.8);
  EXPECT_FALSE(mentions(sgd, "momentum")) << all_notices(sgd);

  EXPECT_THROW(parse("", "", "  optim: rmsprop\n"), actionclip::FileError);
  EXPECT_THROW(parse("", "", "  type: step\n"), actionclip::FileError);
  EXPECT_THROW(parse("", "  drop_out: 1.0\n", ""), actionclip::FileError);
}

TEST(ReferenceConfigs, MultistepScheduleAsTheReferenceComputesIt) {
  actionclip::SolverConfig solver;
  solver.type = "multistep";
  solver.epochs = 50;
  solver.lr_warmup_step = 5;
  solver.lr_decay_step = 15;  // the reference's milestones: 15, 30, 45
  auto schedule = actionclip::LearningRateSchedule::from_config(solver, "cfg.yaml");
  EXPECT_DOUBLE_EQ(schedule.factor(0), 0.0);
  EXPECT_DOUBLE_EQ(schedule.factor(2.5), 0.5);  // linear warmup
  EXPECT_DOUBLE_EQ(schedule.factor(5), 1.0);
  EXPECT_DOUBLE_EQ(schedule.factor(14.9), 1.0);
  EXPECT_DOUBLE_EQ(schedule.factor(15), 0.1);  // bisect_right: a milestone counts from its own epoch on
  EXPECT_DOUBLE_EQ(schedule.factor(29.9), 0.1);
  EXPECT_NEAR(schedule.factor(30), 0.01, 1e-15);
  EXPECT_NEAR(schedule.factor(49.9), 0.001, 1e-15);

  solver.lr_decay_milestones = {8, 20};
  solver.lr_decay_factor = 0.5;
  schedule = actionclip::LearningRateSchedule::from_config(solver, "cfg.yaml");
  EXPECT_DOUBLE_EQ(schedule.factor(7.99), 1.0);
  EXPECT_DOUBLE_EQ(schedule.factor(8), 0.5);
  EXPECT_DOUBLE_EQ(schedule.factor(20), 0.25);

  solver.lr_decay_milestones = {4, 20};  // the reference refuses a decay inside the warmup
  EXPECT_THROW(actionclip::LearningRateSchedule::from_config(solver, "cfg.yaml"), actionclip::FileError);

  const auto listed = TrainConfig::parse("data:\n  label_list: l.csv\nsolver:\n  type: multistep\n  lr_warmup_step: 0\n"
                                         "  lr_decay_step: [3, 6]\n",
                                         "", "cfg.yaml");
  EXPECT_EQ(listed.solver.lr_decay_milestones, (std::vector<double>{3, 6}));
  schedule = actionclip::LearningRateSchedule::from_config(listed.solver, "cfg.yaml");
  EXPECT_DOUBLE_EQ(schedule.factor(2), 1.0);
  EXPECT_NEAR(schedule.factor(6), 0.01, 1e-15);
}

TEST(ReferenceConfigs, CosineScheduleIsTheReferenceWarmupCosine) {
  actionclip::SolverConfig solver;
  solver.epochs = 10;
  solver.lr_warmup_step = 2;
  const auto schedule = actionclip::LearningRateSchedule::from_config(solver, "cfg.yaml");
  EXPECT_DOUBLE_EQ(schedule.factor(1), 0.5);
  EXPECT_DOUBLE_EQ(schedule.factor(2), 1.0);
  EXPECT_NEAR(schedule.factor(6), 0.5, 1e-15);  // half way through the cosine
  EXPECT_NEAR(schedule.factor(10), 0.0, 1e-15);
}

TEST(ReferenceConfigs, TheRateMovesAtTheBatchesTrainPyStepsAt) {
  // train.py: lr_scheduler.step(epoch + kkk / len(loader)) when kkk == 0 or (kkk + 1) % 10 == 0.
  EXPECT_DOUBLE_EQ(actionclip::schedule_epoch(3, 0, 25), 3.0);
  EXPECT_DOUBLE_EQ(actionclip::schedule_epoch(3, 8, 25), 3.0);
  EXPECT_DOUBLE_EQ(actionclip::schedule_epoch(3, 9, 25), 3 + 9 / 25.0);
  EXPECT_DOUBLE_EQ(actionclip::schedule_epoch(3, 18, 25), 3 + 9 / 25.0);
  EXPECT_DOUBLE_EQ(actionclip::schedule_epoch(3, 19, 25), 3 + 19 / 25.0);
  EXPECT_DOUBLE_EQ(actionclip::schedule_epoch(3, 24, 25), 3 + 19 / 25.0);
}

TEST(ReferenceConfigs, ReleasedModelNamesResolveThroughTheModelCache) {
  TempDir cache("actionclip_cache_"), home("actionclip_home_");
  ScopedEnv cache_env("ACTIONCLIP_CACHE", cache.path().string());
  ScopedEnv home_env("HOME", home.path().string());
  ScopedEnv offline("ACTIONCLIP_OFFLINE", "1");  // a missing file is not downloaded
  // The file names OpenAI's download URLs end with.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"RN50", "RN50.pt"},         {"RN101", "RN101.pt"},       {"RN50x4", "RN50x4.pt"},
      {"RN50x16", "RN50x16.pt"},   {"RN50x64", "RN50x64.pt"},   {"ViT-B/32", "ViT-B-32.pt"},
      {"ViT-B/16", "ViT-B-16.pt"}, {"ViT-L/14", "ViT-L-14.pt"}, {"ViT-L/14@336px", "ViT-L-14-336px.pt"}};
  ASSERT_EQ(actionclip::released_models().size(), expected.size());
  for (const auto& [name, file] : expected) {
    EXPECT_EQ(actionclip::released_model_file_name(name), file);
    try {
      actionclip::resolve_model_name(name);
      ADD_FAILURE() << name << " resolved without a file";
    } catch (const actionclip::Error& e) {
      EXPECT_NE(std::string(e.what()).find(cache.path("models/" + file)), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(actionclip::model_cache_dir(), cache.path("models"));
  const auto vit = cache.write("models/ViT-B-32.pt", "weights");
  EXPECT_EQ(actionclip::resolve_model_name("ViT-B/32"), vit);
  // Where openai/CLIP and the reference's code download to.
  const auto rn = home.write(".cache/clip/RN50.pt", "weights");
  EXPECT_EQ(actionclip::resolve_model_name("RN50"), rn);
  // Anything else is a path.
  EXPECT_EQ(actionclip::resolve_model_name("weights/my-clip.pt"), "weights/my-clip.pt");
  EXPECT_FALSE(actionclip::released_model_file_name("ViT-B-32.pt"));
}
