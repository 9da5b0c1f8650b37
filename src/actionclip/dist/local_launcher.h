#pragma once
// `actionclip ... --nproc N`: torchrun's job for users without Python. Starts N copies of this
// executable on this machine with torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), waits for them, and when one fails stops the
// others and returns its exit status.
#include <string>
#include <vector>

namespace actionclip::dist {

// This process's arguments (without the program), as the kernel has them.
std::vector<std::string> own_arguments();

// `arguments` without OPTION and its value ("--nproc 2" or "--nproc=2").
std::vector<std::string> without_option(const std::vector<std::string>& arguments, const std::string& option);

// Runs `arguments` in `nproc` workers; the status to exit with: 0 when all succeed, else the first
// failure's (128 + signal for a killed worker). MASTER_PORT, when set, is used; else a free port.
int launch_local_workers(int nproc, const std::vector<std::string>& arguments);

}  // namespace actionclip::dist
