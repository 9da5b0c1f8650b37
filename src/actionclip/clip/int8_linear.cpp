#include "actionclip/clip/int8_linear.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include "actionclip/system/quantized_engines.h"
#include "actionclip/util/error.h"

namespace actionclip {

Int8Linear Int8Linear::quantize(const torch::Tensor& weight, const torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  auto w = weight.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  // max |w| of a row maps to 127; an all-zero row keeps scale 1 (any scale represents it).
  auto max_abs = std::get<0>(w.abs().max(1));
  auto scales = torch::where(max_abs > 0, max_abs / 127.0, torch::ones_like(max_abs)).to(torch::kFloat64);
  auto zero_points = torch::zeros({w.size(0)}, torch::kLong);
  return pack(torch::quantize_per_channel(w, scales, zero_points, 0, torch::kQInt8), bias);
}

Int8Linear Int8Linear::from_int8(const torch::Tensor& values, const torch::Tensor& scales, const torch::Tensor& bias) {
  if (values.scalar_type() != torch::kInt8 || values.dim() != 2)
    throw Error("int8 weight must be int8 [out, in], got " + std::string(c10::toString(values.scalar_type())) + " " +
                c10::str(values.sizes()));
  if (scales.dim() != 1 || scales.size(0) != values.size(0) || !scales.is_floating_point())
    throw Error("int8 weight " + c10::str(values.sizes()) + " needs one float scale per output row, got " +
                std::string(c10::toString(scales.scalar_type())) + " " + c10::str(scales.sizes()));
  if (!(scales > 0).all().item<bool>()) throw Error("int8 weight scales must be positive");
  auto quantized = at::_make_per_channel_quantized_tensor(values.contiguous(), scales.to(torch::kFloat64),
                                                          torch::zeros({values.size(0)}, torch::kLong), 0);
  return pack(quantized, bias);
}

Int8Linear Int8Linear::pack(const torch::Tensor& quantized_weight, const torch::Tensor& bias) {
  const auto& engine = activate_int8_engine();
  static const auto prepack =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::linear_prepack", "")
          .typed<c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>)>();
  Int8Linear linear;
  linear.packed_ = prepack.call(quantized_weight, c10::nullopt);
  linear.weight_row_sums_ = quantized_weight.dequantize().sum(1);
  if (bias.defined()) linear.bias_ = bias.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  // FBGEMM's AVX2 kernels, and oneDNN's without VNNI, add pairs of u8*s8 products in int16, which
  // 8-bit activations can saturate; 7-bit ones cannot (PyTorch's dynamic quantization does the same).
  // VNNI's dot products accumulate in int32, and QNNPACK widens first.
  linear.reduce_range_ = engine == "fbgemm" || (engine == "onednn" && !cpu_features().native_int8_dot());
  return linear;
}

torch::Tensor Int8Linear::operator()(const torch::Tensor& input) const {
  if (torch::GradMode::is_enabled() && input.requires_grad())
    throw Error("int8 projections are for inference only (no gradient); train in fp32 or bf16");
  auto sizes = input.sizes().vec();
  auto rows = input.reshape({-1, input.size(-1)}).to(torch::kFloat32);
  // Each row is mapped onto [0, 1] by its own minimum and range, so the engine's one activation
  // scale is a per-row one and all 256 levels cover what the row holds (a GELU output's range is
  // mostly positive); W (min + range * u) = range * (W u) + min * (W 1). A constant row keeps range 1.
  const auto [row_min, row_max] = rows.aminmax(1, true);
  auto row_range = row_max - row_min;
  row_range.masked_fill_(row_range == 0, 1.0f);
  auto out = packed_->apply_dynamic(rows.sub(row_min).div_(row_range), reduce_range_).mul_(row_range);
  out.addr_(row_min.squeeze(1), weight_row_sums_);
  if (bias_.defined()) out.add_(bias_);
  sizes.back() = out.size(-1);
  return out.view(sizes);
}

Int8Linear::Weight Int8Linear::int8_weight() const {
  auto quantized = std::get<0>(packed_->unpack());
  return {quantized.int_repr(), quantized.q_per_channel_scales().to(torch::kFloat32)};
}

torch::Tensor Int8Linear::bias() const { return bias_; }

}  // namespace actionclip
