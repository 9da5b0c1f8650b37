#pragma once
// An in-process `actionclip serve` on a free loopback port with the fixtures' tiny ActionCLIP,
// for the HTTP tests; stopped (in-flight requests finished) on destruction.
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "actionclip/inference/video_index.h"
#include "actionclip/model/model_io.h"
#include "actionclip/serve/http_server.h"
#include "actionclip/serve/inference_service.h"
#include "fixtures.h"

namespace actionclip::testing {

inline std::string tiny_model_path() { return fixture("reference/actionclip-tiny-transf.pt"); }
inline std::string bpe_path() { return (shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string(); }
inline std::string fixture_video() { return fixture("video/clip_h264.mp4"); }

inline LoadedModel load_tiny_model() {
  LoadOptions options;
  options.bpe_path = bpe_path();
  return load_model(tiny_model_path(), options);
}

class ServeHarness {
 public:
  explicit ServeHarness(serve::HttpOptions http = {}, serve::ServiceOptions service = {}, bool ready = true,
                        std::optional<VideoIndex> index = std::nullopt)
      : service_options_(std::move(service)) {
    serve::declare_serve_metrics(metrics_);
    http.port = 0;
    http.host = "127.0.0.1";
    server_ = std::make_unique<serve::HttpServer>(http, metrics_);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    if (service_options_.model_name.empty()) service_options_.model_name = "actionclip-tiny-transf";
    if (ready) make_ready(std::move(index));
  }
  ~ServeHarness() {
    server_->stop();
    thread_.join();
  }

  void make_ready(std::optional<VideoIndex> index = std::nullopt) {
    service_ = std::make_shared<serve::InferenceService>(load_tiny_model(), service_options_, metrics_, std::move(index));
    server_->set_service(service_);
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  int port() const { return port_; }
  serve::MetricsRegistry& metrics() { return metrics_; }
  serve::HttpServer& server() { return *server_; }
  serve::InferenceService& service() { return *service_; }

 private:
  serve::ServiceOptions service_options_;
  serve::MetricsRegistry metrics_;
  std::unique_ptr<serve::HttpServer> server_;
  std::shared_ptr<serve::InferenceService> service_;
  std::thread thread_;
  int port_ = 0;
};

// A multipart form with the video at PATH as its "file" and FIELDS beside it.
inline httplib::MultipartFormDataItems video_form(const std::string& path,
                                                  const std::vector<std::pair<std::string, std::string>>& fields) {
  httplib::MultipartFormDataItems items;
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  items.push_back({"file", bytes, std::filesystem::path(path).filename().string(), "video/mp4"});
  for (const auto& [name, value] : fields) items.push_back({name, value, "", ""});
  return items;
}

inline size_t files_in(const std::string& folder) {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder)) ++count;
  return count;
}

}  // namespace actionclip::testing
