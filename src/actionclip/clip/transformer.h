#pragma once
// CLIP's pre-LN transformer, with parameter names as in OpenAI's checkpoints
// (resblocks.N.attn.in_proj_weight, resblocks.N.ln_1.weight, resblocks.N.mlp.c_fc.weight, ...).
// Tensors are batch-first [N, L, D]; the reference is sequence-first, which only permutes
// the same computation.
#include <torch/torch.h>

#include "actionclip/clip/clip_config.h"
#include "actionclip/clip/int8_linear.h"
#include "actionclip/clip/layer_norm.h"

namespace actionclip {

// Multi-head self-attention over a fused QKV projection (named as nn.MultiheadAttention).
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t width, int64_t heads);
  // `additive_mask` [L, L] (or undefined) is added to the attention logits.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask = {});

  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
  Int8Linear in_proj_int8, out_proj_int8;  // packed by quantize_for_inference (int8_quantization.h)
  double dropout = 0;  // on the attention weights, in training (nn.MultiheadAttention's dropout)

 private:
  int64_t heads_;
};
TORCH_MODULE(SelfAttention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t width, Activation activation);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
  Int8Linear c_fc_int8, c_proj_int8;

 private:
  Activation activation_;
};
TORCH_MODULE(Mlp);

struct BlockOptions {
  int64_t width;
  int64_t heads;
  Activation activation = Activation::QuickGelu;
  double layer_norm_eps = 1e-5;
};

class ResidualAttentionBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualAttentionBlockImpl(const BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask = {});

  // In-network temporal shift (ActionCLIP's `Shift` prompt): when > 0, the attention input's
  // patch tokens are shifted in time across groups of this many consecutive frames.
  int64_t shift_segments = 0;
  // Training only: the rate of the reference's DropPath on both residual branches, which is also
  // its attention dropout.
  double drop_rate = 0;

  SelfAttention attn{nullptr};
  LayerNorm ln_1{nullptr}, ln_2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(int64_t layers, const BlockOptions& options);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& additive_mask = {});

  // The reference's stochastic-depth rule: block i drops at rate_i, torch.linspace(0, max_rate,
  // schedule_length)[i] (the last rate for blocks past the schedule's end).
  void set_drop_rates(double max_rate, int64_t schedule_length);

  torch::nn::ModuleList resblocks{nullptr};
  std::vector<ResidualAttentionBlock> blocks;
};
TORCH_MODULE(Transformer);

// TSM's shift of 1/fold_div of the channels one step back in time and 1/fold_div one step
// forward, for tokens [B*T, L, D]; token 0 (class token) is left in place.
torch::Tensor temporal_shift(const torch::Tensor& x, int64_t segments, int64_t fold_div = 8);

}  // namespace actionclip
