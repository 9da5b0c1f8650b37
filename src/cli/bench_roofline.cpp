#include "bench_roofline.h"

#include <cstdio>

#include <c10/core/InferenceMode.h>

#include <cmath>

#include "actionclip/clip/linear.h"
#include "bench.h"

namespace actionclip::cli {

std::vector<GemmShape> vit_encoder_gemms(const ClipConfig& c, int64_t batch) {
  const auto patches = c.grid_size() * c.grid_size();
  const auto tokens = batch * (patches + 1), width = c.vision_width, layers = c.vision_layers;
  const auto patch_pixels = 3 * c.vision_patch_size * c.vision_patch_size;
  return {{"patch embedding (conv as GEMM)", batch * patches, patch_pixels, width, 1},
          {"attention qkv", tokens, width, 3 * width, layers},
          {"attention output", tokens, width, width, layers},
          {"MLP up", tokens, width, 4 * width, layers},
          {"MLP down", tokens, 4 * width, width, layers},
          {"projection", batch, width, c.embed_dim, 1}};
}

double vit_image_flops(const ClipConfig& c) {
  double flops = 0;
  for (const auto& g : vit_encoder_gemms(c, 1)) flops += g.flops() * static_cast<double>(g.repeats);
  // Per layer, QK^T and weights x V: two [L, L] x head_dim products per head, over all heads the width.
  const auto tokens = static_cast<double>(c.grid_size() * c.grid_size() + 1);
  flops += static_cast<double>(c.vision_layers) * 2 * (2.0 * tokens * tokens * static_cast<double>(c.vision_width));
  return flops;
}

Layer float32_layer(const torch::Tensor& weight, const torch::Tensor& bias) {
  return [weight, bias](const torch::Tensor& input) { return linear(input, weight, bias); };
}

Layer int8_layer(const torch::Tensor& weight, const torch::Tensor& bias) {
  auto packed = Int8Linear::quantize(weight, bias);
  return [packed](const torch::Tensor& input) { return packed(input); };
}

Roofline measure_roofline(const std::vector<GemmShape>& shapes, const MakeLayer& make, double seconds_per_shape) {
  c10::InferenceMode inference;
  torch::manual_seed(0);
  Roofline roofline;
  roofline.per_shape = nlohmann::json::array();
  double flops = 0, seconds = 0;
  for (const auto& g : shapes) {
    const auto weight = torch::randn({g.out, g.in}) / std::sqrt(static_cast<double>(g.in));
    const auto layer = make(weight, torch::randn({g.out}));
    const auto input = torch::randn({g.rows, g.in});
    const double calls_per_s = throughput([&] { layer(input); }, 1, seconds_per_shape, torch::kCPU);
    flops += g.flops() * static_cast<double>(g.repeats);
    seconds += static_cast<double>(g.repeats) / calls_per_s;
    roofline.per_shape.push_back({{"name", g.name},
                                  {"rows", g.rows},
                                  {"in", g.in},
                                  {"out", g.out},
                                  {"repeats", g.repeats},
                                  {"gflops", g.flops() * calls_per_s / 1e9}});
  }
  roofline.gflops = flops / seconds / 1e9;
  return roofline;
}

nlohmann::json instruction_peak_json(const InstructionPeak& peak) {
  if (!peak.measured()) return {};
  return {{"float32_instructions", peak.float32_instructions},
          {"float32_gflops_per_core", peak.float32_gflops},
          {"int8_instructions", peak.int8_instructions},
          {"int8_gops_per_core", peak.int8_gops},
          {"int8_over_float32", peak.int8_gops / peak.float32_gflops}};
}

void print_instruction_peak(const InstructionPeak& peak) {
  if (!peak.measured()) return;
  std::printf("  %-34s %s %.1f GFLOP/s, %s %.1f GOP/s: int8 at most %.2fx float32 here\n", "vector peak, one core:",
              peak.float32_instructions.c_str(), peak.float32_gflops, peak.int8_instructions.c_str(), peak.int8_gops,
              peak.int8_gops / peak.float32_gflops);
}

}  // namespace actionclip::cli
