#include "actionclip/dist/local_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "actionclip/util/error.h"

namespace actionclip::dist {
namespace {

// The workers, for the signal handler that passes an interruption on to them.
std::vector<pid_t> g_workers;

void forward_signal(int signal) {
  for (pid_t pid : g_workers)
    if (pid > 0) ::kill(pid, signal);
}

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot create a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw Error(std::string("cannot find a free port for the rendezvous: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

constexpr int kSomeInputsFailed = 2;

int exit_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

std::string describe(int wait_status) {
  if (WIFSIGNALED(wait_status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(wait_status));
  return "exited with status " + std::to_string(exit_status(wait_status));
}

}  // namespace

std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string raw{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::string> args;
  size_t start = 0;
  while (start < raw.size()) {
    const auto end = raw.find('\0', start);
    args.push_back(raw.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!args.empty()) args.erase(args.begin());
  return args;
}

std::vector<std::string> without_option(const std::vector<std::string>& arguments, const std::string& option) {
  std::vector<std::string> out;
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (arguments[i] == option) {
      ++i;  // and its value
      continue;
    }
    if (arguments[i].rfind(option + "=", 0) == 0) continue;
    out.push_back(arguments[i]);
  }
  return out;
}

int launch_local_workers(int nproc, const std::vector<std::string>& arguments) {
  if (nproc < 1) throw Error("--nproc must be at least 1");
  const char* port_variable = std::getenv("MASTER_PORT");
  const std::string port = port_variable ? port_variable : std::to_string(free_loopback_port());
  const char* addr_variable = std::getenv("MASTER_ADDR");
  const std::string addr = addr_variable ? addr_variable : "127.0.0.1";

  std::vector<std::string> argv_storage{"/proc/self/exe"};
  argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::cout.flush();
  std::cerr.flush();
  const pid_t launcher = ::getpid();
  g_workers.assign(static_cast<size_t>(nproc), -1);
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      forward_signal(SIGKILL);
      throw Error(std::string("cannot start worker processes: ") + std::strerror(errno));
    }
    if (pid == 0) {
      // A worker must not outlive its launcher.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != launcher) ::_exit(1);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", addr.c_str(), 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "actionclip: cannot start a worker: %s\n", std::strerror(errno));
      ::_exit(127);
    }
    g_workers[static_cast<size_t>(rank)] = pid;
  }
  ::signal(SIGINT, forward_signal);
  ::signal(SIGTERM, forward_signal);

  // After a failure the others get a grace period to notice (their collectives fail and they
  // exit naming the failed rank), then SIGTERM, then SIGKILL.
  constexpr auto kGrace = std::chrono::seconds(5);
  int status = 0, running = nproc, signals_sent = 0;
  bool stopping = false;
  auto next_signal = std::chrono::steady_clock::now();
  while (running > 0) {
    int wait_status = 0;
    const pid_t pid = ::waitpid(-1, &wait_status, stopping ? WNOHANG : 0);
    if (pid == 0) {
      if (std::chrono::steady_clock::now() > next_signal && signals_sent < 2) {
        forward_signal(signals_sent++ == 0 ? SIGTERM : SIGKILL);
        next_signal = std::chrono::steady_clock::now() + kGrace;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int rank = -1;
    for (size_t r = 0; r < g_workers.size(); ++r)
      if (g_workers[r] == pid) rank = static_cast<int>(r), g_workers[r] = -1;
    if (rank < 0) continue;
    --running;
    if (exit_status(wait_status) == 0 || stopping) continue;
    status = exit_status(wait_status);
    // Status 2 is a finished job in which some inputs failed (classify, eval, embed-video): rank 0
    // has reported them and every rank exits so.
    if (status != kSomeInputsFailed) {
      std::cerr << "actionclip: rank " << rank << " " << describe(wait_status);
      if (running > 0) std::cerr << "; stopping the other " << running << " rank(s)";
      std::cerr << std::endl;
    }
    stopping = true;
    next_signal = std::chrono::steady_clock::now() + kGrace;
  }
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  return status;
}

}  // namespace actionclip::dist
