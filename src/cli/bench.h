#pragma once
// What the benchmarks share: their options, timing and the side-by-side Python reference figures.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace actionclip::cli {

struct BenchArgs {
  int batch = 16;
  int text_batch = 256;
  int prompt_tokens = 12;
  double seconds = 5;
  std::string device = "cpu";
  std::string python = "/usr/bin/python3";
  bool json = false;
  // clip
  std::string arch = "ViT-B/32";  // any network.arch name
  // video
  int clips = 16;
  double clip_seconds = 10;
  int frames = 8;
  std::string work_dir;
  std::vector<std::string> video_precisions = {"fp32", "bf16", "int8"};  // classify end to end in each
  // train
  int steps = 3;
  int nproc = 0;            // >1: scaling over this many local ranks
  std::string result_file;  // internal: a scaling run's rank 0 writes its figures here
  std::string bpe;
  std::string precision = "fp32";
  // load
  int repeat = 3;
  std::vector<std::string> files;
  std::string measure_one;  // internal: measure one file in this (fresh) process
  // int8
  int accuracy_clips = 100;  // ViT-B/32-shaped clips; the built-in model gets 5x as many
};

int bench_clip(const BenchArgs& a);
int bench_video(const BenchArgs& a);
int bench_train(const BenchArgs& a);
int bench_train_scaling(const BenchArgs& a);
int bench_load(const BenchArgs& a);
int bench_serve(const BenchArgs& a);
int bench_int8(const BenchArgs& a);

// The CPU (model, features), thread count and libtorch version, for every benchmark's JSON.
nlohmann::json machine_json();
double now_seconds();
double peak_memory_mb();
// Runs a reference script; its last stdout line is a JSON object. Empty when Python or torch is absent.
nlohmann::json run_python(const std::string& python, const std::string& script, const std::string& arguments);
// Path of a script in bench/ (source tree or installed data), empty when missing.
std::string bench_script(const std::string& name);
// One figure, with the Python figure under `key` and the ratio when there is one.
void print_ratio(const char* what, double ours, const nlohmann::json& python, const char* key);

// Items per second of `run` (which handles `items` per call) over about `seconds`.
template <typename F>
double throughput(F&& run, int64_t items, double seconds, const torch::Device& device) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  run();
  sync();
  const double start = now_seconds();
  int64_t runs = 0;
  double elapsed = 0;
  do {
    run();
    sync();
    ++runs;
    elapsed = now_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(items * runs) / elapsed;
}

}  // namespace actionclip::cli
