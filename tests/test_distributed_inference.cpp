// Distributed classify and embed-video (Gloo, loopback, two ranks of one thread, the built-in
// model on synth clips): one output, in input order, identical to one process's, with shards of
// unequal size and an unreadable video reported as in one process; and a job's rank 1 prints
// nothing when all goes well (train, eval, classify).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "actionclip/build_paths.h"
#include "actionclip/io/npy.h"
#include "actionclip/model/builtin_model.h"
#include "loopback_port.h"
#include "shell.h"
#include "tiny_synth.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using actionclip::testing::quote;
using actionclip::testing::read_bytes;

namespace {

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
  return count;
}

class DistributedInference : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(ACTIONCLIP_CLI_PATH)) << "CLI not built at " << ACTIONCLIP_CLI_PATH;
    dir_.emplace("actionclip_distinfer_");
    actionclip::testing::write_tiny_synth(dir_->path("data"), {"left", "up"}, 5);
    std::ifstream list(path("data/train.txt"));
    for (std::string line; std::getline(list, line);)
      if (!line.empty()) videos_.push_back(path("data/" + line.substr(0, line.find(' '))));
    ASSERT_EQ(videos_.size(), 8u);
    dir_->write("broken.avi", "not a video");
  }
  void TearDown() override { dir_.reset(); }

  std::string path(const std::string& name) const { return dir_->path(name); }

  // A list of `good` videos with the unreadable one at `broken_at` (none when negative).
  std::string input_list(const std::string& name, size_t good, int broken_at) const {
    std::string lines;
    for (size_t i = 0; i < good; ++i) {
      if (static_cast<int>(i) == broken_at) lines += path("broken.avi") + "\n";
      lines += videos_[i] + "\n";
    }
    return dir_->write(name, lines);
  }

  // `actionclip ARGS` (one thread, the test's cache), with its stdout and stderr.
  actionclip::testing::ShellRun cli(const std::string& args, const std::string& log) const {
    return actionclip::testing::run_shell("ACTIONCLIP_CACHE=" + quote(path("cache")) + " " + quote(ACTIONCLIP_CLI_PATH) +
                                              " -t 1 " + args,
                                          path(log + ".err"));
  }

  std::optional<actionclip::testing::TempDir> dir_;
  std::vector<std::string> videos_;
};

// 7 inputs in batches of 2: rank 0 encodes positions 0,1,4,5 and rank 1 positions 2,3,6.
constexpr size_t kGoodVideos = 6;
constexpr int kBrokenAt = 3;
const std::string kDist = " --nproc 2 --dist-timeout 60";

}  // namespace

TEST_F(DistributedInference, ClassifyOverTwoRanksPrintsWhatOneProcessPrints) {
  const auto list = input_list("inputs.txt", kGoodVideos, kBrokenAt);
  const std::string classify = "classify -q --batch-size 2 --workers 1 -k 3 " + quote(list);

  const auto one = cli(classify + " --json", "one");
  const auto two = cli(classify + " --json" + kDist, "two");
  EXPECT_EQ(one.code, 2) << one.err;
  EXPECT_EQ(two.code, 2) << two.err;
  auto one_json = nlohmann::json::parse(one.out);
  auto two_json = nlohmann::json::parse(two.out);
  one_json.erase("seconds");
  two_json.erase("seconds");
  EXPECT_EQ(one_json.dump(), two_json.dump());
  ASSERT_EQ(two_json["results"].size(), kGoodVideos + 1);
  EXPECT_EQ(two_json["failed"], 1);
  EXPECT_EQ(two_json["results"][kBrokenAt]["path"], path("broken.avi"));
  EXPECT_TRUE(two_json["results"][kBrokenAt].contains("error"));
  EXPECT_EQ(two_json["results"][kBrokenAt + 1]["path"], videos_[kBrokenAt]);
  // The bad video is reported once; the launcher does not call a finished job with failed inputs a crash.
  EXPECT_EQ(count_of(two.err, "actionclip: failed: "), 1u) << two.err;
  EXPECT_EQ(count_of(two.err, "built-in model"), 1u) << two.err;
  EXPECT_EQ(two.err.find("rank 0 exited"), std::string::npos) << two.err;

  const auto one_text = cli(classify, "one_text");
  const auto two_text = cli(classify + kDist, "two_text");
  EXPECT_EQ(one_text.code, 2);
  EXPECT_EQ(two_text.code, 2);
  EXPECT_FALSE(one_text.out.empty());
  EXPECT_EQ(one_text.out, two_text.out);
}

TEST_F(DistributedInference, EmbedVideoOverTwoRanksWritesTheSameEmbeddings) {
  const auto list = input_list("inputs.txt", kGoodVideos, kBrokenAt);
  const std::string embed = "embed-video -m " + quote(actionclip::builtin_model_path()) +
                            " --batch-size 2 --workers 1 " + quote(list) + " -o ";
  const auto one = cli(embed + quote(path("one.npy")), "one");
  const auto two = cli(embed + quote(path("two.npy")) + kDist, "two");
  EXPECT_EQ(one.code, 2) << one.err;
  EXPECT_EQ(two.code, 2) << two.err;
  EXPECT_EQ(count_of(two.err, "actionclip: skipped "), 1u) << two.err;
  const auto a = actionclip::io::load_npy(path("one.npy"));
  const auto b = actionclip::io::load_npy(path("two.npy"));
  ASSERT_EQ(a.size(0), static_cast<int64_t>(kGoodVideos));
  EXPECT_TRUE(torch::equal(a, b));

  // The names travel in input order.
  ASSERT_EQ(cli(embed + quote(path("two.json")) + kDist, "two_json").code, 2);
  const auto doc = nlohmann::json::parse(read_bytes(path("two.json")));
  EXPECT_EQ(doc["paths"], nlohmann::json(std::vector<std::string>(videos_.begin(), videos_.begin() + kGoodVideos)));
}

namespace {

// Both ranks of a job started by hand, as torchrun starts them, each with its own output files
// RANK.out / RANK.err under `log`; their exit codes.
std::pair<int, int> run_two_ranks(const std::string& args, const std::string& log, const std::string& cache) {
  const int port = actionclip::testing::free_loopback_port();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    const std::string command =
        "RANK=" + std::to_string(rank) + " LOCAL_RANK=" + std::to_string(rank) +
        " WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
        " ACTIONCLIP_CACHE=" + quote(cache) + " exec " + quote(ACTIONCLIP_CLI_PATH) + " -t 1 " + args + " >" +
        quote(log + std::to_string(rank) + ".out") + " 2>" + quote(log + std::to_string(rank) + ".err");
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ranks.push_back(pid);
  }
  int codes[2];
  for (int rank = 0; rank < 2; ++rank) {
    int status = 0;
    ::waitpid(ranks[static_cast<size_t>(rank)], &status, 0);
    codes[rank] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return {codes[0], codes[1]};
}

}  // namespace

TEST_F(DistributedInference, OnlyRankZeroPrintsNoticesProgressAndResults) {
  const std::string dist = " --dist-timeout 60";
  const auto expect_rank1_silent = [&](const std::string& args, const std::string& log) {
    const auto [rank0, rank1] = run_two_ranks(args + dist, path(log), path("cache"));
    EXPECT_EQ(rank0, 0) << read_bytes(path(log + "0.err"));
    EXPECT_EQ(rank1, 0) << read_bytes(path(log + "1.err"));
    EXPECT_EQ(read_bytes(path(log + "1.out")), "") << log;
    EXPECT_EQ(read_bytes(path(log + "1.err")), "") << log;
    EXPECT_NE(read_bytes(path(log + "0.err")), "") << log << ": rank 0 printed no progress";
  };
  expect_rank1_silent("classify --batch-size 2 --workers 1 " + quote(input_list("good.txt", 5, -1)), "classify");
  EXPECT_NE(read_bytes(path("classify0.out")), "");
  EXPECT_NE(read_bytes(path("classify0.err")).find("built-in model"), std::string::npos);
  expect_rank1_silent("eval --batch-size 3 --workers 1 --list " + quote(path("data/train.txt")) + " --labels-file " +
                          quote(path("data/labels.csv")),
                      "eval");
  EXPECT_NE(read_bytes(path("eval0.out")).find("top-1"), std::string::npos);

  // Fine-tuning the built-in model, which carries its tokenizer: one step of the global batch 8.
  const auto config = dir_->write("train.yaml", "seed: 3\n"
                                                "data:\n  num_segments: 4\n  batch_size: 8\n  workers: 1\n"
                                                "  train_list: " + path("data/train.txt") + "\n"
                                                "  label_list: " + path("data/labels.csv") + "\n"
                                                "network:\n  arch: tiny\n  pretrained: " +
                                                    actionclip::builtin_model_path() + "\n"
                                                "solver:\n  epochs: 1\n  optim: sgd\n  lr: 0.01\n  lr_warmup_step: 0\n"
                                                "logging:\n  output_dir: " + path("run") + "\n");
  expect_rank1_silent("train --config " + quote(config), "train");
  EXPECT_TRUE(fs::exists(path("run/last.pt")));
}
