#include "actionclip/clip/clip_config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "actionclip/util/error.h"

namespace actionclip {
namespace {

const torch::Tensor& require(const std::map<std::string, torch::Tensor>& sd, const std::string& key) {
  auto it = sd.find(key);
  if (it == sd.end()) throw Error("missing key '" + key + "'");
  return it->second;
}

int64_t count_blocks(const std::map<std::string, torch::Tensor>& sd, const std::string& prefix) {
  std::set<std::string> indices;
  for (const auto& [key, _] : sd) {
    if (key.rfind(prefix, 0) != 0) continue;
    indices.insert(key.substr(prefix.size(), key.find('.', prefix.size()) - prefix.size()));
  }
  return static_cast<int64_t>(indices.size());
}

// OpenAI's build_model gives a text encoder width / 64 heads (as every released CLIP has); a
// state dict does not record them. Encoders narrower than 128, which no release has, get 2, as
// the tiny parity fixtures were built (their 64-wide text encoder has 2 heads).
int64_t text_heads_for(int64_t width) { return std::max<int64_t>(2, width / 64); }

// The side of the square grid a positional embedding of 1 + side^2 rows was learned for.
int64_t grid_side(const std::map<std::string, torch::Tensor>& sd, const std::string& key) {
  const auto positions = require(sd, key).size(0);
  const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(positions - 1))));
  if (grid * grid + 1 != positions)
    throw Error(key + " has " + std::to_string(positions) + " rows, not 1 + a square grid");
  return grid;
}

void infer_vision_transformer(const std::map<std::string, torch::Tensor>& sd, ClipConfig& c) {
  const auto& conv1 = require(sd, "visual.conv1.weight");
  c.vision_width = conv1.size(0);
  c.vision_patch_size = conv1.size(-1);
  c.vision_layers = count_blocks(sd, "visual.transformer.resblocks.");
  c.image_resolution = grid_side(sd, "visual.positional_embedding") * c.vision_patch_size;
  c.vision_heads = c.vision_width / 64;
}

// As OpenAI's build_model: blocks counted per stage, width from the first block, resolution
// 32x the attention pool's grid, 32x width channels into the pool at 64 per head.
void infer_modified_resnet(const std::map<std::string, torch::Tensor>& sd, ClipConfig& c) {
  c.vision_kind = ImageEncoderKind::ModifiedResNet;
  c.vision_layers = 0;
  for (size_t stage = 0; stage < c.vision_stage_layers.size(); ++stage) {
    const auto prefix = "visual.layer" + std::to_string(stage + 1) + ".";
    c.vision_stage_layers[stage] = count_blocks(sd, prefix);
    if (c.vision_stage_layers[stage] == 0) throw Error("no ResNet blocks found under '" + prefix + "'");
    c.vision_layers += c.vision_stage_layers[stage];
  }
  c.vision_width = require(sd, "visual.layer1.0.conv1.weight").size(0);
  c.vision_patch_size = 32;
  c.image_resolution = grid_side(sd, "visual.attnpool.positional_embedding") * c.vision_patch_size;
  c.vision_heads = c.vision_width * 32 / 64;
}

}  // namespace

ClipConfig ClipConfig::infer(const std::map<std::string, torch::Tensor>& sd) {
  ClipConfig c;
  if (sd.count("visual.layer1.0.conv1.weight"))
    infer_modified_resnet(sd, c);
  else
    infer_vision_transformer(sd, c);

  c.embed_dim = require(sd, "text_projection").size(1);
  c.context_length = require(sd, "positional_embedding").size(0);
  c.vocab_size = require(sd, "token_embedding.weight").size(0);
  c.text_width = require(sd, "ln_final.weight").size(0);
  c.text_heads = text_heads_for(c.text_width);
  c.text_layers = count_blocks(sd, "transformer.resblocks.");
  if (c.vision_layers == 0 || c.text_layers == 0) throw Error("no transformer blocks found");
  return c;
}

ClipConfig ClipConfig::vit_b32() { return ClipConfig{}; }

ClipConfig ClipConfig::modified_resnet(std::array<int64_t, 4> stage_layers, int64_t width, int64_t resolution,
                                       int64_t embed_dim, int64_t text_width) {
  ClipConfig c;
  c.vision_kind = ImageEncoderKind::ModifiedResNet;
  c.vision_stage_layers = stage_layers;
  c.vision_layers = stage_layers[0] + stage_layers[1] + stage_layers[2] + stage_layers[3];
  c.vision_width = width;
  c.vision_heads = width * 32 / 64;
  c.vision_patch_size = 32;
  c.image_resolution = resolution;
  c.embed_dim = embed_dim;
  c.text_width = text_width;
  c.text_heads = text_heads_for(text_width);
  return c;
}

std::string ClipConfig::describe_image_encoder() const {
  const auto common = "width " + std::to_string(vision_width) + ", " + std::to_string(vision_heads) + " heads";
  if (!resnet())
    return "ViT, " + std::to_string(vision_layers) + " layers, " + common + ", patch " +
           std::to_string(vision_patch_size) + ", resolution " + std::to_string(image_resolution);
  std::string blocks;
  for (auto n : vision_stage_layers) blocks += (blocks.empty() ? "" : "-") + std::to_string(n);
  return "ResNet, blocks " + blocks + ", " + common + " (attention pool), resolution " + std::to_string(image_resolution);
}

void to_json(nlohmann::json& j, const ClipConfig& c) {
  j = {{"embed_dim", c.embed_dim},
       {"image_resolution", c.image_resolution},
       {"vision_kind", c.resnet() ? "resnet" : "vit"},
       {"vision_layers", c.vision_layers},
       {"vision_width", c.vision_width},
       {"vision_heads", c.vision_heads},
       {"vision_patch_size", c.vision_patch_size},
       {"context_length", c.context_length},
       {"vocab_size", c.vocab_size},
       {"text_width", c.text_width},
       {"text_heads", c.text_heads},
       {"text_layers", c.text_layers},
       {"activation", c.activation == Activation::QuickGelu ? "quick_gelu" : "gelu"}};
  if (c.resnet()) j["vision_stage_layers"] = c.vision_stage_layers;
}

void from_json(const nlohmann::json& j, ClipConfig& c) {
  j.at("embed_dim").get_to(c.embed_dim);
  j.at("image_resolution").get_to(c.image_resolution);
  // Files written before ResNet support hold ViTs and no kind.
  const auto kind = j.value("vision_kind", std::string("vit"));
  if (kind != "vit" && kind != "resnet") throw Error("unknown vision_kind '" + kind + "' (vit, resnet)");
  if (kind == "resnet") {
    c.vision_kind = ImageEncoderKind::ModifiedResNet;
    j.at("vision_stage_layers").get_to(c.vision_stage_layers);
  }
  j.at("vision_layers").get_to(c.vision_layers);
  j.at("vision_width").get_to(c.vision_width);
  j.at("vision_heads").get_to(c.vision_heads);
  j.at("vision_patch_size").get_to(c.vision_patch_size);
  j.at("context_length").get_to(c.context_length);
  j.at("vocab_size").get_to(c.vocab_size);
  j.at("text_width").get_to(c.text_width);
  j.at("text_heads").get_to(c.text_heads);
  j.at("text_layers").get_to(c.text_layers);
  c.activation = j.value("activation", std::string("quick_gelu")) == "gelu" ? Activation::Gelu : Activation::QuickGelu;
}

}  // namespace actionclip
