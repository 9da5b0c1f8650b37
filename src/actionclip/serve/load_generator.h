#pragma once
// A small HTTP load generator for the server's soak test and `bench serve`: N concurrent
// clients (keep-alive connections) upload videos to /v1/classify in turn and the latencies,
// failures and answers are collected.
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace actionclip::serve {

struct LoadOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  int clients = 1;
  int requests_per_client = 0;    // > 0: this many each; else run for `duration`
  std::chrono::milliseconds duration{5000};
  std::vector<std::pair<std::string, std::string>> fields;  // form fields beside the file (labels, top_k, ...)
  // Called with every 200 answer's body (from the clients' threads); false counts it as wrong.
  std::function<bool(const std::string& body)> check;
  // Called after every request with the number completed so far (from the clients' threads).
  std::function<void(int completed)> on_request;
};

struct LoadReport {
  int requests = 0, failed = 0, wrong = 0;  // failed: no answer or not 200; wrong: check said no
  double seconds = 0;
  double requests_per_second = 0;
  double p50 = 0, p95 = 0, p99 = 0;  // latency, seconds
};

// Uploads VIDEOS (read once; client c starts at video c, then takes them in turn).
LoadReport run_classify_load(const LoadOptions& options, const std::vector<std::string>& videos);

// The Q-quantile (0..1) of SAMPLES by the nearest-rank method; 0 when empty.
double quantile(std::vector<double> samples, double q);

}  // namespace actionclip::serve
