// actionclip bench train --nproc N: data-parallel scaling. One process with all the threads, then
// N local ranks (Gloo on CPUs, NCCL on GPUs when built in) sharing the same threads, on the same
// global batch: videos/s, time blocked in communication (what the overlap with backward does not
// hide), and the efficiency against the one process.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "actionclip/dist/launch_environment.h"
#include "actionclip/dist/local_launcher.h"
#include "actionclip/util/error.h"
#include "actionclip/util/notices.h"
#include "bench_train.h"
#include "common.h"
#include "distributed.h"

namespace actionclip::cli {
namespace fs = std::filesystem;
namespace {

// One rank of the scaling run; rank 0 writes the figures for the launcher.
int run_rank(const BenchArgs& a) {
  const auto env = dist::read_launch_environment();
  if (!env.distributed()) throw Error("bench train --result-file is the internal side of --nproc");
  if (!env.is_main()) silence_notices();
  dist::GroupOptions options;
  options.device = torch::Device(rank_device(a.device));
  options.timeout = std::chrono::minutes(5);
  auto group = std::make_shared<dist::ProcessGroup>(env, options);
  auto rank_args = a;
  rank_args.device = options.device.str();
  const auto measured = measure_training(rank_args, group);
  if (group->is_main()) {
    const nlohmann::json figures = {{"videos_per_s", measured.summary.videos_per_second},
                                    {"seconds", measured.summary.train_seconds},
                                    {"data_wait_s", measured.summary.data_wait_seconds},
                                    {"communication_s", measured.communication_seconds},
                                    {"threads_per_rank", torch::get_num_threads()},
                                    {"backend", group->backend()},
                                    {"steps", measured.steps}};
    std::ofstream(a.result_file) << figures.dump();
  }
  return 0;
}

}  // namespace

int bench_train_scaling(const BenchArgs& a) {
  if (!a.result_file.empty()) return run_rank(a);
  const int threads = torch::get_num_threads();
  const auto single = measure_training(a, nullptr);

  const auto result_file = (fs::temp_directory_path() / ("actionclip-bench-scaling-" + std::to_string(::getpid()) + ".json")).string();
  auto worker_args = dist::without_option(dist::without_option(dist::own_arguments(), "--nproc"), "--threads");
  worker_args = dist::without_option(worker_args, "-t");
  worker_args.insert(worker_args.begin(), {"-t", std::to_string(std::max(1, threads / a.nproc))});
  worker_args.insert(worker_args.end(), {"--result-file", result_file, "--json"});
  const int status = dist::launch_local_workers(a.nproc, worker_args);
  std::ifstream in(result_file);
  if (status != 0 || !in) throw Error("bench train --nproc " + std::to_string(a.nproc) + ": the ranks failed (status " +
                                      std::to_string(status) + ")");
  const auto ranks = nlohmann::json::parse(in);
  fs::remove(result_file);

  const double efficiency = ranks["videos_per_s"].get<double>() / std::max(single.summary.videos_per_second, 1e-12);
  const nlohmann::json result = {{"machine", machine_json()},
                                 {"model", "ViT-B/32 (random weights), meanP"},
                                 {"device", a.device},
                                 {"global_batch", kBenchTrainBatch},
                                 {"frames", a.frames},
                                 {"steps", single.steps},
                                 {"one_process", {{"threads", threads},
                                                  {"videos_per_s", single.summary.videos_per_second},
                                                  {"data_wait_s", single.summary.data_wait_seconds},
                                                  {"seconds", single.summary.train_seconds}}},
                                 {"ranks", a.nproc},
                                 {"distributed", ranks},
                                 {"scaling_efficiency", efficiency}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench train --nproc %d: ViT-B/32 shapes, %d frames, global batch %d, device %s, %lld steps\n",
              a.nproc, a.frames, kBenchTrainBatch, a.device.c_str(), static_cast<long long>(single.steps));
  std::printf("  %-44s %10.2f videos/s (data wait %.2f s of %.2f s)\n", ("1 process, " + std::to_string(threads) + " threads").c_str(),
              single.summary.videos_per_second, single.summary.data_wait_seconds, single.summary.train_seconds);
  std::printf("  %-44s %10.2f videos/s (data wait %.2f s of %.2f s)\n",
              (std::to_string(a.nproc) + " ranks x " + std::to_string(ranks["threads_per_rank"].get<int>()) + " threads, " +
               ranks["backend"].get<std::string>())
                  .c_str(),
              ranks["videos_per_s"].get<double>(), ranks["data_wait_s"].get<double>(), ranks["seconds"].get<double>());
  // Gradient all-reduces overlap the backward pass: only the time the rank sat waiting is counted.
  std::printf("  %-44s %10.2f s of %.2f s (rank 0, waiting for the others included)\n", "communication not hidden by compute",
              ranks["communication_s"].get<double>(), ranks["seconds"].get<double>());
  std::printf("  %-44s %9.0f %%\n", "scaling efficiency (same total threads)", 100 * efficiency);
  return 0;
}

}  // namespace actionclip::cli
