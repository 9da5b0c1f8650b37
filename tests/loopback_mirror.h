#pragma once
// A model mirror on 127.0.0.1 for the download tests (cpp-httplib on a free port, in a thread):
// it serves files under their URL paths and can misbehave as real servers do.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace actionclip::testing {

class LoopbackMirror {
 public:
  enum class Behaviour {
    Serve,             // 200, or 206 for a Range request
    CutFirstResponse,  // the first response announces the whole file, sends half and closes the connection
    IgnoreRange,       // always 200 with the whole file (chunked), whatever Range asks
    Stall,             // sends 64 KiB, then nothing until the client gives up
    Slow,              // serves in 64 KiB pieces, 20 ms apart
  };

  explicit LoopbackMirror(Behaviour behaviour = Behaviour::Serve) : behaviour_(behaviour) {
    server_.Get(".*", [this](const httplib::Request& request, httplib::Response& response) { handle(request, response); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  LoopbackMirror(const LoopbackMirror&) = delete;
  LoopbackMirror& operator=(const LoopbackMirror&) = delete;
  ~LoopbackMirror() { stop(); }

  // Serves `body` at `path` ("/clip/models/<sha256>/ViT-B-32.pt"); everything else is a 404.
  void publish(const std::string& path, std::string body) {
    std::lock_guard<std::mutex> lock(mutex_);
    files_[path] = std::move(body);
  }

  // http://127.0.0.1:PORT: what ACTIONCLIP_MODEL_BASE_URL is set to.
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Every request's Range header ("" when it had none), in order.
  std::vector<std::string> ranges() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ranges_;
  }
  size_t requests() const { return ranges().size(); }

  // Stops answering; the port then refuses connections.
  void stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    server_.stop();
    thread_.join();
  }

 private:
  void handle(const httplib::Request& request, httplib::Response& response) {
    std::string body;
    bool first;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      first = ranges_.empty();
      ranges_.push_back(request.has_header("Range") ? request.get_header_value("Range") : "");
      const auto file = files_.find(request.path);
      if (file == files_.end()) {
        response.status = 404;
        return;
      }
      body = file->second;
    }
    auto shared = std::make_shared<std::string>(std::move(body));
    if (behaviour_ == Behaviour::IgnoreRange) {
      response.status = 200;
      response.set_chunked_content_provider("application/octet-stream", [shared](size_t offset, httplib::DataSink& sink) {
        if (offset >= shared->size()) {
          sink.done();
          return true;
        }
        return sink.write(shared->data() + offset, std::min<size_t>(kPiece, shared->size() - offset));
      });
      return;
    }
    // httplib applies a Range request to this provider: it asks for the range's bytes only.
    const bool cut = behaviour_ == Behaviour::CutFirstResponse && first;
    response.set_content_provider(
        shared->size(), "application/octet-stream",
        [this, shared, cut](size_t offset, size_t length, httplib::DataSink& sink) {
          if (cut && offset >= shared->size() / 2) return false;
          if (behaviour_ == Behaviour::Stall && offset >= kPiece) {
            for (int waited = 0; waited < 20000 && !stopping_; waited += 10)
              std::this_thread::sleep_for(std::chrono::milliseconds(10));
            return false;
          }
          if (behaviour_ == Behaviour::Slow) std::this_thread::sleep_for(std::chrono::milliseconds(20));
          return sink.write(shared->data() + offset, std::min<size_t>(kPiece, length));
        });
  }

  static constexpr size_t kPiece = 64 * 1024;
  const Behaviour behaviour_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, std::string> files_;
  std::vector<std::string> ranges_;
};

}  // namespace actionclip::testing
