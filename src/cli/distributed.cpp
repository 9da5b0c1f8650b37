#include "distributed.h"

#include "actionclip/dist/launch_environment.h"
#include "actionclip/dist/local_launcher.h"
#include "actionclip/util/error.h"
#include "actionclip/util/notices.h"

namespace actionclip::cli {

void add_dist_options(CLI::App* cmd, DistArgs& args) {
  cmd->add_option("--nproc", args.nproc, "data-parallel: run N local worker processes (as torchrun --nproc-per-node N)");
  cmd->add_option("--dist-backend", args.backend, "distributed backend: auto (NCCL for CUDA when built in, else Gloo), gloo, nccl")
      ->capture_default_str();
  cmd->add_option("--dist-timeout", args.timeout_seconds,
                  "seconds the rendezvous and every collective may take before the job fails")
      ->capture_default_str();
}

std::string rank_device(const std::string& device) {
  const auto env = dist::read_launch_environment();
  if (env.distributed() && device == "cuda") return "cuda:" + std::to_string(env.local_rank);
  return device;
}

int run_as_rank(const DistArgs& args, const std::string& device,
                const std::function<int(std::shared_ptr<dist::ProcessGroup>)>& body) {
  const auto env = dist::read_launch_environment();
  if (args.nproc > 1) {
    if (env.launcher != "none")
      throw Error("--nproc starts its own workers; it cannot run under " + env.launcher + " (RANK or SLURM_PROCID is set)");
    return dist::launch_local_workers(args.nproc, dist::without_option(dist::own_arguments(), "--nproc"));
  }
  if (!env.distributed()) return body(nullptr);
  if (!env.is_main()) silence_notices();
  if (args.timeout_seconds <= 0) throw Error("--dist-timeout must be positive");
  dist::GroupOptions options;
  options.backend = args.backend;
  options.device = torch::Device(device);
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(args.timeout_seconds * 1000));
  auto group = std::make_shared<dist::ProcessGroup>(env, options);
  try {
    return body(group);
  } catch (const std::exception& e) {
    group->publish_failure(e.what());
    throw;
  }
}

}  // namespace actionclip::cli
