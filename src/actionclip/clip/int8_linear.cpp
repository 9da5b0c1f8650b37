#include "actionclip/clip/int8_linear.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include "actionclip/clip/int8_rows.h"
#ifdef ACTIONCLIP_HAS_ONEDNN
#include "actionclip/clip/onednn_int8_gemm.h"
#endif
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
#ifdef ACTIONCLIP_HAS_ONEDNN
  if (engine == "onednn") linear.direct_ = std::make_shared<const OnednnInt8Gemm>(quantized_weight.int_repr());
#endif
  if (!linear.direct_) linear.packed_ = prepack.call(quantized_weight, c10::nullopt);
  linear.weight_scales_ = quantized_weight.q_per_channel_scales().to(torch::kFloat32).contiguous();
  linear.weight_row_sums_ = quantized_weight.dequantize().sum(1).contiguous();
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
  const auto rows = input.reshape({-1, input.size(-1)}).to(torch::kFloat32).contiguous();
  auto out = direct_ ? multiply_direct(rows) : multiply_on_engine(rows);
  sizes.back() = out.size(-1);
  return out.view(sizes);
}

torch::Tensor Int8Linear::multiply_direct(const torch::Tensor& rows) const {
#ifdef ACTIONCLIP_HAS_ONEDNN
  const auto count = rows.size(0), in = rows.size(1), out_features = direct_->out_features();
  if (in != direct_->in_features())
    throw Error("int8 projection takes " + std::to_string(direct_->in_features()) + " features, got " +
                c10::str(rows.sizes()));
  auto levels = torch::empty({count, in}, torch::kUInt8);
  auto row_scales = torch::empty({count}, torch::kFloat32);
  auto row_offsets = torch::empty({count}, torch::kFloat32);
  quantize_rows(rows.data_ptr<float>(), count, in, reduce_range_ ? 127 : 255, levels.data_ptr<uint8_t>(),
                row_scales.data_ptr<float>(), row_offsets.data_ptr<float>());
  auto acc = torch::empty({count, out_features}, torch::kInt32);
  direct_->multiply(levels.data_ptr<uint8_t>(), count, acc.data_ptr<int32_t>());
  auto out = torch::empty({count, out_features}, torch::kFloat32);
  rescale_rows(acc.data_ptr<int32_t>(), count, out_features, row_scales.data_ptr<float>(),
               row_offsets.data_ptr<float>(), weight_scales_.data_ptr<float>(), weight_row_sums_.data_ptr<float>(),
               bias_.defined() ? bias_.data_ptr<float>() : nullptr, out.data_ptr<float>());
  return out;
#else
  (void)rows;
  throw Error("int8 projection: this build has no direct oneDNN product");
#endif
}

torch::Tensor Int8Linear::multiply_on_engine(const torch::Tensor& rows) const {
  // Each row is mapped onto [0, 1] by its own minimum and range, so the engine's one activation
  // scale is a per-row one and all 256 levels cover what the row holds (a GELU output's range is
  // mostly positive); W (min + range * u) = range * (W u) + min * (W 1). A constant row keeps range 1.
  const auto [row_min, row_max] = rows.aminmax(1, true);
  auto row_range = row_max - row_min;
  row_range.masked_fill_(row_range == 0, 1.0f);
  auto out = packed_->apply_dynamic(rows.sub(row_min).div_(row_range), reduce_range_).mul_(row_range);
  out.addr_(row_min.squeeze(1), weight_row_sums_);
  if (bias_.defined()) out.add_(bias_);
  return out;
}

Int8Linear::Weight Int8Linear::int8_weight() const {
#ifdef ACTIONCLIP_HAS_ONEDNN
  if (direct_) return {direct_->weights(), weight_scales_};
#endif
  return {std::get<0>(packed_->unpack()).int_repr(), weight_scales_};
}

torch::Tensor Int8Linear::bias() const { return bias_; }

}  // namespace actionclip
