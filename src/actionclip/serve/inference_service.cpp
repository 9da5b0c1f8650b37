#include "actionclip/serve/inference_service.h"

#include "actionclip/inference/video_encoder.h"
#include "actionclip/serve/api_error.h"
#include "actionclip/video/frame_source.h"

namespace actionclip::serve {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

const std::vector<double> kSecondsBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

// Frames and views a request may ask for: enough for the paper's 3x10 protocol at 32 frames,
// while one request's pixels stay bounded.
constexpr int kMaxFramesPerView = 64;
constexpr int kMaxClips = 10;

// Counts a request as in flight while it lives; refuses it when the queue is full.
class Admission {
 public:
  Admission(std::atomic<size_t>& in_flight, size_t limit) : in_flight_(in_flight) {
    if (in_flight_.fetch_add(1) >= limit) {
      in_flight_.fetch_sub(1);
      throw ApiError(503, "queue_full", "the server is busy (" + std::to_string(limit) + " videos queued); retry later");
    }
  }
  ~Admission() { in_flight_.fetch_sub(1); }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

 private:
  std::atomic<size_t>& in_flight_;
};

}  // namespace

void declare_serve_metrics(MetricsRegistry& metrics) {
  metrics.declare_counter("actionclip_requests_total", "HTTP requests by endpoint and status");
  metrics.declare_histogram("actionclip_request_duration_seconds", "HTTP request latency by endpoint", kSecondsBuckets);
  metrics.declare_histogram("actionclip_batch_size", "videos per model call", {1, 2, 4, 8, 16, 32, 64});
  metrics.declare_gauge("actionclip_queue_depth", "videos waiting for the model");
  metrics.declare_gauge("actionclip_requests_in_flight", "video requests being decoded or encoded");
  metrics.declare_histogram("actionclip_decode_seconds", "decoding, sampling and preprocessing per video", kSecondsBuckets);
  metrics.declare_histogram("actionclip_model_seconds", "video encoding per model call", kSecondsBuckets);
  metrics.declare_counter("actionclip_videos_total", "videos encoded");
  metrics.declare_counter("actionclip_text_cache_hits_total", "label sets found embedded in the in-memory cache");
  metrics.declare_counter("actionclip_text_cache_misses_total", "label sets embedded (or read from the disk cache)");
  metrics.declare_gauge("actionclip_ready", "1 once the model is loaded");
}

InferenceService::InferenceService(LoadedModel loaded, ServiceOptions options, MetricsRegistry& metrics,
                                   std::optional<VideoIndex> index)
    : loaded_(std::move(loaded)),
      options_(std::move(options)),
      metrics_(metrics),
      index_(std::move(index)),
      labels_([this](const auto& labels, const auto& templates) { return embed_label_set(labels, templates); },
              options_.label_cache_size),
      decoders_(options_.decode_threads),
      batcher_(
          [this](const torch::Tensor& views) {
            VideoEncoderOptions encoder_options;
            encoder_options.device = options_.device;
            encoder_options.bfloat16 = options_.bfloat16;
            return VideoEncoder(loaded_.model, encoder_options).encode_views(views);
          },
          BatcherOptions{options_.max_batch, options_.batch_delay, options_.max_queue},
          [this](size_t videos, double seconds) {
            metrics_.observe("actionclip_batch_size", static_cast<double>(videos));
            metrics_.observe("actionclip_model_seconds", seconds);
            metrics_.increment("actionclip_videos_total", {}, static_cast<double>(videos));
          }) {
  if (index_ && index_->embeddings.size(1) != embedding_size())
    throw Error("the index holds " + std::to_string(index_->embeddings.size(1)) + "-wide embeddings, the model makes " +
                std::to_string(embedding_size()) + "-wide ones");
}

int64_t InferenceService::embedding_size() const { return loaded_.model->clip->config().embed_dim; }

ViewOptions InferenceService::view_options(const VideoRequest& request) const {
  const auto model_frames = static_cast<int>(loaded_.model->options().num_frames);
  const int frames = request.frames > 0 ? request.frames : model_frames;
  if (request.frames < 0 || frames > kMaxFramesPerView)
    throw bad_request("frames must be between 1 and " + std::to_string(kMaxFramesPerView), "invalid_frames");
  const auto prompt = loaded_.model->options().prompt;
  if ((prompt == PromptType::Joint || prompt == PromptType::Shift) && frames != model_frames)
    throw bad_request("this model's " + prompt_type_name(prompt) + " prompt takes exactly " + std::to_string(model_frames) +
                          " frames",
                      "invalid_frames");
  ViewOptions views;
  try {
    views = ViewOptions::parse(request.views, frames, static_cast<int>(loaded_.model->clip->config().image_resolution));
  } catch (const Error& e) {
    throw bad_request(e.what(), "invalid_views");
  }
  if (views.clips > kMaxClips) throw bad_request("views: at most " + std::to_string(kMaxClips) + " clips", "invalid_views");
  views.sampling = options_.sampling;
  return views;
}

SampledViews InferenceService::decode(const std::string& path, const ViewOptions& views) const {
  try {
    auto source = video::open_frame_source(path, views.frame_template, views.first_frame_number);
    const auto count = source->frame_count();
    if (count > options_.max_video_frames)
      throw ApiError(413, "video_too_long",
                     "the video has " + std::to_string(count) + " frames; this server accepts at most " +
                         std::to_string(options_.max_video_frames));
    const auto last = count > 0 ? source->frame_seconds(count - 1) : std::nullopt;
    if (last && *last > options_.max_duration_seconds)
      throw ApiError(413, "video_too_long",
                     "the video lasts " + std::to_string(*last) + " s; this server accepts at most " +
                         std::to_string(options_.max_duration_seconds) + " s");
    return make_views(*source, views);
  } catch (const ApiError&) {
    throw;
  } catch (const std::exception& e) {
    throw bad_request(std::string("the video cannot be decoded: ") + e.what(), "invalid_video");
  }
}

template <typename T>
T InferenceService::wait(std::future<T>& future, Clock::time_point deadline, const char* stage) {
  if (future.wait_until(deadline) != std::future_status::ready)
    throw ApiError(504, "timeout", std::string("the request timed out while ") + stage);
  return future.get();
}

InferenceService::EncodedViews InferenceService::encode(const VideoRequest& request) {
  const auto views = view_options(request);
  Admission admission(in_flight_, options_.max_queue);
  metrics_.set("actionclip_requests_in_flight", static_cast<double>(in_flight_.load()));
  const auto deadline = Clock::now() + options_.timeout;
  EncodedViews out;
  const auto path = request.path;
  auto decoded = decoders_.submit([this, path, views] {
    const auto start = Clock::now();
    auto sampled = decode(path, views);
    metrics_.observe("actionclip_decode_seconds", seconds_since(start));
    return std::make_pair(std::move(sampled), seconds_since(start));
  });
  auto [sampled, decode_seconds] = wait(decoded, deadline, "decoding the video");
  out.timings.decode_seconds = decode_seconds;
  out.frames = std::move(sampled.frames);

  const auto queued = Clock::now();
  std::future<torch::Tensor> features;
  try {
    features = batcher_.submit(std::move(sampled.pixels));
  } catch (const QueueFullError& e) {
    throw ApiError(503, "queue_full", e.what());
  }
  metrics_.set("actionclip_queue_depth", static_cast<double>(batcher_.queue_depth()));
  out.features = wait(features, deadline, "waiting for the model");
  out.timings.model_seconds = seconds_since(queued);
  return out;
}

LabelEmbeddings InferenceService::embed_label_set(const std::vector<std::string>& labels, const TemplateSet& templates) {
  std::lock_guard<std::mutex> lock(text_mutex_);
  TextEmbedderOptions text_options;
  text_options.cache_dir = options_.cache_dir;
  text_options.model_identity = options_.model_identity;
  return TextEmbedder(loaded_.model, loaded_.tokenizer, text_options).embed_labels(labels, templates);
}

ClassifyResult InferenceService::classify(const ClassifyRequest& request) {
  auto names = request.labels;
  if (names.empty() && loaded_.metadata.contains("labels"))
    names = loaded_.metadata.at("labels").get<std::vector<std::string>>();  // stored by `convert --labels`
  if (names.empty()) throw bad_request("no labels given (labels or label_set)", "invalid_labels");
  if (names.size() > options_.max_labels)
    throw bad_request(std::to_string(names.size()) + " labels; this server accepts at most " +
                          std::to_string(options_.max_labels) + " (--max-labels)",
                      "too_many_labels");
  if (request.top_k < 1) throw bad_request("top_k must be at least 1", "invalid_top_k");
  TemplateSet templates = loaded_.templates;
  if (!request.templates.empty()) {
    if (request.templates != "default" && request.templates != "actionclip" && request.templates != "none")
      throw bad_request("templates must be default, actionclip or none", "invalid_templates");
    templates = builtin_templates(request.templates);
  }
  ClassifyResult result;
  const auto text_start = Clock::now();
  auto labels = labels_.get(names, templates, &result.text_cache_hit);
  result.timings.text_seconds = seconds_since(text_start);
  metrics_.increment(result.text_cache_hit ? "actionclip_text_cache_hits_total" : "actionclip_text_cache_misses_total");

  auto encoded = encode(request.video);
  auto probabilities = video_label_probabilities(encoded.features, *labels, options_.logit_scale);
  const auto count = std::min<int64_t>(request.top_k, probabilities.numel());
  auto [values, indices] = probabilities.topk(count);
  for (int64_t i = 0; i < count; ++i)
    result.top.emplace_back(labels->labels[static_cast<size_t>(indices[i].item<int64_t>())], values[i].item<double>());
  result.frames = std::move(encoded.frames);
  const auto text_seconds = result.timings.text_seconds;
  result.timings = encoded.timings;
  result.timings.text_seconds = text_seconds;
  return result;
}

VideoEmbedding InferenceService::embed_video(const VideoRequest& request) {
  auto encoded = encode(request);
  return {index_embedding(encoded.features), std::move(encoded.frames), encoded.timings};
}

torch::Tensor InferenceService::embed_texts(const std::vector<std::string>& texts) {
  std::lock_guard<std::mutex> lock(text_mutex_);
  return TextEmbedder(loaded_.model, loaded_.tokenizer).embed(texts);
}

int64_t InferenceService::token_count(const std::vector<std::string>& texts) {
  std::lock_guard<std::mutex> lock(text_mutex_);
  const auto context = static_cast<int>(loaded_.model->clip->config().context_length);
  int64_t tokens = 0;
  for (const auto& text : texts)
    for (auto id : loaded_.tokenizer->tokenize(text, context, true)) tokens += id != 0 ? 1 : 0;  // padding is 0
  return tokens;
}

nlohmann::json InferenceService::describe() const {
  const auto& config = loaded_.model->clip->config();
  return {{"embedding_size", config.embed_dim},
          {"frames", loaded_.model->options().num_frames},
          {"resolution", config.image_resolution},
          {"visual_prompt", prompt_type_name(loaded_.model->options().prompt)},
          {"templates", loaded_.templates.name},
          {"index_videos", index_size()}};
}

std::vector<SearchHit> InferenceService::search(const std::string& query, int k) {
  if (!index_) throw ApiError(404, "no_index", "this server was started without --index");
  if (k < 1) throw bad_request("top_k must be at least 1", "invalid_top_k");
  auto similarity = torch::matmul(embed_texts({query}), index_->embeddings.t())[0];  // [N], as `search`
  const auto count = std::min<int64_t>(k, similarity.numel());
  auto [scores, order] = similarity.topk(count);
  std::vector<SearchHit> hits;
  for (int64_t i = 0; i < count; ++i)
    hits.push_back({index_->paths[static_cast<size_t>(order[i].item<int64_t>())], scores[i].item<double>()});
  return hits;
}

}  // namespace actionclip::serve
