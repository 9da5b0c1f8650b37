// The `actionclip serve` binary as operators run it: SIGTERM drains in-flight requests and
// exits 0, and a soak run (8 clients x 50 uploads) fails nothing, answers every request
// correctly, holds its memory, and leaves no upload behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "serve_harness.h"
#include "shell.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace actionclip::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

class ServeProcess {
 public:
  ServeProcess(const TempDir& dir, std::vector<std::string> extra) : log_(dir.path("serve.log")) {
    std::vector<std::string> args = {ACTIONCLIP_CLI_PATH, "serve", "-m", tiny_model_path(), "--bpe", bpe_path(),
                                     "--port", "0", "--temp-dir", dir.path("tmp")};
    fs::create_directories(dir.path("tmp"));
    args.insert(args.end(), extra.begin(), extra.end());
    // Everything the child needs is prepared before fork: it only redirects and execs.
    std::vector<std::string> environment = {"ACTIONCLIP_CACHE=" + dir.path("cache")};
    for (char** e = environ; *e; ++e)
      if (std::string(*e).rfind("ACTIONCLIP_CACHE=", 0) != 0) environment.emplace_back(*e);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      const auto fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      ::execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)/");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::smatch match;
      const auto text = read_bytes(log_);
      if (std::regex_search(text, match, listening)) port_ = std::stoi(match[1]);
      else std::this_thread::sleep_for(50ms);
    }
    EXPECT_GT(port_, 0) << read_bytes(log_);
    for (int i = 0; i < 600; ++i) {
      auto health = client().Get("/health");
      if (health && health->status == 200) return;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "the server did not become ready: " << read_bytes(log_);
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }

  long rss_kb() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
  }

  // Sends SIGNAL and waits: the exit code, or -1 when the process did not exit normally.
  int stop(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string log() const { return read_bytes(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

size_t files_below(const std::string& folder) {
  size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) count += entry.is_regular_file() ? 1 : 0;
  return count;
}

}  // namespace

TEST(ServeProcess, SigtermFinishesTheRequestsInFlightThenExitsZero) {
  REQUIRE_FIXTURES();
  TempDir dir;
  ServeProcess serve(dir, {"--batch-delay-ms", "1500"});  // keeps the request in flight
  auto in_flight = std::async(std::launch::async, [&] {
    return serve.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "a,b"}}));
  });
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();
  const auto answer = in_flight.get();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << answer->body;
  EXPECT_NE(serve.log().find("finishing the requests in flight"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir.path("tmp")));  // the private upload folder is gone too
}

TEST(ServeProcess, SoakEightClientsOfFiftyRequestsEach) {
  REQUIRE_FIXTURES();
  TempDir dir;
  ServeProcess serve(dir, {"--workers", "2", "--max-batch", "8", "--batch-delay-ms", "5", "--http-threads", "8"});
  const auto form = video_form(fixture_video(), {{"labels", "surfing,cooking,juggling,a red square"}, {"top_k", "4"}});
  const auto reference = json::parse(serve.client().Post("/v1/classify", form)->body);
  ASSERT_EQ(reference["predictions"].size(), 4u);

  constexpr int kClients = 8, kRequests = 50;
  std::atomic<int> done{0}, failed{0}, wrong{0};
  std::atomic<long> rss_after_first_50{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&] {
      auto client = serve.client();
      for (int r = 0; r < kRequests; ++r) {
        auto result = client.Post("/v1/classify", form);
        if (!result || result->status != 200) {
          ++failed;
        } else {
          const auto answer = json::parse(result->body);
          for (size_t i = 0; i < 4; ++i)
            if (answer["predictions"][i]["label"] != reference["predictions"][i]["label"] ||
                std::abs(answer["predictions"][i]["probability"].get<double>() -
                         reference["predictions"][i]["probability"].get<double>()) > 1e-6)
              ++wrong;
        }
        if (++done == 50) rss_after_first_50 = serve.rss_kb();
      }
    });
  for (auto& t : clients) t.join();
  const auto rss_at_end = serve.rss_kb();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(done, kClients * kRequests);
  EXPECT_LE(rss_at_end, rss_after_first_50 * 11 / 10) << "RSS grew from " << rss_after_first_50 << " kB to " << rss_at_end;
  EXPECT_EQ(files_below(dir.path("tmp")), 0u);  // no upload left behind
  const auto metrics = serve.client().Get("/metrics")->body;
  EXPECT_NE(metrics.find("actionclip_requests_total{endpoint=\"/v1/classify\",status=\"200\"} 401"), std::string::npos);
  EXPECT_EQ(serve.stop(SIGINT), 0) << serve.log();
}
