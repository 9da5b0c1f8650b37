// Data parallelism on c10d (Gloo, loopback, two ranks of one thread): the launch environments,
// and the CLI run as real jobs: 2 ranks x batch 4 train as 1 process x batch 8, a resumed job
// continues bit for bit, distributed eval equals one process's, failures end the job with a
// message naming the rank, and torchrun launches it.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "actionclip/build_paths.h"
#include "actionclip/dist/launch_environment.h"
#include "actionclip/dist/sharded_eval.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "loopback_port.h"
#include "shell.h"
#include "tiny_synth.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using actionclip::dist::expand_slurm_nodelist;
using actionclip::dist::read_launch_environment;
using actionclip::testing::quote;
using actionclip::testing::read_bytes;
using Clock = std::chrono::steady_clock;

namespace {

actionclip::dist::EnvironmentLookup lookup_in(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST(LaunchEnvironment, TorchrunVariables) {
  const auto env = read_launch_environment(lookup_in({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                                      {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node7"},
                                                      {"MASTER_PORT", "1234"}}));
  EXPECT_EQ(env.launcher, "torchrun");
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "node7");
  EXPECT_EQ(env.master_port, 1234);
  EXPECT_TRUE(env.distributed());
  EXPECT_FALSE(env.is_main());
}

TEST(LaunchEnvironment, NoLauncherIsOneProcess) {
  const auto env = read_launch_environment(lookup_in({}));
  EXPECT_EQ(env.launcher, "none");
  EXPECT_FALSE(env.distributed());
  EXPECT_TRUE(env.is_main());
}

TEST(LaunchEnvironment, SlurmTakesTheFirstHostOfTheNodelist) {
  const auto env = read_launch_environment(lookup_in({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"},
                                                      {"SLURM_LOCALID", "1"}, {"SLURM_NODEID", "2"},
                                                      {"SLURM_TASKS_PER_NODE", "2(x3),2"},
                                                      {"SLURM_JOB_NODELIST", "gpu[07-09,12],login1"}}));
  EXPECT_EQ(env.launcher, "slurm");
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "gpu07");
  EXPECT_EQ(env.master_port, 29500);
  // MASTER_ADDR wins, and torchrun's variables win over Slurm's.
  EXPECT_EQ(read_launch_environment(lookup_in({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "head"},
                                               {"SLURM_JOB_NODELIST", "gpu1"}}))
                .master_addr,
            "head");
  EXPECT_EQ(read_launch_environment(lookup_in({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"RANK", "1"},
                                               {"WORLD_SIZE", "4"}}))
                .launcher,
            "torchrun");
}

TEST(LaunchEnvironment, BadValuesNameTheVariable) {
  try {
    read_launch_environment(lookup_in({{"RANK", "two"}, {"WORLD_SIZE", "4"}}));
    FAIL() << "a non-numeric RANK was accepted";
  } catch (const actionclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("RANK='two'"), std::string::npos) << e.what();
  }
  try {
    read_launch_environment(lookup_in({{"RANK", "4"}, {"WORLD_SIZE", "4"}}));
    FAIL() << "RANK 4 of 4 was accepted";
  } catch (const actionclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("WORLD_SIZE"), std::string::npos) << e.what();
  }
}

TEST(SlurmNodelist, ExpandsAsScontrolShowHostnames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_slurm_nodelist("node1"), V({"node1"}));
  EXPECT_EQ(expand_slurm_nodelist("gpu[01-03,7],login"), V({"gpu01", "gpu02", "gpu03", "gpu7", "login"}));
  EXPECT_EQ(expand_slurm_nodelist("n[8-11]"), V({"n8", "n9", "n10", "n11"}));
  EXPECT_EQ(expand_slurm_nodelist("rack[1-2]-n[0-1]"), V({"rack1-n0", "rack1-n1", "rack2-n0", "rack2-n1"}));
  EXPECT_EQ(expand_slurm_nodelist("a[098-100]"), V({"a098", "a099", "a100"}));
  EXPECT_THROW(expand_slurm_nodelist("gpu[1-3"), actionclip::Error);
  EXPECT_THROW(expand_slurm_nodelist("gpu[3-1]"), actionclip::Error);
  EXPECT_EQ(actionclip::dist::expand_slurm_tasks_per_node("2(x3),1"), std::vector<int>({2, 2, 2, 1}));
}

TEST(ShardedEval, ShardsAreWholeBatchesDealtRoundRobin) {
  using V = std::vector<size_t>;
  EXPECT_EQ(actionclip::dist::shard_positions(7, 2, 0, 2), V({0, 1, 4, 5}));
  EXPECT_EQ(actionclip::dist::shard_positions(7, 2, 1, 2), V({2, 3, 6}));
  EXPECT_EQ(actionclip::dist::shard_positions(1, 4, 1, 2), V({}));
}

namespace {

// Every tensor of a trainer checkpoint's model (and classifier), by dotted name.
void read_tensors(torch::serialize::InputArchive& archive, const std::string& prefix,
                  std::map<std::string, torch::Tensor>& out) {
  for (const auto& key : archive.keys()) {
    torch::Tensor t;
    if (archive.try_read(key, t)) {
      out[prefix + key] = t;
      continue;
    }
    torch::serialize::InputArchive child;
    if (archive.try_read(key, child)) read_tensors(child, prefix + key + ".", out);
  }
}

std::map<std::string, torch::Tensor> checkpoint_tensors(const std::string& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  std::map<std::string, torch::Tensor> out;
  for (const char* part : {"model", "classifier"}) {
    torch::serialize::InputArchive sub;
    if (archive.try_read(part, sub)) read_tensors(sub, std::string(part) + ".", out);
  }
  return out;
}

std::vector<double> epoch_losses(const std::string& metrics) {
  std::vector<double> losses;
  std::ifstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) losses.push_back(nlohmann::json::parse(line)["train_loss"].get<double>());
  return losses;
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    bpe_ = actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz";
    if (!fs::exists(bpe_)) GTEST_SKIP() << "CLIP tokenizer file not found under " << actionclip::testing::shared_data_dir();
    ASSERT_TRUE(fs::exists(ACTIONCLIP_CLI_PATH)) << "CLI not built at " << ACTIONCLIP_CLI_PATH;
    dir_.emplace("actionclip_dist_");
    actionclip::testing::write_tiny_synth(dir_->path("data"), {"left", "right"}, 2);
  }
  void TearDown() override { dir_.reset(); }

  std::string path(const std::string& name) const { return dir_->path(name); }

  // A config training the tiny model on the 8 synthetic videos (one step of batch 8 per epoch).
  // SGD: Adam divides by the gradient's magnitude, so on parameters whose gradient is nearly 0 it
  // turns float rounding (the ranks reduce in another order) into steps of the learning rate.
  // Measured with AdamW (lr 1e-3, weight decay 0.2, eps 1e-8, 3 steps): the losses agree within
  // 3e-6, but 94 tensors end more than 1e-5 apart: worst the key third of every attention's
  // in_proj_bias (0.03 to 0.23 of its size; exactly zero gradient in exact arithmetic, softmax
  // ignoring a shift), then scattered elements of the weights (up to 8e-3). One process with 1
  // and with 2 threads is no closer (18 tensors, up to 5e-2), so no AdamW tolerance is meaningful.
  std::string config(const std::string& run, const std::string& network = "", const std::string& solver = "",
                     int epochs = 3) const {
    const std::string yaml = "seed: 3\n"
                             "data:\n  num_segments: 4\n  batch_size: " + std::to_string(batch_size_) + "\n  workers: 1\n"
                             "  train_list: " + path("data/train.txt") + "\n"
                             "  label_list: " + path("data/labels.csv") + "\n"
                             "network:\n  arch: " + arch_ + "\n  init: false\n  sim_header: Transf\n" + network +
                             "  bpe: " + bpe_.string() + "\n"
                             "solver:\n  epochs: " + std::to_string(epochs) + "\n  optim: sgd\n  lr: 0.05\n  lr_warmup_step: 0\n" + solver +
                             "logging:\n  output_dir: " + path(run) + "\n";
    return dir_->write(run + ".yaml", yaml);
  }

  // Runs `actionclip ARGS` with a shell, output to RUN.out/.err under the test folder; the exit code.
  int cli(const std::string& args, const std::string& log, const std::string& env = "") const {
    const std::string command = env + " ACTIONCLIP_CACHE=" + quote(path("cache")) + " " + quote(ACTIONCLIP_CLI_PATH) + " " +
                                args + " >" + quote(path(log + ".out")) + " 2>" + quote(path(log + ".err"));
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string err(const std::string& log) const { return read_bytes(path(log + ".err")); }

  // Trains with one process (batch 8) and with two ranks (4 each): the same loss every step and
  // the same final weights.
  void expect_same_training(const std::string& network, const std::string& solver) {
    ASSERT_EQ(cli("-t 1 train -q --config " + config("single", network, solver), "single"), 0) << err("single");
    ASSERT_EQ(cli("-t 1 train -q --nproc 2 --dist-timeout 60 --config " + config("ranks", network, solver), "ranks"), 0)
        << err("ranks");
    const auto single = epoch_losses(path("single/metrics.jsonl"));
    const auto ranks = epoch_losses(path("ranks/metrics.jsonl"));
    ASSERT_EQ(single.size(), 3u);
    ASSERT_EQ(ranks.size(), 3u) << "one writer: one line per epoch";
    for (size_t i = 0; i < single.size(); ++i) EXPECT_NEAR(ranks[i], single[i], 1e-5 * std::abs(single[i])) << "step " << i;
    EXPECT_NE(single.front(), single.back()) << "training did not change the loss";
    const auto a = checkpoint_tensors(path("single/last.pt"));
    const auto b = checkpoint_tensors(path("ranks/last.pt"));
    ASSERT_EQ(a.size(), b.size());
    ASSERT_GT(a.size(), 10u);
    for (const auto& [name, value] : a) {
      ASSERT_TRUE(b.count(name)) << name;
      // Tensors that stay below 1e-3 barely train (the tiny ResNet's layer3 batch-norm biases stay
      // under 5e-6): float noise is more than 1e-5 of their size (one process with 1 and with 2
      // threads differs by 3e-4 of it there), so 1e-8 absolute.
      const double scale = std::max(value.abs().max().item<double>(), 1e-3);
      EXPECT_LE((b.at(name) - value).abs().max().item<double>(), 1e-5 * scale) << name;
    }
  }

  fs::path bpe_;
  std::optional<actionclip::testing::TempDir> dir_;
  std::string arch_ = "tiny";
  int batch_size_ = 8;
};

}  // namespace

TEST_F(Distributed, TwoRanksOfFourTrainAsOneProcessOfEightWithGatheredFeatures) { expect_same_training("", ""); }

TEST_F(Distributed, LocalLossGivesTheSameTraining) { expect_same_training("", "  local_loss: true\n"); }

TEST_F(Distributed, UnimodalBaselineTrainsTheSame) { expect_same_training("  baseline: unimodal\n", ""); }

TEST_F(Distributed, GradientAccumulationTrainsTheSame) {
  batch_size_ = 4;  // two micro-steps of 4 videos (2 per rank) to each optimiser step
  expect_same_training("", "  grad_accumulation: 2\n");
}

// A ResNet CLIP: with sync_bn the ranks' batch norm uses the global batch's statistics, which is
// what one process (where sync_bn changes nothing) does; the running statistics are compared too.
TEST_F(Distributed, SyncBatchNormTrainsAsOneProcess) {
  arch_ = "tiny-rn";
  expect_same_training("  sync_bn: true\n", "");
}

TEST_F(Distributed, ResumedJobContinuesBitForBitWithOneWriter) {
  const auto straight = config("straight", "", "", 4);
  ASSERT_EQ(cli("-t 1 train -q --nproc 2 --dist-timeout 60 --config " + straight, "straight"), 0) << err("straight");

  // The same job killed (launcher and both ranks) once its first epoch is checkpointed.
  const auto cut = config("cut", "", "", 4);
  const std::string command = "ACTIONCLIP_CACHE=" + quote(path("cache")) + " exec " + quote(ACTIONCLIP_CLI_PATH) +
                              " -t 1 train -q --nproc 2 --dist-timeout 60 --config " + quote(cut);
  const pid_t launcher = ::fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  // last.pt appears (renamed into place) when the first epoch's checkpoint is complete.
  while (!fs::exists(path("cut/last.pt")) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(launcher, SIGKILL);  // the workers die with it (PR_SET_PDEATHSIG)
  int status = 0;
  ::waitpid(launcher, &status, 0);
  const auto done = epoch_losses(path("cut/metrics.jsonl")).size();
  ASSERT_GE(done, 1u);
  ASSERT_LT(done, 4u) << "the job finished before it could be killed";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  ASSERT_EQ(cli("-t 1 train -q --nproc 2 --dist-timeout 60 --config " + cut + " --resume " + path("cut/last.pt"), "resumed"), 0)
      << err("resumed");
  const auto a = checkpoint_tensors(path("straight/last.pt"));
  const auto b = checkpoint_tensors(path("cut/last.pt"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : a) EXPECT_TRUE(torch::equal(value, b.at(name))) << name << " differs";
  // Rank 0 alone writes: one metrics line per epoch, no temporary files left behind.
  EXPECT_EQ(epoch_losses(path("straight/metrics.jsonl")).size(), 4u);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(path("straight"))) files.push_back(entry.path().filename().string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, std::vector<std::string>({"best.safetensors", "last.pt", "metrics.jsonl"}));
}

TEST_F(Distributed, EvalOverTwoRanksEqualsOneProcessExactly) {
  ASSERT_EQ(cli("-t 1 train -q --config " + config("model", "", "", 1), "train"), 0) << err("train");
  const std::string eval = "-t 1 eval -q --json -m " + path("model/best.safetensors") + " --bpe " + bpe_.string() +
                           " --list " + path("data/train.txt") + " --labels-file " + path("data/labels.csv") +
                           " --batch-size 3 --workers 1";
  ASSERT_EQ(cli(eval + " --scores " + path("one.npy"), "one"), 0) << err("one");
  ASSERT_EQ(cli(eval + " --nproc 2 --dist-timeout 60 --scores " + path("two.npy"), "two"), 0) << err("two");
  auto one = nlohmann::json::parse(read_bytes(path("one.out")));
  auto two = nlohmann::json::parse(read_bytes(path("two.out")));
  one.erase("seconds");
  two.erase("seconds");
  EXPECT_EQ(one, two);
  EXPECT_EQ(one["videos"], 8);
  const auto scores = read_bytes(path("one.npy"));
  EXPECT_FALSE(scores.empty());
  EXPECT_EQ(scores, read_bytes(path("two.npy")));
  auto frames_one = nlohmann::json::parse(read_bytes(path("one.frames.json")));
  auto frames_two = nlohmann::json::parse(read_bytes(path("two.frames.json")));
  frames_one.erase("scores");  // the score file's own name
  frames_two.erase("scores");
  EXPECT_EQ(frames_one, frames_two);
}

namespace {

// A rank started by hand, as torchrun would start it.
std::string rank_env(int rank, int world, int port) {
  return "RANK=" + std::to_string(rank) + " LOCAL_RANK=" + std::to_string(rank) + " WORLD_SIZE=" + std::to_string(world) +
         " LOCAL_WORLD_SIZE=" + std::to_string(world) + " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
}

}  // namespace

TEST_F(Distributed, ADeadRankEndsTheOthersNamingIt) {
  const auto cfg = config("dead", "", "", 200);
  const int port = actionclip::testing::free_loopback_port();
  const auto start = [&](int rank) {
    const std::string command = rank_env(rank, 2, port) + " ACTIONCLIP_CACHE=" + quote(path("cache")) + " exec " +
                                quote(ACTIONCLIP_CLI_PATH) + " -t 1 train -q --dist-timeout 20 --config " + quote(cfg) +
                                " 2>" + quote(path("rank" + std::to_string(rank) + ".err"));
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  };
  const pid_t rank0 = start(0), rank1 = start(1);
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (epoch_losses(path("dead/metrics.jsonl")).empty() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(epoch_losses(path("dead/metrics.jsonl")).empty()) << read_bytes(path("rank0.err"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into a later epoch
  ::kill(rank1, SIGKILL);
  const auto killed = Clock::now();
  int status = 0;
  ::waitpid(rank1, &status, 0);
  ::waitpid(rank0, &status, 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_LT(seconds, 20.0);
  const auto message = read_bytes(path("rank0.err"));
  EXPECT_NE(message.find("rank 1 died"), std::string::npos) << message;
}

TEST_F(Distributed, RendezvousProblemsGiveClearErrors) {
  const auto cfg = config("rendezvous");
  const std::string train = "-t 1 train -q --dist-timeout 3 --config " + cfg;
  // Nobody else joins.
  auto start = Clock::now();
  EXPECT_EQ(cli(train, "alone", rank_env(0, 2, actionclip::testing::free_loopback_port())), 1);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30.0);
  EXPECT_NE(err("alone").find("only 1 of 2 ranks joined"), std::string::npos) << err("alone");
  // Ranks that disagree on WORLD_SIZE.
  const int port = actionclip::testing::free_loopback_port();
  const std::string other = rank_env(1, 3, port) + " ACTIONCLIP_CACHE=" + quote(path("cache")) + " " +
                            quote(ACTIONCLIP_CLI_PATH) + " " + train + " 2>" + quote(path("wrong1.err")) + " &";
  ASSERT_EQ(std::system(other.c_str()), 0);
  EXPECT_EQ(cli(train, "wrong0", rank_env(0, 2, port)), 1);
  EXPECT_NE(err("wrong0").find("WORLD_SIZE=3"), std::string::npos) << err("wrong0");
  // The port is taken.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::listen(fd, 1);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  EXPECT_EQ(cli(train, "taken", rank_env(0, 2, ntohs(address.sin_port))), 1);
  ::close(fd);
  EXPECT_NE(err("taken").find("is the port in use?"), std::string::npos) << err("taken");
}

TEST_F(Distributed, TorchrunLaunchesTheJob) {
  if (std::system("command -v torchrun >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "torchrun not found (Debian's python3-torch provides it)";
  // Debian's torch 1.13 under Python 3.11 cannot parse --redirects 0 (its default): redirect and tee stderr.
  // torchrun sets OMP_NUM_THREADS=1, which changes how the BLAS splits its work (and its rounding).
  ASSERT_EQ(cli("-t 1 train -q --nproc 2 --dist-timeout 60 --config " + config("own", "", "", 1), "own", "OMP_NUM_THREADS=1"), 0)
      << err("own");
  const std::string command = "ACTIONCLIP_CACHE=" + quote(path("cache")) +
                              " torchrun --no_python --redirects 2 --tee 2 --nproc_per_node 2 --master_port " + std::to_string(actionclip::testing::free_loopback_port()) + " " +
                              quote(ACTIONCLIP_CLI_PATH) + " -t 1 train -q --dist-timeout 60 --config " +
                              quote(config("torchrun", "", "", 1)) + " >" + quote(path("torchrun.out")) + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_bytes(path("torchrun.out"));
  const auto a = checkpoint_tensors(path("own/last.pt"));
  const auto b = checkpoint_tensors(path("torchrun/last.pt"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : a) EXPECT_TRUE(torch::equal(value, b.at(name))) << name << " differs";
}
