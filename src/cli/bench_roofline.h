#pragma once
// The roofline of `bench clip`: how fast this machine multiplies matrices at the shapes the ViT
// image encoder multiplies, and how much of that the encoder achieves. Figures, never targets.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "actionclip/clip/clip_config.h"
#include "actionclip/system/instruction_peak.h"

namespace actionclip::cli {

// y[rows, out] = x[rows, in] W^T + b: one of the encoder's linear layers for a batch of images.
struct GemmShape {
  std::string name;
  int64_t rows = 0, in = 0, out = 0;
  int64_t repeats = 1;  // times per pass through the encoder
  double flops() const { return 2.0 * static_cast<double>(rows) * static_cast<double>(in) * static_cast<double>(out); }
};

// The ViT encoder's GEMMs for `batch` images, once each (a layer's are repeated vision_layers
// times): the patch embedding as a GEMM over flattened patches, qkv, attention output, MLP up
// and down, and the final projection.
std::vector<GemmShape> vit_encoder_gemms(const ClipConfig& config, int64_t batch);

// Multiply-adds x2 of one image through the ViT encoder: every linear layer and the attention
// matmuls (QK^T and weights x V); layer norms, softmax and activations are not counted.
double vit_image_flops(const ClipConfig& config);

// The linear layer under test, x -> x W^T + b, made once from a float32 weight [out, in] and bias:
// the model's own float32 layer, or an int8 one that quantizes and packs W when made.
using Layer = std::function<torch::Tensor(const torch::Tensor& input)>;
using MakeLayer = std::function<Layer(const torch::Tensor& weight, const torch::Tensor& bias)>;

// The model's float32 linear (actionclip::linear: oneDNN's GEMM on CPUs).
Layer float32_layer(const torch::Tensor& weight, const torch::Tensor& bias);
// --precision int8's layer (Int8Linear): W quantized and packed once, activations quantized per call.
Layer int8_layer(const torch::Tensor& weight, const torch::Tensor& bias);

struct Roofline {
  double gflops = 0;         // all shapes: their FLOPs over their time, each repeated as in the encoder
  nlohmann::json per_shape;  // [{name, rows, in, out, repeats, gflops}]
};

// GFLOP/s of the layers `make` builds at `shapes`, each timed for about `seconds_per_shape` on
// seeded random float32 data.
Roofline measure_roofline(const std::vector<GemmShape>& shapes, const MakeLayer& make, double seconds_per_shape);

// One core's vector peak (float32 FMA, int8 multiply-add), measured, as JSON and as the line a
// benchmark prints: int8 kernels cannot beat float32 by more than its ratio on this CPU.
nlohmann::json instruction_peak_json(const InstructionPeak& peak);
void print_instruction_peak(const InstructionPeak& peak);

}  // namespace actionclip::cli
