#pragma once
// ActionCLIP's post-network visual prompts: fuse per-frame features [B, T, D] into one video
// feature [B, D]. Submodule and parameter names follow the reference's fusion model
// (frame_position_embeddings, shift, lstm_visual, transformer...), so its checkpoints load
// one to one once the DataParallel "module." prefix is stripped.
#include <torch/torch.h>

#include <string>

#include "actionclip/clip/transformer.h"

namespace actionclip {

// `Joint` and `Shift` act inside the image encoder; their post-network fusion is a mean.
enum class PromptType { MeanP, Conv1D, Lstm, Transf, TransfCls, Joint, Shift };

PromptType prompt_type_from_name(const std::string& name);  // reference names: meanP, Conv_1D, LSTM, ...
std::string prompt_type_name(PromptType type);

// Infers the post-network prompt from a fusion state dict's keys (empty -> meanP).
PromptType infer_prompt_type(const std::map<std::string, torch::Tensor>& fusion_state);

// The reference's `Transf_cls` aggregator: [cls; frames] + pos_embed through a standard
// post-norm encoder (8 heads, ReLU, feed-forward 2048) with a final LayerNorm.
class ClsAggregatorImpl : public torch::nn::Module {
 public:
  ClsAggregatorImpl(int64_t num_frames, int64_t width, int64_t layers);
  torch::Tensor forward(const torch::Tensor& frames);  // [B, T, D] -> [B, D]

  torch::Tensor cls_token, pos_embed;
  torch::nn::TransformerEncoder transformer_enc{nullptr};
};
TORCH_MODULE(ClsAggregator);

struct VisualPromptOptions {
  PromptType type = PromptType::MeanP;
  int64_t width = 512;           // embedding dimension
  // Transf's attention heads. The reference takes them from CLIP's *text* width (width / 64),
  // not from the embedding: they differ for RN50 (1024 vs 512), RN101, ...
  int64_t heads = 8;
  int64_t num_frames = 8;        // T (Transf_cls sizes pos_embed from it)
  int64_t context_length = 77;   // rows of frame_position_embeddings, as the reference
  int64_t layers = 6;
  // The reference's Conv_1D reshapes [B,T,C] to [B,C,T] instead of transposing: a loaded
  // reference checkpoint needs it; new training can use the proper transpose.
  bool reference_conv1d = true;

  // The reference's sizes for a prompt on this CLIP: width = embedding dimension, heads = text
  // width / 64, frame position rows = context length.
  static VisualPromptOptions for_clip(const ClipConfig& clip, PromptType type, int64_t num_frames);
};

class VisualPromptImpl : public torch::nn::Module {
 public:
  explicit VisualPromptImpl(const VisualPromptOptions& options);
  torch::Tensor forward(const torch::Tensor& frame_features);  // [B, T, D] -> [B, D]

  const VisualPromptOptions& options() const { return options_; }
  // True when the prompt has parameters of its own (the "new modules" of fine-tuning).
  bool has_parameters() { return !parameters().empty(); }

  torch::nn::Embedding frame_position_embeddings{nullptr};
  torch::nn::Conv1d shift{nullptr};
  torch::nn::LSTM lstm_visual{nullptr};
  Transformer temporal{nullptr};      // registered as "transformer" for Transf
  ClsAggregator aggregator{nullptr};  // registered as "transformer" for Transf_cls

 private:
  VisualPromptOptions options_;
};
TORCH_MODULE(VisualPrompt);

}  // namespace actionclip
