// The reference's config files through the built CLI: `eval --config` with its test file (the
// `pretrain` checkpoint is the model evaluated) and its zero-shot file (no train list, the model
// named by network.arch from the model cache); one template rule, so classify and eval agree;
// and the few-shot protocol's unimodal baseline scores with its classifier.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actionclip/build_paths.h"
#include "actionclip/io/npy.h"
#include "fixtures.h"
#include "shell.h"
#include "reference_configs.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using actionclip::testing::fixture;
using nlohmann::json;

using actionclip::testing::quote;
using actionclip::testing::read_bytes;

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

using CliRun = actionclip::testing::ShellRun;

class CliReference : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(actionclip::testing::fixtures_dir())) GTEST_SKIP() << "fixtures not found";
    if (!fs::exists(bpe_file())) GTEST_SKIP() << "CLIP tokenizer file not found: " << bpe_file();
    ASSERT_TRUE(fs::exists(ACTIONCLIP_CLI_PATH)) << "CLI not built at " << ACTIONCLIP_CLI_PATH;
    dir_.emplace("actionclip_cli_reference_");
    // The reference's relative list paths, beside the config files; video lists stand in for
    // its rawframe lists.
    std::string list;
    for (size_t i = 0; i < videos().size(); ++i) list += videos()[i] + " " + std::to_string(i) + "\n";
    write("lists/k4001/val_frames_re.txt", list);
    write("lists/ucf101_val.txt", list);
    write("lists/kinetics_400_labels.csv", labels_csv(400));
    write("lists/ucf_labels.csv", labels_csv(101));
  }
  void TearDown() override { dir_.reset(); }

  static std::string bpe_file() { return (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string(); }
  static std::vector<std::string> videos() {
    return {fixture("video/clip_h264.mp4"), fixture("video/clip_vp9.webm"), fixture("video/clip_xvid.avi")};
  }
  static std::string labels_csv(int count) {
    const char* names[] = {"running", "surfing", "cooking"};
    std::string csv = "id,name\n";
    for (int i = 0; i < count; ++i) csv += std::to_string(i) + "," + (i < 3 ? names[i] : "action " + std::to_string(i)) + "\n";
    return csv;
  }
  std::string path(const std::string& relative) const { return dir_->path(relative); }
  std::string write(const std::string& relative, const std::string& text) const { return dir_->write(relative, text); }

  // `actionclip ARGS` with the model and text caches in CACHE (under this test's folder), offline:
  // a missing released model is an error, not a download.
  CliRun run(const std::string& args, const std::string& cache = "cache") const {
    const auto err_file = path("stderr.txt");
    const std::string command = "ACTIONCLIP_OFFLINE=1 ACTIONCLIP_CACHE=" + quote(path(cache)) + " HOME=" + quote(path("home")) + " " +
                                quote(ACTIONCLIP_CLI_PATH) + " " + args;
    return actionclip::testing::run_shell(command, err_file);
  }
  json run_json(const std::string& args, const std::string& cache = "cache") const {
    const auto r = run(args, cache);
    EXPECT_EQ(r.code, 0) << args << "\nstderr: " << r.err;
    try {
      return json::parse(r.out);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "not JSON: " << r.out << "\nstderr: " << r.err;
      return json::object();
    }
  }

 private:
  std::optional<actionclip::testing::TempDir> dir_;
};

}  // namespace

// k400_test.yaml as shipped, its empty `pretrain:` filled in as a user does: the checkpoint is the
// model evaluated (not random weights), at the file's 8 segments and views of input_size.
TEST_F(CliReference, EvalRunsTheReferenceTestFileWithItsPretrainCheckpoint) {
  const auto checkpoint = fixture("reference/actionclip-tiny-transf.pt");
  const auto shipped = replaced(actionclip::testing::kK400Test, "pretrain: \n", "pretrain: " + checkpoint + "\n");
  const auto config = write("k400_test.yaml", shipped);
  const auto shipped_run = run("eval -q --json --config " + quote(config) + " --bpe " + quote(bpe_file()));
  ASSERT_EQ(shipped_run.code, 0) << shipped_run.err;
  EXPECT_EQ(json::parse(shipped_run.out).at("videos"), 3);
  EXPECT_NE(shipped_run.err.find("network.bn_momentum"), std::string::npos) << shipped_run.err;  // the notices

  // At the model's own resolution (and with three of the labels, to be quick) the same evaluation
  // by -m gives the same scores.
  write("labels3.csv", labels_csv(3));
  const auto native = write("k400_test_32.yaml", replaced(replaced(replaced(shipped, "input_size: 224", "input_size: 32"),
                                                                   "num_classes: 400", "num_classes: 3"),
                                                          "'lists/kinetics_400_labels.csv'", "labels3.csv"));
  const auto by_config = run("eval -q --json --config " + quote(native) + " --bpe " + quote(bpe_file()) + " --scores " +
                             quote(path("config.npy")));
  ASSERT_EQ(by_config.code, 0) << by_config.err;
  const auto by_model = run("eval -q --json -m " + quote(checkpoint) + " --bpe " + quote(bpe_file()) + " --frames 8" +
                            " --list " + quote(path("lists/k4001/val_frames_re.txt")) + " --labels-file " +
                            quote(path("labels3.csv")) + " --scores " + quote(path("model.npy")));
  ASSERT_EQ(by_model.code, 0) << by_model.err;
  const auto a = actionclip::io::load_npy(path("config.npy")), b = actionclip::io::load_npy(path("model.npy"));
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-7)) << (a - b).abs().max().item<double>();
}

// ucf_zero_shot.yaml as shipped, with only its val_list (an absolute path on the authors'
// machine) pointed here: no train list needed, no pretrain, network.arch ViT-B/16 read from the
// model cache; without the file, the error says where it belongs.
TEST_F(CliReference, ZeroShotFileFindsItsArchInTheModelCache) {
  const auto shipped = replaced(actionclip::testing::kUcfZeroShot,
                                "'/public/home/ock/video_clip/video-clip/lists/ucf101/val_rgb_split1.txt'",
                                "'lists/ucf101_val.txt'");
  const auto config = write("ucf_zero_shot.yaml", shipped);
  const auto args = "eval -q --json --config " + quote(config) + " --bpe " + quote(bpe_file());
  const auto missing = run(args, "empty-cache");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find(path("empty-cache/models/ViT-B-16.pt")), std::string::npos) << missing.err;

  fs::create_directories(path("cache/models"));
  fs::copy_file(fixture("reference/clip-tiny-jit.pt"), path("cache/models/ViT-B-16.pt"));  // stands in for OpenAI's file
  const auto result = run_json(args);
  EXPECT_EQ(result.at("videos"), 3);
}

// No --templates: classify and eval take the model's templates by one rule (here an ActionCLIP
// checkpoint: the reference's 16), so both give every video the same scores.
TEST_F(CliReference, ClassifyAndEvalAgreePerVideo) {
  const auto list = path("lists/k4001/val_frames_re.txt");
  for (const auto& model : {fixture("reference/actionclip-tiny-transf.pt"), path("converted.safetensors")}) {
    if (model == path("converted.safetensors")) {
      // A file that stores its own templates uses them everywhere.
      const auto c = run("convert " + quote(fixture("reference/actionclip-tiny-transf.pt")) + " " + quote(model) +
                         " --templates none");
      ASSERT_EQ(c.code, 0) << c.err;
    }
    const auto common = " -q --json -m " + quote(model) + " --bpe " + quote(bpe_file()) + " --labels running,surfing,cooking";
    const auto e = run("eval" + common + " --list " + quote(list) + " --scores " + quote(path("scores.npy")));
    ASSERT_EQ(e.code, 0) << e.err;
    const auto scores = actionclip::io::load_npy(path("scores.npy"));
    const auto classified = run_json("classify" + common + " -k 3 --no-cache " + quote(list));
    const auto& results = classified.at("results");
    ASSERT_EQ(results.size(), videos().size());
    const std::vector<std::string> names = {"running", "surfing", "cooking"};
    for (size_t i = 0; i < videos().size(); ++i) {
      const auto& top = results[i].at("predictions");
      EXPECT_EQ(top[0].at("label"), names[scores[static_cast<int64_t>(i)].argmax().item<int64_t>()]) << model << " video " << i;
      for (const auto& p : top) {
        const auto label = std::find(names.begin(), names.end(), p.at("label").get<std::string>()) - names.begin();
        EXPECT_NEAR(p.at("probability").get<double>(), scores[static_cast<int64_t>(i)][label].item<double>(), 1e-5);
      }
    }
  }
}

// The few-shot protocol with the unimodal baseline scores with the classifier it trained: the
// scores cannot depend on the names the evaluation gives the labels, as text scores do.
TEST_F(CliReference, FewShotUnimodalScoresWithItsClassifier) {
  const auto label_file = write("labels3.csv", labels_csv(3));
  const auto list = path("lists/k4001/val_frames_re.txt");
  const auto unimodal = write("few.yaml", "seed: 2\ndata:\n  num_segments: 8\n  batch_size: 3\n  workers: 1\n"
                                          "  input_size: 32\n  train_list: " + list + "\n  label_list: " + label_file + "\n"
                                          "network:\n  sim_header: meanP\n  baseline: unimodal\n"
                                          "solver:\n  epochs: 1\n  lr: 1.e-4\n  lr_warmup_step: 0\n"
                                          "logging:\n  output_dir: " + path("run") + "\n");
  auto scores = [&](const std::string& config, const std::string& labels, const std::string& out) {
    const auto r = run("eval -q --json -m " + quote(fixture("reference/actionclip-tiny-transf.pt")) + " --bpe " +
                       quote(bpe_file()) + " --labels " + labels + " --list " + quote(list) + " --shots 1 --seed 3 --config " +
                       quote(config) + " --scores " + quote(path(out)));
    EXPECT_EQ(r.code, 0) << r.err;
    const auto bytes = read_bytes(path(out));
    EXPECT_FALSE(bytes.empty());
    return bytes;
  };
  EXPECT_EQ(scores(unimodal, "running,surfing,cooking", "u1.npy"), scores(unimodal, "a,b,c", "u2.npy"));
  const auto mismatch = run("eval -q -m " + quote(fixture("reference/actionclip-tiny-transf.pt")) + " --bpe " +
                            quote(bpe_file()) + " --labels a,b --list " + quote(list) + " --shots 1 --config " + quote(unimodal));
  EXPECT_EQ(mismatch.code, 1);
  EXPECT_NE(mismatch.err.find("the unimodal baseline's classifier scores the 3 labels"), std::string::npos) << mismatch.err;
}
