#pragma once
// CLIP's architecture, as OpenAI's build_model infers it from a state dict.
#include <torch/torch.h>

#include <array>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace actionclip {

enum class Activation { QuickGelu, Gelu };

// OpenAI's two image encoders: ViT-B/32, L/14, ... and the ResNets RN50, RN101, RN50x4, ...
enum class ImageEncoderKind { VisionTransformer, ModifiedResNet };

struct ClipConfig {
  int64_t embed_dim = 512;
  int64_t image_resolution = 224;
  ImageEncoderKind vision_kind = ImageEncoderKind::VisionTransformer;
  // ViT: transformer blocks. ResNet: all Bottleneck blocks, per stage in vision_stage_layers.
  int64_t vision_layers = 12;
  std::array<int64_t, 4> vision_stage_layers{};  // ResNet only
  // ViT: transformer width. ResNet: the stem's width (the attention pool works at 32x it).
  int64_t vision_width = 768;
  int64_t vision_heads = 12;       // ResNet: the attention pool's
  int64_t vision_patch_size = 32;  // ResNet: its total stride, 32
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  int64_t text_width = 512;
  int64_t text_heads = 8;
  int64_t text_layers = 12;
  Activation activation = Activation::QuickGelu;

  int64_t grid_size() const { return image_resolution / vision_patch_size; }
  bool resnet() const { return vision_kind == ImageEncoderKind::ModifiedResNet; }
  // One line for users: "ViT, 12 layers, width 768, ..." or "ResNet, blocks 3-4-6-3, width 64, ...".
  std::string describe_image_encoder() const;

  // Sizes from the shapes of OpenAI-named weights; throws Error naming a missing key.
  static ClipConfig infer(const std::map<std::string, torch::Tensor>& state_dict);
  // ViT-B/32 as released by OpenAI (used for benchmarks with random weights).
  static ClipConfig vit_b32();
  // A ResNet CLIP: stage depths, stem width, resolution, embedding and text sizes as released.
  static ClipConfig modified_resnet(std::array<int64_t, 4> stage_layers, int64_t width, int64_t resolution,
                                    int64_t embed_dim, int64_t text_width);
};

void to_json(nlohmann::json& j, const ClipConfig& c);
void from_json(const nlohmann::json& j, ClipConfig& c);

}  // namespace actionclip
