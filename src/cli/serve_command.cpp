// actionclip serve: the HTTP inference service (src/actionclip/serve) with the model loaded as
// every other command loads it.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "actionclip/inference/text_embedder.h"
#include "actionclip/inference/video_index.h"
#include "actionclip/serve/http_server.h"
#include "actionclip/serve/inference_service.h"
#include "actionclip/util/error.h"
#include "commands.h"

namespace actionclip::cli {
namespace {

struct ServeArgs {
  serve::HttpOptions http;
  serve::ServiceOptions service;
  std::string index;
  int max_upload_mb = 100;
  int batch_delay_ms = 5;
  int timeout_s = 60;
  bool no_cache = false;
};

// SIGTERM and SIGINT write a byte here; a thread waits on it to stop the server. A handler may
// do little else safely.
int signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const char byte = 's';
  [[maybe_unused]] auto ignored = ::write(signal_pipe[1], &byte, 1);
}

void add_serve_options(CLI::App* cmd, ServeArgs& args) {
  auto& h = args.http;
  auto& s = args.service;
  cmd->add_option("--host", h.host, "address to listen on (0.0.0.0: every interface)")->capture_default_str();
  cmd->add_option("--port", h.port, "TCP port (0: any free one, printed at start)")->capture_default_str();
  cmd->add_option("--api-key", h.api_key, "require 'Authorization: Bearer KEY' (all but /health and the page)")
      ->envname("ACTIONCLIP_API_KEY");
  cmd->add_option("--index", args.index, "video index (embed-video) that /v1/search ranks");
  cmd->add_option("--allow-path", h.allow_path, "folder whose videos JSON requests may name by path")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--max-batch", s.max_batch, "videos per model call")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--batch-delay-ms", args.batch_delay_ms, "longest wait for a batch to fill")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  cmd->add_option("--max-queue", s.max_queue, "videos decoding or waiting; more are refused with 503")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--workers", s.decode_threads, "decoding threads")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--http-threads", h.threads, "connections served at once")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--label-cache", s.label_cache_size, "label sets kept embedded in memory")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--max-labels", s.max_labels, "labels per request")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--max-upload-mb", args.max_upload_mb, "largest upload (413 beyond)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--max-duration-s", s.max_duration_seconds, "longest video accepted, in seconds")->capture_default_str();
  cmd->add_option("--max-frames", s.max_video_frames, "longest video accepted, in frames")->capture_default_str();
  cmd->add_option("--timeout-s", args.timeout_s, "longest a request may take (504 beyond); also the socket timeout")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--temp-dir", h.temp_dir, "where uploads are kept while a request runs (default: the system's)");
  cmd->add_option("--model-name", s.model_name, "model name in answers and /v1/models (default: the weights' file name)");
  cmd->add_option("--logit-scale", s.logit_scale, "softmax temperature (as classify)")->capture_default_str();
  cmd->add_flag("--no-cache", args.no_cache, "do not read or write the text embedding disk cache");
}

int serve(const ModelArgs& model_args, ServeArgs args) {
  args.http.max_upload_bytes = static_cast<size_t>(args.max_upload_mb) << 20;
  args.http.io_timeout = std::chrono::seconds(args.timeout_s);
  args.service.batch_delay = std::chrono::milliseconds(args.batch_delay_ms);
  args.service.timeout = std::chrono::seconds(args.timeout_s);
  args.service.sampling = video::sampling_from_name(model_args.sampling);

  serve::MetricsRegistry metrics;
  serve::declare_serve_metrics(metrics);
  serve::HttpServer server(args.http, metrics);
  const int port = server.bind();
  std::cerr << "actionclip serve: listening on http://" << args.http.host << ":" << port << "/ (model loading)"
            << std::endl;

  if (::pipe(signal_pipe) != 0) throw Error("cannot create the signal pipe");
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is the socket's error, not the process's end
  std::atomic<bool> finished{false};
  std::thread stopper([&server, &finished] {
    char byte = 0;
    while (::read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (byte == 's') std::cerr << "actionclip serve: stopping; finishing the requests in flight" << std::endl;
    // stop() does nothing before the server runs: repeat it until run() has returned.
    while (!finished) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  bool failed = false;
  std::thread loader([&] {
    try {
      auto loaded = load_model_from_args(model_args);
      std::optional<VideoIndex> index;
      if (!args.index.empty()) index = load_video_index(args.index);
      auto& s = args.service;
      const auto encoder = video_encoder_options(loaded, "1x1", s.max_batch, s.decode_threads, model_args);
      s.device = encoder.device;
      s.bfloat16 = encoder.bfloat16;
      if (s.model_name.empty()) s.model_name = std::filesystem::path(loaded.path).filename().string();
      if (!args.no_cache) {
        s.cache_dir = default_cache_dir();
        s.model_identity = file_identity(loaded.path) + "|" + file_identity(model_args.checkpoint);
      }
      server.set_service(std::make_shared<serve::InferenceService>(std::move(loaded), s, metrics, std::move(index)));
      std::cerr << "actionclip serve: ready (" << s.model_name << ")" << std::endl;
    } catch (const std::exception& e) {
      std::cerr << "actionclip: error: " << e.what() << std::endl;
      failed = true;
      server.set_failed(e.what());
      const char byte = 'f';
      [[maybe_unused]] auto ignored = ::write(signal_pipe[1], &byte, 1);
    }
  });

  server.run();
  finished = true;
  const char release = 'q';  // wakes the stopper if no signal or failure did
  [[maybe_unused]] auto written = ::write(signal_pipe[1], &release, 1);
  loader.join();
  stopper.join();
  std::cerr << "actionclip serve: stopped" << std::endl;
  return failed ? 1 : 0;
}

}  // namespace

void add_serve_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("serve", "HTTP inference service: classify, embeddings (OpenAI shape), search, web page");
  auto model_args = std::make_shared<ModelArgs>();
  auto args = std::make_shared<ServeArgs>();
  add_model_options(cmd, *model_args, true);
  allow_builtin_model(cmd);
  add_serve_options(cmd, *args);
  cmd->callback([&action, model_args, args] { action = [model_args, args] { return serve(*model_args, *args); }; });
}

}  // namespace actionclip::cli
