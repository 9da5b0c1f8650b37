#pragma once
// int8 inference for CLIP: the projections (attention QKV and output, MLP, the ResNet attention
// pool's, visual.proj and text_projection) of the image encoder, or of both encoders, on packed
// int8 weights; layer norms, softmax, attention products, convolutions and embeddings stay float32. The float
// weights of quantized projections are freed (left as empty tensors under their names), so the
// model keeps only its int8 form.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actionclip/clip/clip_model.h"
#include "actionclip/io/safetensors.h"

namespace actionclip {

// Which projections int8 inference quantizes. Image: the image encoder's, except its final
// projection (visual.proj), which runs on one row per image, so int8 saves no time there, while
// its error lands on the embedding directly (float32 there cut the video embeddings' mean cosine
// error 2.7x on a ViT-B/32-shaped model). The text encoder runs once per label set (classify,
// serve and the trainer's evaluation embed the labels once), so quantizing it saves memory but no
// time per video, and its error moves every label at once. ImageAndText: every projection, the
// smallest model. Top-1 agreement with float32 over 400 near-neighbour labels: 99.4% Image,
// 96.8% ImageAndText (built-in model, 500 synthetic clips).
enum class Int8Encoders { Image, ImageAndText };

struct Int8Projection {
  std::string weight_key;  // the float weight's name in the model's state
  std::string bias_key;    // empty when the projection has no bias
  bool matrix = false;     // stored as [in, out] and applied as x @ matrix; else a linear weight [out, in]
  torch::Tensor weight, bias;  // the model's parameters
  Int8Linear* packed = nullptr;

  bool in_image_encoder() const { return weight_key.rfind("visual.", 0) == 0; }
  // What Int8Encoders::Image quantizes: the image encoder's projections but its final one.
  bool in_image_encoder_body() const { return in_image_encoder() && !matrix; }
};

// Every projection of `clip` that int8 inference quantizes, in state order.
std::vector<Int8Projection> int8_projections(ClipModelImpl& clip);

// Quantizes the projections of `encoders` from their float32 weights and frees those weights. CPU
// only. Projections already int8 (from an int8 file) stay as they are.
void quantize_for_inference(ClipModelImpl& clip, Int8Encoders encoders = Int8Encoders::Image);
bool is_int8(ClipModelImpl& clip);

// The key under which a stored int8 weight's per-output-channel scales travel.
std::string int8_scale_key(const std::string& weight_key);

// For save_model: replaces the (empty) float weights of a quantized model's projections in
// `tensors` by their int8 values, adds their scales, and describes the scheme under "int8" in
// `metadata`. Nothing for a float model.
void add_int8_weights(ClipModelImpl& clip, io::TensorMap& tensors, nlohmann::json& metadata);

// Whether a file's metadata says its projections are stored as int8 (add_int8_weights wrote it).
bool has_int8_weights(const nlohmann::json& metadata);

// Builds the int8 projections that a file's metadata lists (add_int8_weights) straight from its
// int8 weights and scales (no float copy), and leaves `state` as assign_state then expects (empty
// float weights, no scale keys); the others load as float. A listed key that is missing or names
// no projection, a tensor that is not int8, a shape that does not fit the architecture or
// non-positive scales are a FileError naming `path` and the key.
void load_int8_weights(ClipModelImpl& clip, io::TensorMap& state, const nlohmann::json& metadata,
                       const std::string& path);

}  // namespace actionclip
