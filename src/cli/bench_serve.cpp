// actionclip bench serve: the HTTP service's requests/s and latency percentiles at 1, 4 and 16
// concurrent clients, next to classify's batch throughput and single-video latency on the same
// files in the same run (a ViT-B/32-shaped model with random weights).
#include <algorithm>
#include <filesystem>
#include <thread>

#include "actionclip/data/synth.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/serve/http_server.h"
#include "actionclip/serve/load_generator.h"
#include "bench.h"
#include "commands.h"

namespace actionclip::cli {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kLabels = {"surfing", "cooking", "juggling", "playing guitar", "riding a bike",
                                          "a square moving left", "a square moving right", "dancing"};

std::vector<std::string> bench_videos(const BenchArgs& a, const std::string& dir) {
  data::SynthOptions synth;
  synth.out_dir = dir;
  synth.container = "mp4";
  synth.width = 320;
  synth.height = 240;
  synth.fps = 25;
  synth.frames = static_cast<int>(a.clip_seconds * synth.fps);
  synth.keyframe_interval = 50;
  synth.colors = {"red"};
  synth.shapes = {"square"};
  synth.videos_per_class = std::max(1, a.clips / 8);  // 8 motions
  synth.seed = 1;
  std::vector<std::string> paths;
  if (fs::exists(dir))
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.path().extension() == ".mp4") paths.push_back(entry.path().string());
  if (paths.empty()) {
    data::generate_synth_dataset(synth);
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.path().extension() == ".mp4") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

int bench_serve(const BenchArgs& a) {
  const auto device = parse_device(a.device);
  const auto dir = a.work_dir.empty() ? (fs::temp_directory_path() / "actionclip-bench-serve").string() : a.work_dir;
  const auto paths = bench_videos(a, dir);
  std::fprintf(stderr, "bench: %zu clips of %.0f s in %s\n", paths.size(), a.clip_seconds, dir.c_str());

  torch::manual_seed(0);
  LoadedModel loaded;
  loaded.model = ActionClipModel(ClipConfig::vit_b32(), ActionClipOptions{PromptType::MeanP, a.frames, true});
  loaded.model->eval();
  loaded.model->to(device);
  loaded.tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_openai_bpe(find_bpe_file(a.bpe, "")));
  loaded.path = "ViT-B/32-shaped (random weights)";
  loaded.templates = builtin_templates("default");
  const auto labels = TextEmbedder(loaded.model, loaded.tokenizer).embed_labels(kLabels, loaded.templates);

  // classify's path: the batch CLI's encoder (8 videos per call, 2 decoding threads) and scoring.
  VideoEncoderOptions options;
  options.views.frames = a.frames;
  options.batch_size = 8;
  options.decode_threads = 2;
  options.device = device;
  VideoEncoder encoder(loaded.model, options);
  const auto score = [&](EncodedVideo& video) { video_label_probabilities(video.view_features, labels); };
  encoder.encode(paths, score);  // warm-up
  const double batch_per_s = static_cast<double>(paths.size()) / encoder.encode(paths, score).seconds;
  std::vector<double> single;
  for (const auto& path : paths) single.push_back(encoder.encode({path}, score).seconds);
  const double single_p50 = serve::quantile(single, 0.5);

  serve::MetricsRegistry metrics;
  serve::declare_serve_metrics(metrics);
  serve::HttpOptions http;
  http.port = 0;
  http.threads = 32;
  serve::HttpServer server(http, metrics);
  const int port = server.bind();
  std::thread running([&] { server.run(); });
  serve::ServiceOptions service;
  service.model_name = "vit-b-32-random";
  service.max_batch = 8;
  service.batch_delay = std::chrono::milliseconds(5);
  service.decode_threads = 2;
  service.max_queue = 256;
  service.device = device;
  server.set_service(std::make_shared<serve::InferenceService>(loaded, service, metrics));

  std::string label_field;
  for (const auto& label : kLabels) label_field += (label_field.empty() ? "" : ",") + label;
  nlohmann::json levels = nlohmann::json::array();
  for (int clients : {1, 4, 16}) {
    serve::LoadOptions load;
    load.port = port;
    load.clients = clients;
    load.fields = {{"labels", label_field}};
    load.requests_per_client = 1;
    serve::run_classify_load(load, paths);  // warm-up: the label set gets embedded, connections open
    load.requests_per_client = 0;
    load.duration = std::chrono::milliseconds(static_cast<int64_t>(a.seconds * 1000));
    const auto report = serve::run_classify_load(load, paths);
    levels.push_back({{"clients", clients}, {"requests", report.requests}, {"failed", report.failed},
                      {"requests_per_s", report.requests_per_second}, {"p50_s", report.p50}, {"p95_s", report.p95},
                      {"p99_s", report.p99}});
  }
  server.stop();
  running.join();

  nlohmann::json result = {{"machine", machine_json()},       {"model", "ViT-B/32 shape, random weights, meanP"},
                           {"frames", a.frames},              {"clips", paths.size()},
                           {"device", device.str()},          {"classify_batch_videos_per_s", batch_per_s},
                           {"classify_single_p50_s", single_p50}, {"serve", levels}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench serve: %zu clips of %.0f s 320x240 H.264, ViT-B/32 shape, %d frames, device %s, %d threads\n",
              paths.size(), a.clip_seconds, a.frames, device.str().c_str(), torch::get_num_threads());
  std::printf("  classify, batch of 8, 2 decoding threads: %.2f videos/s; one video: %.3f s (median)\n", batch_per_s,
              single_p50);
  std::printf("  %-8s %10s %10s %10s %10s %8s %18s\n", "clients", "requests/s", "p50 s", "p95 s", "p99 s", "failed",
              "vs classify batch");
  for (const auto& level : levels)
    std::printf("  %-8d %10.2f %10.3f %10.3f %10.3f %8d %17.0f%%\n", level["clients"].get<int>(),
                level["requests_per_s"].get<double>(), level["p50_s"].get<double>(), level["p95_s"].get<double>(),
                level["p99_s"].get<double>(), level["failed"].get<int>(),
                100 * level["requests_per_s"].get<double>() / batch_per_s);
  return 0;
}

}  // namespace actionclip::cli
