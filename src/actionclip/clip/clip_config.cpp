#include "actionclip/clip/clip_config.h"

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

}  // namespace

ClipConfig ClipConfig::infer(const std::map<std::string, torch::Tensor>& sd) {
  if (sd.count("visual.layer1.0.conv1.weight"))
    throw Error("this is a ResNet CLIP checkpoint; only ViT image encoders are supported");
  ClipConfig c;
  const auto& conv1 = require(sd, "visual.conv1.weight");
  c.vision_width = conv1.size(0);
  c.vision_patch_size = conv1.size(-1);
  c.vision_layers = count_blocks(sd, "visual.transformer.resblocks.");
  const auto positions = require(sd, "visual.positional_embedding").size(0);
  const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(positions - 1))));
  if (grid * grid + 1 != positions)
    throw Error("visual.positional_embedding has " + std::to_string(positions) + " rows, not 1 + a square grid");
  c.image_resolution = grid * c.vision_patch_size;
  c.vision_heads = c.vision_width / 64;

  c.embed_dim = require(sd, "text_projection").size(1);
  c.context_length = require(sd, "positional_embedding").size(0);
  c.vocab_size = require(sd, "token_embedding.weight").size(0);
  c.text_width = require(sd, "ln_final.weight").size(0);
  c.text_heads = c.text_width / 64;
  c.text_layers = count_blocks(sd, "transformer.resblocks.");
  if (c.vision_layers == 0 || c.text_layers == 0) throw Error("no transformer blocks found");
  return c;
}

ClipConfig ClipConfig::vit_b32() { return ClipConfig{}; }

void to_json(nlohmann::json& j, const ClipConfig& c) {
  j = {{"embed_dim", c.embed_dim},
       {"image_resolution", c.image_resolution},
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
}

void from_json(const nlohmann::json& j, ClipConfig& c) {
  j.at("embed_dim").get_to(c.embed_dim);
  j.at("image_resolution").get_to(c.image_resolution);
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
