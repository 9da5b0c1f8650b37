#include "actionclip/serve/load_generator.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "actionclip/util/error.h"

namespace actionclip::serve {

double quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return samples[std::min(samples.size(), std::max<size_t>(rank, 1)) - 1];
}

LoadReport run_classify_load(const LoadOptions& options, const std::vector<std::string>& videos) {
  if (videos.empty()) throw Error("the load generator needs at least one video");
  std::vector<httplib::MultipartFormDataItems> forms;
  for (const auto& path : videos) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(path, "cannot read");
    httplib::MultipartFormDataItems form = {
        {"file", std::string(std::istreambuf_iterator<char>(in), {}), std::filesystem::path(path).filename().string(),
         "application/octet-stream"}};
    for (const auto& [name, value] : options.fields) form.push_back({name, value, "", ""});
    forms.push_back(std::move(form));
  }

  using Clock = std::chrono::steady_clock;
  std::mutex mutex;
  std::vector<double> latencies;
  std::atomic<int> completed{0}, failed{0}, wrong{0};
  const auto start = Clock::now();
  const auto until = start + options.duration;
  std::vector<std::thread> clients;
  for (int c = 0; c < options.clients; ++c)
    clients.emplace_back([&, c] {
      httplib::Client client(options.host, options.port);
      client.set_read_timeout(300, 0);
      client.set_keep_alive(true);
      if (!options.api_key.empty()) client.set_bearer_token_auth(options.api_key);
      std::vector<double> mine;
      for (int r = 0;; ++r) {
        if (options.requests_per_client > 0 ? r >= options.requests_per_client : Clock::now() >= until) break;
        const auto sent = Clock::now();
        auto result = client.Post("/v1/classify", forms[static_cast<size_t>(c + r) % forms.size()]);
        mine.push_back(std::chrono::duration<double>(Clock::now() - sent).count());
        if (!result || result->status != 200) ++failed;
        else if (options.check && !options.check(result->body)) ++wrong;
        const int done = ++completed;
        if (options.on_request) options.on_request(done);
      }
      std::lock_guard<std::mutex> lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  for (auto& client : clients) client.join();

  LoadReport report;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.requests = completed;
  report.failed = failed;
  report.wrong = wrong;
  report.requests_per_second = report.requests / report.seconds;
  report.p50 = quantile(latencies, 0.50);
  report.p95 = quantile(latencies, 0.95);
  report.p99 = quantile(latencies, 0.99);
  return report;
}

}  // namespace actionclip::serve
