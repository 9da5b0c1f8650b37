#pragma once
// The CLI's side of data parallelism: --nproc, --dist-backend and --dist-timeout, and running a
// command as one rank of the job that torchrun, Slurm or --nproc describes.
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "actionclip/dist/process_group.h"

namespace actionclip::cli {

struct DistArgs {
  int nproc = 0;                   // >1: start this many local workers
  std::string backend = "auto";    // auto, gloo, nccl
  double timeout_seconds = 300;    // rendezvous and every collective
};

void add_dist_options(CLI::App* cmd, DistArgs& args);

// `device` for this rank: `cuda` becomes `cuda:LOCAL_RANK` in a distributed job.
std::string rank_device(const std::string& device);

// With --nproc N > 1 (and no launcher's variables set): starts N workers running this command
// line without --nproc and returns their status. Otherwise runs `body` once, as one rank of the
// job the environment describes (a group of one process when there is none: `body` gets null).
// A rank whose body throws tells the others before the error ends it. Ranks other than 0 print
// errors only: their notices and progress lines are silenced (notices.h).
int run_as_rank(const DistArgs& args, const std::string& device,
                const std::function<int(std::shared_ptr<dist::ProcessGroup>)>& body);

}  // namespace actionclip::cli
