#pragma once
// The HTTP face of `actionclip serve` (cpp-httplib): routes, API key, upload limits, error
// bodies, request metrics and the embedded web page, over an InferenceService that is set once
// the model has loaded (until then /health answers 503).
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "actionclip/serve/inference_service.h"
#include "actionclip/serve/metrics.h"

namespace actionclip::serve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port)
  std::string api_key;  // empty: no authentication
  size_t max_upload_bytes = 100u << 20;
  std::string allow_path;  // folder JSON requests may name videos in; empty: none
  std::string temp_dir;    // parent of the private upload folder; empty: the system's
  int threads = 8;         // connections served at once
  std::chrono::seconds io_timeout{30};  // reading a request, writing a response
};

class HttpServer {
 public:
  HttpServer(HttpOptions options, MetricsRegistry& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the socket (throws Error naming host and port when it cannot); returns the port.
  int bind();
  // Serves until stop(): then stops accepting, finishes the requests in flight, and returns.
  void run();
  void stop();
  // Makes the model endpoints available; /health turns 200.
  void set_service(std::shared_ptr<InferenceService> service);
  // The model could not be loaded: /health reports MESSAGE with 500.
  void set_failed(const std::string& message);

  int port() const;
  const std::string& upload_folder() const;  // where uploads live while a request runs

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace actionclip::serve
