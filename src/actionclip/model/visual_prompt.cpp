#include "actionclip/model/visual_prompt.h"

#include <algorithm>

#include "actionclip/util/autocast.h"
#include "actionclip/util/error.h"

namespace actionclip {
namespace {

struct PromptName {
  PromptType type;
  const char* name;
};
constexpr PromptName kPromptNames[] = {
    {PromptType::MeanP, "meanP"},   {PromptType::Conv1D, "Conv_1D"},        {PromptType::Lstm, "LSTM"},
    {PromptType::Transf, "Transf"}, {PromptType::TransfCls, "Transf_cls"}, {PromptType::Joint, "Joint"},
    {PromptType::Shift, "Shift"},
};

// The reference initialises new linear/embedding weights N(0, 0.02) and LayerNorms to identity.
void init_reference_style(torch::nn::Module& module) {
  for (auto& p : module.named_parameters()) {
    const auto& name = p.key();
    torch::NoGradGuard no_grad;
    if (name.find("ln_") != std::string::npos || name.find("norm") != std::string::npos) {
      if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0) p.value().fill_(1.0);
      else p.value().zero_();
    } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      p.value().zero_();
    } else {
      p.value().normal_(0.0, 0.02);
    }
  }
}

}  // namespace

PromptType prompt_type_from_name(const std::string& name) {
  for (const auto& p : kPromptNames)
    if (name == p.name) return p.type;
  std::string known;
  for (const auto& p : kPromptNames) known += std::string(known.empty() ? "" : ", ") + p.name;
  throw Error("unknown visual prompt '" + name + "' (known: " + known + ")");
}

std::string prompt_type_name(PromptType type) {
  for (const auto& p : kPromptNames)
    if (type == p.type) return p.name;
  return "?";
}

PromptType infer_prompt_type(const std::map<std::string, torch::Tensor>& fusion) {
  if (fusion.count("shift.weight")) return PromptType::Conv1D;
  if (fusion.count("lstm_visual.weight_ih_l0")) return PromptType::Lstm;
  if (fusion.count("transformer.cls_token")) return PromptType::TransfCls;
  if (fusion.count("transformer.resblocks.0.attn.in_proj_weight")) return PromptType::Transf;
  return PromptType::MeanP;
}

VisualPromptOptions VisualPromptOptions::for_clip(const ClipConfig& clip, PromptType type, int64_t num_frames) {
  VisualPromptOptions o;
  o.type = type;
  o.width = clip.embed_dim;
  // At least one head for text encoders narrower than 64 (the reference would divide by zero).
  o.heads = std::max<int64_t>(1, clip.text_width / 64);
  o.num_frames = num_frames;
  o.context_length = clip.context_length;
  return o;
}

ClsAggregatorImpl::ClsAggregatorImpl(int64_t num_frames, int64_t width, int64_t layers) {
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, width}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, num_frames + 1, width}));
  auto layer = torch::nn::TransformerEncoderLayer(torch::nn::TransformerEncoderLayerOptions(width, 8));
  transformer_enc = register_module(
      "transformer_enc",
      torch::nn::TransformerEncoder(torch::nn::TransformerEncoderOptions(layer, layers)
                                        .norm(torch::nn::AnyModule(torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}))))));
  torch::NoGradGuard no_grad;
  // The reference's trunc_normal_(std=0.02) truncates at +-2, i.e. never in practice.
  pos_embed.normal_(0.0, 0.02);
  cls_token.normal_(0.0, 0.02);
}

torch::Tensor ClsAggregatorImpl::forward(const torch::Tensor& frames) {
  // torch's TransformerEncoder mixes bf16 activations with float32 norms under CPU autocast,
  // which libtorch 1.13 rejects; this small module runs in float32 either way.
  CpuAutocastSuspended float32;
  if (frames.size(1) + 1 != pos_embed.size(1))
    throw Error("Transf_cls was built for " + std::to_string(pos_embed.size(1) - 1) + " frames, got " +
                std::to_string(frames.size(1)));
  auto x = torch::cat({cls_token.expand({frames.size(0), 1, frames.size(2)}), frames.to(cls_token.dtype())}, 1) + pos_embed;
  return transformer_enc(x.transpose(0, 1)).select(0, 0);
}

VisualPromptImpl::VisualPromptImpl(const VisualPromptOptions& o) : options_(o) {
  const auto width = o.width;
  switch (o.type) {
    case PromptType::MeanP:
    case PromptType::Joint:
    case PromptType::Shift:
      return;
    case PromptType::Conv1D: {
      shift = register_module("shift", torch::nn::Conv1d(torch::nn::Conv1dOptions(width, width, 3).padding(1).groups(width).bias(false)));
      // The reference starts as a temporal shift: a quarter of the channels look back, half
      // stay, a quarter look ahead.
      torch::NoGradGuard no_grad;
      shift->weight.zero_();
      shift->weight.slice(0, 0, width / 4).select(2, 0).fill_(1.0);
      shift->weight.slice(0, width / 4, width / 4 + width / 2).select(2, 1).fill_(1.0);
      shift->weight.slice(0, width - width / 4).select(2, 2).fill_(1.0);
      break;
    }
    case PromptType::Lstm:
      lstm_visual = register_module("lstm_visual", torch::nn::LSTM(torch::nn::LSTMOptions(width, width).batch_first(true)));
      break;
    case PromptType::Transf:
      // LayerNorm eps 1e-12, as the reference's TemporalTransformer.
      temporal = register_module("transformer", Transformer(o.layers, BlockOptions{width, o.heads, Activation::QuickGelu, 1e-12}));
      init_reference_style(*temporal);
      break;
    case PromptType::TransfCls:
      aggregator = register_module("transformer", ClsAggregator(o.num_frames, width, o.layers));
      break;
  }
  frame_position_embeddings = register_module("frame_position_embeddings", torch::nn::Embedding(o.context_length, width));
  torch::NoGradGuard no_grad;
  frame_position_embeddings->weight.normal_(0.0, 0.02);
}

torch::Tensor VisualPromptImpl::forward(const torch::Tensor& frame_features) {
  // Temporal modelling in float32, as the reference does (x.float()), whatever the encoder's precision.
  const auto x = frame_features.to(torch::kFloat32);
  const auto batch = x.size(0), frames = x.size(1), width = x.size(2);
  switch (options_.type) {
    case PromptType::MeanP:
    case PromptType::Joint:
    case PromptType::Shift:
      return x.mean(1);
    case PromptType::Conv1D: {
      auto channels_first = options_.reference_conv1d ? x.contiguous().view({batch, width, frames}) : x.transpose(1, 2);
      auto y = shift(channels_first).permute({0, 2, 1});
      return (y + x).mean(1);
    }
    case PromptType::Lstm: {
      auto y = std::get<0>(lstm_visual(x));
      return (y + x).mean(1);
    }
    case PromptType::Transf: {
      auto positions = frame_position_embeddings->weight.slice(0, 0, frames).unsqueeze(0);
      return (temporal(x + positions) + x).mean(1);
    }
    case PromptType::TransfCls:
      return aggregator(x);
  }
  return x;
}

}  // namespace actionclip
