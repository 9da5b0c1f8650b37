#pragma once
// What `actionclip serve` computes, behind HTTP: videos decoded on a worker pool and encoded
// by the dynamic batcher, label sets embedded once (LRU over the disk cache), text embeddings,
// and search over a loaded index. Scoring is classify's, so an answer here equals
// `actionclip classify` on the same file. Thread-safe: every HTTP worker calls in at once.
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actionclip/inference/video_index.h"
#include "actionclip/inference/video_views.h"
#include "actionclip/model/model_io.h"
#include "actionclip/serve/dynamic_batcher.h"
#include "actionclip/serve/label_cache.h"
#include "actionclip/serve/metrics.h"
#include "actionclip/serve/worker_pool.h"

namespace actionclip::serve {

struct ServiceOptions {
  std::string model_name;  // reported in answers and by /v1/models
  int max_batch = 8;
  std::chrono::microseconds batch_delay{5000};
  size_t max_queue = 64;  // videos being decoded or waiting for the model; more get 503
  int decode_threads = 2;
  size_t label_cache_size = 32;  // label sets kept embedded
  size_t max_labels = 1000;
  int64_t max_video_frames = 100000;  // longest accepted video, in frames
  double max_duration_seconds = 3600;  // longest accepted video, in seconds
  std::chrono::milliseconds timeout{60000};  // longest a request waits for decoding and the model
  std::string cache_dir;       // text embedding disk cache; empty: none
  std::string model_identity;  // names the weights in disk cache keys
  double logit_scale = 100.0;
  video::Sampling sampling = video::Sampling::kActionclip;
  torch::Device device = torch::kCPU;
  bool bfloat16 = false;
};

struct VideoRequest {
  std::string path;
  std::string views = "1x1";  // CROPSxCLIPS
  int frames = 0;             // 0: the model's
};

struct ClassifyRequest {
  VideoRequest video;
  std::vector<std::string> labels;
  std::string templates;  // empty: the model's
  int top_k = 5;
};

struct Timings {
  double decode_seconds = 0, queue_seconds = 0, model_seconds = 0, text_seconds = 0;
};

struct ClassifyResult {
  std::vector<std::pair<std::string, double>> top;  // best first
  std::vector<ViewFrames> frames;
  Timings timings;
  bool text_cache_hit = false;
};

struct VideoEmbedding {
  torch::Tensor embedding;  // [D] unit length, views averaged (an index row)
  std::vector<ViewFrames> frames;
  Timings timings;
};

struct SearchHit {
  std::string path;
  double score;
};

class InferenceService {
 public:
  // INDEX (optional) is what /v1/search ranks. METRICS outlives the service.
  InferenceService(LoadedModel loaded, ServiceOptions options, MetricsRegistry& metrics,
                   std::optional<VideoIndex> index = std::nullopt);

  // Throw ApiError for a request that cannot be served as asked (400, 503 when the queue is
  // full, 504 past the timeout).
  ClassifyResult classify(const ClassifyRequest& request);
  VideoEmbedding embed_video(const VideoRequest& request);
  torch::Tensor embed_texts(const std::vector<std::string>& texts);  // [N, D] unit length
  int64_t token_count(const std::vector<std::string>& texts);        // with start and end tokens
  std::vector<SearchHit> search(const std::string& query, int k);

  const ServiceOptions& options() const { return options_; }
  const std::string& model_name() const { return options_.model_name; }
  int64_t embedding_size() const;
  nlohmann::json describe() const;  // architecture, frames, resolution, visual prompt, index size
  size_t queue_depth() const { return batcher_.queue_depth(); }
  bool has_index() const { return index_.has_value(); }
  size_t index_size() const { return index_ ? index_->paths.size() : 0; }
  const LabelEmbeddingCache& label_cache() const { return labels_; }

 private:
  struct EncodedViews {
    torch::Tensor features;  // [views, D]
    std::vector<ViewFrames> frames;
    Timings timings;
  };
  EncodedViews encode(const VideoRequest& request);
  ViewOptions view_options(const VideoRequest& request) const;
  SampledViews decode(const std::string& path, const ViewOptions& views) const;
  LabelEmbeddings embed_label_set(const std::vector<std::string>& labels, const TemplateSet& templates);
  template <typename T>
  T wait(std::future<T>& future, std::chrono::steady_clock::time_point deadline, const char* stage);

  LoadedModel loaded_;
  ServiceOptions options_;
  MetricsRegistry& metrics_;
  std::optional<VideoIndex> index_;
  std::mutex text_mutex_;  // the tokenizer's word cache is not shared across threads
  std::atomic<size_t> in_flight_{0};
  LabelEmbeddingCache labels_;
  WorkerPool decoders_;
  DynamicBatcher batcher_;
};

// The metric families the service and the HTTP layer update, declared on METRICS.
void declare_serve_metrics(MetricsRegistry& metrics);

}  // namespace actionclip::serve
