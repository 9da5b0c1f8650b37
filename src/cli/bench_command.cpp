// actionclip bench clip|video|train|load: throughput figures (never pass/fail), side by side with the
// Python reference path when python3-torch is installed.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "actionclip/build_paths.h"
#include "actionclip/system/cpu_features.h"
#include "actionclip/system/openblas_core.h"
#include "bench.h"
#include "commands.h"

namespace actionclip::cli {
namespace fs = std::filesystem;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peak_memory_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

nlohmann::json run_python(const std::string& python, const std::string& script, const std::string& arguments) {
  if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0) return {};
  const auto command = python + " " + script + " " + arguments;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return {};
  std::string output, last;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) output = buffer, last = output.find('{') == 0 ? output : last;
  try {
    return nlohmann::json::parse(last);
  } catch (const nlohmann::json::exception&) {
    return {{"error", "reference script failed: " + command}};
  }
}

std::string bench_script(const std::string& name) {
  for (const auto& dir : {fs::path(ACTIONCLIP_SOURCE_DIR) / "bench", fs::path(ACTIONCLIP_DATA_DIR) / "bench"})
    if (fs::exists(dir / name)) return (dir / name).string();
  return {};
}

void print_ratio(const char* what, double ours, const nlohmann::json& python, const char* key) {
  // Figures below 10 (videos/s on small CPUs) keep two decimals, so their ratio can be read.
  auto digits = [](double value) { return std::abs(value) < 10 ? 2 : 1; };
  if (python.contains(key)) {
    const double theirs = python[key].get<double>();
    std::printf("  %-34s %10.*f   python %10.*f   ratio %.2fx\n", what, digits(ours), ours, digits(theirs), theirs,
                ours / theirs);
  } else {
    std::printf("  %-34s %10.*f\n", what, digits(ours), ours);
    if (python.contains("error")) std::printf("  (no Python figure: %s)\n", python["error"].get<std::string>().c_str());
  }
}

nlohmann::json machine_json() {
  const auto& cpu = cpu_features();
  return {{"cpu", cpu.model},
          {"cores", cpu.cores},
          {"logical_processors", cpu.logical_processors},
          {"features", cpu.names()},
          {"threads", torch::get_num_threads()},
          {"openblas_core", openblas_core()},
          {"libtorch", TORCH_VERSION}};
}

namespace {

// Figures mean little without the machine: every benchmark's first line names the CPU.
Action with_machine_line(const std::shared_ptr<BenchArgs>& args, int (*bench)(const BenchArgs&)) {
  return [args, bench] {
    if (!args->json && args->measure_one.empty())
      std::printf("machine: %s; libtorch %s, %d threads, OpenBLAS %s\n", cpu_features().describe().c_str(),
                  TORCH_VERSION, torch::get_num_threads(), openblas_core().c_str());
    return bench(*args);
  };
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto* bench = app.add_subcommand("bench", "Throughput benchmarks (figures only), next to the Python reference path");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  auto common = [args](CLI::App* cmd) {
    add_device_option(cmd, args->device);
    cmd->add_option("--seconds", args->seconds, "measuring time per figure")->capture_default_str();
    cmd->add_option("--python", args->python, "Python with torch for the reference figures")->capture_default_str();
    cmd->add_flag("--json", args->json, "machine-readable output");
  };
  auto* clip = bench->add_subcommand("clip", "Image and text encoding throughput of a CLIP shape (default ViT-B/32)");
  common(clip);
  clip->add_option("--arch", args->arch, "shape: ViT-B/32, ViT-B/16, ViT-L/14, RN50, RN101, RN50x4, ... (random weights)")
      ->capture_default_str();
  clip->add_option("--batch", args->batch, "images per call")->capture_default_str();
  clip->add_option("--text-batch", args->text_batch, "prompts per call")->capture_default_str();
  clip->add_option("--prompt-tokens", args->prompt_tokens, "tokens per prompt incl. start/end")->capture_default_str();
  clip->add_option("--precision", args->precision, "fp32, bf16 (autocast) or int8 (CPU)")->capture_default_str();
  clip->callback([&action, args] { action = with_machine_line(args, bench_clip); });

  auto* video = bench->add_subcommand("video", "Decoding, sampling and end-to-end classify throughput");
  common(video);
  video->add_option("--clips", args->clips, "benchmark clips to generate")->capture_default_str();
  video->add_option("--clip-seconds", args->clip_seconds, "length of each clip")->capture_default_str();
  video->add_option("--frames", args->frames, "frames sampled per video")->capture_default_str();
  video->add_option("--work-dir", args->work_dir, "where the clips are written (reused when present)");
  video->add_option("--precision", args->video_precisions, "end-to-end classify in each of fp32, bf16, int8 (comma list)")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}))
      ->default_str("fp32,bf16,int8");
  video->callback([&action, args] { action = with_machine_line(args, bench_video); });

  auto* train = bench->add_subcommand("train", "Training throughput of a ViT-B/32-shaped ActionCLIP, data loading included");
  common(train);
  train->add_option("--frames", args->frames, "frames per video")->capture_default_str();
  train->add_option("--steps", args->steps, "optimizer steps measured")->capture_default_str();
  train->add_option("--bpe", args->bpe, "CLIP tokenizer file");
  train->add_option("--work-dir", args->work_dir, "where the clips are written (reused when present)");
  train->add_option("--nproc", args->nproc, "scaling: also train on N local data-parallel ranks sharing the threads")
      ->capture_default_str();
  train->add_option("--result-file", args->result_file)->group("");  // a scaling run's ranks
  train->callback([&action, args] { action = with_machine_line(args, bench_train); });

  auto* load = bench->add_subcommand("load", "Checkpoint loading time and memory, next to Python's torch.load");
  common(load);
  load->add_option("--repeat", args->repeat, "loads per file (the fastest is reported)")->capture_default_str();
  load->add_option("--bpe", args->bpe, "CLIP tokenizer file, for the classify memory figures");
  load->add_option("--work-dir", args->work_dir, "where the ViT-B/32-shaped file is written (reused when present)");
  load->add_option("files", args->files, "further checkpoint files to measure");
  load->add_option("--measure-one", args->measure_one)->group("");  // the child process of a measurement
  load->callback([&action, args] { action = with_machine_line(args, bench_load); });

  auto* serve = bench->add_subcommand("serve", "The HTTP service's requests/s and latency at 1, 4, 16 clients, next to classify");
  common(serve);
  serve->add_option("--clips", args->clips, "benchmark clips to generate")->capture_default_str();
  serve->add_option("--clip-seconds", args->clip_seconds, "length of each clip")->capture_default_str();
  serve->add_option("--frames", args->frames, "frames sampled per video")->capture_default_str();
  serve->add_option("--bpe", args->bpe, "CLIP tokenizer file");
  serve->add_option("--work-dir", args->work_dir, "where the clips are written (reused when present)");
  serve->callback([&action, args] { action = with_machine_line(args, bench_serve); });

  auto* int8 = bench->add_subcommand("int8", "int8 inference: accuracy against float32 (cosine, top-1 of 400 labels), GEMM speed");
  common(int8);
  int8->add_option("--clips", args->accuracy_clips, "ViT-B/32-shaped synthetic clips (the built-in model gets 5x)")
      ->capture_default_str();
  int8->add_option("--frames", args->frames, "frames per clip")->capture_default_str();
  int8->callback([&action, args] { action = with_machine_line(args, bench_int8); });
}

}  // namespace actionclip::cli
