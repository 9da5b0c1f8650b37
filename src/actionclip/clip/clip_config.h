#pragma once
// CLIP's architecture, as OpenAI's build_model infers it from a state dict.
#include <torch/torch.h>

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace actionclip {

enum class Activation { QuickGelu, Gelu };

struct ClipConfig {
  int64_t embed_dim = 512;
  int64_t image_resolution = 224;
  int64_t vision_layers = 12;
  int64_t vision_width = 768;
  int64_t vision_heads = 12;
  int64_t vision_patch_size = 32;
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  int64_t text_width = 512;
  int64_t text_heads = 8;
  int64_t text_layers = 12;
  Activation activation = Activation::QuickGelu;

  int64_t grid_size() const { return image_resolution / vision_patch_size; }

  // Sizes from the shapes of OpenAI-named weights; throws Error naming a missing key.
  static ClipConfig infer(const std::map<std::string, torch::Tensor>& state_dict);
  // ViT-B/32 as released by OpenAI (used for benchmarks with random weights).
  static ClipConfig vit_b32();
};

void to_json(nlohmann::json& j, const ClipConfig& c);
void from_json(const nlohmann::json& j, ClipConfig& c);

}  // namespace actionclip
