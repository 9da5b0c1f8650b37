#pragma once
// int8 inference for CLIP: every projection of both encoders (attention QKV and output, MLP,
// the ResNet attention pool's, visual.proj and text_projection) on packed int8 weights; layer
// norms, softmax, attention products, convolutions and embeddings stay float32. The float
// weights of quantized projections are freed (left as empty tensors under their names), so the
// model keeps only its int8 form.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actionclip/clip/clip_model.h"
#include "actionclip/io/safetensors.h"

namespace actionclip {

struct Int8Projection {
  std::string weight_key;  // the float weight's name in the model's state
  std::string bias_key;    // empty when the projection has no bias
  bool matrix = false;     // stored as [in, out] and applied as x @ matrix; else a linear weight [out, in]
  torch::Tensor weight, bias;  // the model's parameters
  Int8Linear* packed = nullptr;
};

// Every projection of `clip` that int8 inference quantizes, in state order.
std::vector<Int8Projection> int8_projections(ClipModelImpl& clip);

// Quantizes every projection from its float32 weight and frees that weight. CPU only.
void quantize_for_inference(ClipModelImpl& clip);
bool is_int8(ClipModelImpl& clip);

// The key under which a stored int8 weight's per-output-channel scales travel.
std::string int8_scale_key(const std::string& weight_key);

// For save_model: replaces the (empty) float weights of a quantized model's projections in
// `tensors` by their int8 values, adds their scales, and describes the scheme under "int8" in
// `metadata`. Nothing for a float model.
void add_int8_weights(ClipModelImpl& clip, io::TensorMap& tensors, nlohmann::json& metadata);

// Whether a file's metadata says its projections are stored as int8 (add_int8_weights wrote it).
bool has_int8_weights(const nlohmann::json& metadata);

// Builds the int8 projections of a fresh `clip` straight from a file's int8 weights and scales
// (no float copy), and leaves `state` as assign_state then expects (empty float weights, no scale
// keys). A missing key, a tensor that is not int8, a shape that does not fit the architecture or
// non-positive scales are a FileError naming `path` and the key.
void load_int8_weights(ClipModelImpl& clip, io::TensorMap& state, const std::string& path);

}  // namespace actionclip
