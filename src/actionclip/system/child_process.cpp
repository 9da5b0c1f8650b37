#include "actionclip/system/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "actionclip/util/error.h"

extern char** environ;

namespace actionclip {
namespace {

// The child's high-water mark so far (0 once it has exited). The kernel's own figure for a
// waited-for child (wait4's ru_maxrss) is no use here: it also counts the memory of the process
// that spawned it, as it was before exec.
double high_water_mb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

}  // namespace

ChildRun run_child(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error("run_child: no program given");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error(std::string("run_child: pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    throw Error("cannot run " + argv[0] + ": " + std::strerror(spawned));
  }
  // VmHWM is itself a high-water mark, so sampling it every 10 ms misses only memory first
  // reached in the child's last 10 ms.
  ChildRun run;
  char buffer[4096];
  for (bool open = true; open;) {
    pollfd readable{pipe_fds[0], POLLIN, 0};
    if (::poll(&readable, 1, 10) > 0) {
      const auto n = ::read(pipe_fds[0], buffer, sizeof buffer);
      if (n > 0) run.output.append(buffer, static_cast<size_t>(n));
      open = n > 0 || (n < 0 && errno == EINTR);
    }
    run.peak_rss_mb = std::max(run.peak_rss_mb, high_water_mb(pid));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error("cannot wait for " + argv[0] + ": " + std::strerror(errno));
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace actionclip
