#pragma once
// Text side of zero-shot classification: every (template, label) prompt encoded once,
// L2-normalized, and cached on disk per model, labels and templates.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "actionclip/clip/tokenizer.h"
#include "actionclip/model/actionclip_model.h"
#include "actionclip/model/text_prompts.h"
#include "actionclip/util/cache_dir.h"  // default_cache_dir(): where text embeddings are cached

namespace actionclip {

struct LabelEmbeddings {
  std::vector<std::string> labels;
  TemplateSet templates;
  torch::Tensor features;  // [templates, labels, D], unit length
};

struct TextEmbedderOptions {
  int batch_size = 256;
  bool truncate = true;  // cut over-long prompts (keeping the end token) instead of failing
  std::string cache_dir;  // empty: no disk cache
  std::string model_identity;  // names the weights in cache keys (path, size, mtime)
};

class TextEmbedder {
 public:
  TextEmbedder(ActionClipModel model, std::shared_ptr<const Tokenizer> tokenizer, TextEmbedderOptions options = {});

  // Unit-length text features [N, D].
  torch::Tensor embed(const std::vector<std::string>& texts);
  // Every label in every template; read from the disk cache when an identical set was seen.
  LabelEmbeddings embed_labels(const std::vector<std::string>& labels, const TemplateSet& templates);
  // Token ids [N, context] of `texts`, for training.
  torch::Tensor tokenize(const std::vector<std::string>& texts) const;

 private:
  ActionClipModel model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  TextEmbedderOptions options_;
};

// The reference's test-time scoring: per template, softmax over labels of
// scale * cos(video, text); probabilities averaged over templates. [B, D] -> [B, labels].
torch::Tensor label_probabilities(const torch::Tensor& video_features, const LabelEmbeddings& labels,
                                  double scale = 100.0);
// The multi-view test protocol: each view's label probabilities, averaged. [V, D] -> [labels].
torch::Tensor video_label_probabilities(const torch::Tensor& view_features, const LabelEmbeddings& labels,
                                        double scale = 100.0);

// "path|size|mtime": changes whenever the weights file does.
std::string file_identity(const std::string& path);

}  // namespace actionclip
