#pragma once
// Where this process stands in a data-parallel job, as the launchers the field uses describe it:
// torchrun (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), Slurm's
// srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID, SLURM_TASKS_PER_NODE,
// SLURM_JOB_NODELIST), or `actionclip ... --nproc N`, which sets torchrun's variables.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace actionclip::dist {

struct LaunchEnvironment {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;  // torchrun's default
  std::string launcher = "none";  // "torchrun" or "slurm"

  bool distributed() const { return world_size > 1; }
  bool is_main() const { return rank == 0; }
};

using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment's variables.
std::optional<std::string> process_environment(const std::string& name);

// torchrun's variables win over Slurm's (torchrun inside an allocation sets both). Without either,
// a one-process job. A value that is not a number, or a rank outside the world: an Error naming
// the variable.
LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup = process_environment);

// A Slurm host list expanded as `scontrol show hostnames` does: "gpu[01-03,7],login" ->
// gpu01 gpu02 gpu03 gpu7 login (zero padding kept; several bracket groups multiply out).
std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist);

// SLURM_TASKS_PER_NODE ("2(x3),1") expanded to one count per node: 2 2 2 1.
std::vector<int> expand_slurm_tasks_per_node(const std::string& tasks_per_node);

}  // namespace actionclip::dist
