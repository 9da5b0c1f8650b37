#pragma once
// Running a program and measuring it alone: its peak resident memory is its own (its VmHWM),
// not the caller's, which may have held more.
#include <string>
#include <vector>

namespace actionclip {

struct ChildRun {
  int exit_code = -1;     // -1 when it did not exit normally (a signal)
  double peak_rss_mb = 0; // the most resident memory it held (VmHWM, sampled every 10 ms), MiB
  double seconds = 0;     // wall time
  std::string output;     // what it wrote to stdout and stderr, interleaved
};

// Runs argv[0] (a path, not searched in PATH) with the arguments after it and waits for it.
// Error when it cannot be started.
ChildRun run_child(const std::vector<std::string>& argv);

}  // namespace actionclip
