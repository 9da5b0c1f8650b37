#include "actionclip/clip/transformer.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cmath>

#include "actionclip/clip/linear.h"

namespace actionclip {

SelfAttentionImpl::SelfAttentionImpl(int64_t width, int64_t heads) : heads_(heads) {
  TORCH_CHECK(width % heads == 0, "attention width ", width, " is not divisible by ", heads, " heads");
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::nn::init::zeros_(out_proj->bias);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const auto batch = x.size(0), length = x.size(1), width = x.size(2);
  // Without autograd, libtorch's fused kernel (the fast path of nn.MultiheadAttention) does the
  // same computation in fewer passes over memory. It has no autocast rule, so not under autocast;
  // on a CPU with oneDNN the faster projections below win over it.
  const bool drop = dropout > 0 && is_training();
  if (!drop && !additive_mask.defined() && !torch::GradMode::is_enabled() && !at::autocast::is_cpu_enabled() &&
      !at::autocast::is_enabled() && !uses_onednn_linear(x) && !in_proj_int8.defined())
    return std::get<0>(at::_native_multi_head_attention(x, x, x, width, heads_, in_proj_weight, in_proj_bias,
                                                        out_proj->weight, out_proj->bias, c10::nullopt,
                                                        /*need_weights=*/false));
  const auto head_dim = width / heads_;
  // [N, L, 3, H, Dh] -> 3 x [N, H, L, Dh]
  auto qkv = linear(x, in_proj_weight, in_proj_bias, in_proj_int8)
                 .view({batch, length, 3, heads_, head_dim})
                 .permute({2, 0, 3, 1, 4});
  auto q = qkv[0] * (1.0 / std::sqrt(static_cast<double>(head_dim)));
  auto k = qkv[1];
  auto v = qkv[2];
  auto logits = torch::matmul(q, k.transpose(-2, -1));
  if (additive_mask.defined()) logits = logits + additive_mask;
  auto weights = torch::softmax(logits, -1);
  if (drop) weights = torch::dropout(weights, dropout, true);
  auto context = torch::matmul(weights, v);  // [N, H, L, Dh]
  return linear(context.transpose(1, 2).reshape({batch, length, width}), out_proj->weight, out_proj->bias,
                out_proj_int8);
}

MlpImpl::MlpImpl(int64_t width, Activation activation) : activation_(activation) {
  c_fc = register_module("c_fc", torch::nn::Linear(width, width * 4));
  c_proj = register_module("c_proj", torch::nn::Linear(width * 4, width));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = linear(x, c_fc->weight, c_fc->bias, c_fc_int8);
  h = activation_ == Activation::QuickGelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
  return linear(h, c_proj->weight, c_proj->bias, c_proj_int8);
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(const BlockOptions& o) {
  attn = register_module("attn", SelfAttention(o.width, o.heads));
  ln_1 = register_module("ln_1", LayerNorm(torch::nn::LayerNormOptions({o.width}).eps(o.layer_norm_eps)));
  mlp = register_module("mlp", Mlp(o.width, o.activation));
  ln_2 = register_module("ln_2", LayerNorm(torch::nn::LayerNormOptions({o.width}).eps(o.layer_norm_eps)));
}

namespace {

// The reference's DropPath, on its sequence-first tensors: one keep-or-drop draw per token
// position, shared by the whole batch (it meant one per sample, but dim 0 there is the sequence).
torch::Tensor drop_path(const torch::Tensor& branch, double rate) {
  const double keep = 1 - rate;
  auto mask = (keep + torch::rand({1, branch.size(1), 1}, branch.options())).floor_();
  return branch.div(keep) * mask;
}

}  // namespace

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const bool drop = drop_rate > 0 && is_training();
  auto h = ln_1(x);
  if (shift_segments > 0) h = temporal_shift(h, shift_segments);
  auto branch = attn(h, additive_mask);
  auto y = x + (drop ? drop_path(branch, drop_rate) : branch);
  branch = mlp(ln_2(y));
  return y + (drop ? drop_path(branch, drop_rate) : branch);
}

TransformerImpl::TransformerImpl(int64_t layers, const BlockOptions& options) {
  resblocks = register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) {
    blocks.emplace_back(options);
    resblocks->push_back(blocks.back());
  }
}

void TransformerImpl::set_drop_rates(double max_rate, int64_t schedule_length) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto step = std::min<int64_t>(static_cast<int64_t>(i), schedule_length - 1);
    const double rate = schedule_length > 1 ? max_rate * static_cast<double>(step) / static_cast<double>(schedule_length - 1) : 0.0;
    blocks[i]->drop_rate = rate;
    blocks[i]->attn->dropout = rate;
  }
}

torch::Tensor TransformerImpl::forward(torch::Tensor x, const torch::Tensor& additive_mask) {
  for (auto& block : blocks) x = block(x, additive_mask);
  return x;
}

torch::Tensor temporal_shift(const torch::Tensor& x, int64_t segments, int64_t fold_div) {
  const auto frames_total = x.size(0), tokens = x.size(1), width = x.size(2);
  TORCH_CHECK(frames_total % segments == 0, "temporal shift: ", frames_total, " frames are not a multiple of ",
              segments, " segments");
  const auto fold = width / fold_div;
  auto patches = x.slice(1, 1).reshape({frames_total / segments, segments, tokens - 1, width});
  auto shifted = torch::zeros_like(patches);
  using torch::indexing::None;
  using torch::indexing::Slice;
  shifted.index_put_({Slice(), Slice(None, -1), Slice(), Slice(None, fold)},
                     patches.index({Slice(), Slice(1, None), Slice(), Slice(None, fold)}));
  shifted.index_put_({Slice(), Slice(1, None), Slice(), Slice(fold, 2 * fold)},
                     patches.index({Slice(), Slice(None, -1), Slice(), Slice(fold, 2 * fold)}));
  shifted.index_put_({Slice(), Slice(), Slice(), Slice(2 * fold, None)},
                     patches.index({Slice(), Slice(), Slice(), Slice(2 * fold, None)}));
  return torch::cat({x.slice(1, 0, 1), shifted.reshape({frames_total, tokens - 1, width})}, 1);
}

}  // namespace actionclip
