#include "actionclip/serve/http_server.h"

#include <httplib.h>

#include <filesystem>
#include <mutex>

#include "actionclip/serve/api_error.h"
#include "actionclip/serve/api_handlers.h"
#include "actionclip/serve/upload_file.h"
#include "actionclip/serve/web_assets.h"

namespace actionclip::serve {
namespace {

using Clock = std::chrono::steady_clock;

// Multipart framing and the small fields travel with the video.
constexpr size_t kFormOverheadBytes = 1u << 20;

std::string endpoint_name(const std::string& path) {
  for (const char* known : {"/v1/classify", "/v1/embeddings", "/v1/search", "/v1/models", "/health", "/metrics"})
    if (path == known) return known;
  if (path.rfind("/v1/label-sets", 0) == 0) return "/v1/label-sets";
  return "other";
}

void send_error(httplib::Response& response, const ApiError& error) {
  send_json(response, {{"error", {{"code", error.code()}, {"type", error.type()}, {"message", error.what()}}}},
            error.status());
  if (error.status() == 503) response.set_header("Retry-After", "1");
  if (error.status() == 401) response.set_header("WWW-Authenticate", "Bearer");
  // The body of a refused upload may still be arriving: do not read it as the next request.
  if (error.status() == 413 || error.status() == 401) response.set_header("Connection", "close");
}

// Compares without an early exit, so response times do not reveal how much of a key matched.
bool same_key(const std::string& given, const std::string& expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    difference |= static_cast<unsigned char>(given[i] ^ expected[i % std::max<size_t>(expected.size(), 1)]);
  return difference == 0;
}

}  // namespace

struct HttpServer::Impl {
  HttpOptions options;
  MetricsRegistry& metrics;
  PrivateFolder uploads;
  httplib::Server server;
  ApiContext context;
  std::mutex mutex;
  std::shared_ptr<InferenceService> service;
  std::string failure;
  int port = -1;

  Impl(HttpOptions o, MetricsRegistry& m)
      : options(std::move(o)),
        metrics(m),
        uploads(options.temp_dir.empty() ? std::filesystem::temp_directory_path().string() : options.temp_dir) {
    context.service = [this] { return ready_service(); };
    context.upload_folder = uploads.path();
    context.max_upload_bytes = options.max_upload_bytes;
    context.allow_path = options.allow_path;
    configure();
    add_routes();
  }

  std::shared_ptr<InferenceService> current() {
    std::lock_guard<std::mutex> lock(mutex);
    return service;
  }

  std::shared_ptr<InferenceService> ready_service() {
    std::lock_guard<std::mutex> lock(mutex);
    if (service) return service;
    if (!failure.empty()) throw ApiError(500, "model_failed", "the model could not be loaded: " + failure);
    throw ApiError(503, "loading", "the model is still loading");
  }

  void record(const httplib::Request& request, int status, Clock::time_point start) {
    const auto endpoint = endpoint_name(request.path);
    metrics.increment("actionclip_requests_total", {{"endpoint", endpoint}, {"status", std::to_string(status)}});
    metrics.observe("actionclip_request_duration_seconds", std::chrono::duration<double>(Clock::now() - start).count(),
                    {{"endpoint", endpoint}});
  }

  template <typename Body>
  void guarded(const httplib::Request& request, httplib::Response& response, Body body) {
    const auto start = Clock::now();
    try {
      body();
    } catch (const ApiError& e) {
      send_error(response, e);
    } catch (const std::exception& e) {
      send_error(response, ApiError(500, "server_error", e.what()));
    }
    // A refused request's body may be partly unread: the connection cannot carry another one.
    if (response.status >= 400 && request.method == "POST") response.set_header("Connection", "close");
    record(request, response.status, start);
  }

  httplib::Server::Handler plain(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
    return [this, handler](const httplib::Request& request, httplib::Response& response) {
      guarded(request, response, [&] { handler(request, response); });
    };
  }

  httplib::Server::HandlerWithContentReader streaming(
      void (*handler)(const ApiContext&, const httplib::Request&, httplib::Response&, const httplib::ContentReader&)) {
    return [this, handler](const httplib::Request& request, httplib::Response& response,
                           const httplib::ContentReader& reader) {
      guarded(request, response, [&] { handler(context, request, response, reader); });
    };
  }

  // Authentication and the upload size, before any body is read.
  httplib::Server::HandlerResponse admit(const httplib::Request& request, httplib::Response& response) {
    const auto start = Clock::now();
    const bool page = request.method == "GET" && request.path.rfind("/v1/", 0) != 0 && request.path != "/metrics";
    const bool open = request.path == "/health" || page;
    if (!options.api_key.empty() && !open) {
      const auto header = request.get_header_value("Authorization");
      const std::string scheme = "Bearer ";
      if (header.compare(0, scheme.size(), scheme) != 0 || !same_key(header.substr(scheme.size()), options.api_key)) {
        send_error(response, ApiError(401, "invalid_api_key", "a valid API key is required (Authorization: Bearer KEY)"));
        record(request, response.status, start);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (request.has_header("Content-Length")) {
      const auto length = std::strtoull(request.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (length > options.max_upload_bytes + kFormOverheadBytes) {
        send_error(response, ApiError(413, "upload_too_large",
                                      "the request body exceeds " + std::to_string(options.max_upload_bytes >> 20) +
                                          " MB (--max-upload-mb)"));
        record(request, response.status, start);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  void configure() {
    const int threads = options.threads;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(std::max(threads, 1))); };
    server.set_read_timeout(options.io_timeout);
    server.set_write_timeout(options.io_timeout);
    server.set_payload_max_length(options.max_upload_bytes + kFormOverheadBytes);
    server.set_pre_routing_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& request, httplib::Response& response) { return admit(request, response); }));
    // Clients that ask first (curl does for large bodies) learn of a refusal before sending the body.
    server.set_expect_100_continue_handler([this](const httplib::Request& request, httplib::Response& response) {
      return admit(request, response) == httplib::Server::HandlerResponse::Handled ? response.status : 100;
    });
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& request,
                                                                     httplib::Response& response) {
      if (!response.body.empty()) return httplib::Server::HandlerResponse::Handled;
      const auto status = response.status;
      if (status == 404) send_error(response, ApiError(404, "not_found", "no such endpoint: " + request.method + " " + request.path));
      else send_error(response, ApiError(status, "http_error", "the request could not be processed (HTTP " + std::to_string(status) + ")"));
      return httplib::Server::HandlerResponse::Handled;
    }));
    server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
      send_error(response, ApiError(500, "server_error", "internal error"));
    });
  }

  void add_routes() {
    server.Post("/v1/classify", streaming(&handle_classify));
    server.Post("/v1/embeddings", streaming(&handle_embeddings));
    server.Post("/v1/search", streaming(&handle_search));
    server.Get("/v1/models", plain([this](const auto&, auto& response) { handle_models(context, response); }));
    server.Get("/v1/label-sets", plain([](const auto&, auto& response) { handle_label_sets(response); }));
    server.Get(R"(/v1/label-sets/([A-Za-z0-9_-]+))",
               plain([](const auto& request, auto& response) { handle_label_set(request.matches[1], response); }));
    server.Get("/health", plain([this](const auto&, auto& response) {
      std::lock_guard<std::mutex> lock(mutex);
      if (service) send_json(response, {{"status", "ok"}});
      else if (!failure.empty()) send_json(response, {{"status", "error"}, {"message", failure}}, 500);
      else send_json(response, {{"status", "loading"}}, 503);
    }));
    server.Get("/metrics", plain([this](const auto&, auto& response) {
      if (auto ready = current()) metrics.set("actionclip_queue_depth", static_cast<double>(ready->queue_depth()));
      response.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    }));
    for (const auto& asset : web_assets()) {
      const std::string path = asset.path == "index.html" ? "/" : "/" + std::string(asset.path);
      server.Get(path, [asset](const httplib::Request&, httplib::Response& response) {
        response.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type).c_str());
      });
    }
  }
};

HttpServer::HttpServer(HttpOptions options, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  const auto& o = impl_->options;
  if (o.port == 0) impl_->port = impl_->server.bind_to_any_port(o.host);
  else impl_->port = impl_->server.bind_to_port(o.host, o.port) ? o.port : -1;
  if (impl_->port < 0) throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or no such address)");
  return impl_->port;
}

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

void HttpServer::set_service(std::shared_ptr<InferenceService> service) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->service = std::move(service);
  impl_->metrics.set("actionclip_ready", 1);
}

void HttpServer::set_failed(const std::string& message) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->failure = message;
}

int HttpServer::port() const { return impl_->port; }

const std::string& HttpServer::upload_folder() const { return impl_->uploads.path(); }

}  // namespace actionclip::serve
