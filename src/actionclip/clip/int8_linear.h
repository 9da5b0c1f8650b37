#pragma once
// An int8 projection for CPU inference: weights quantized once, symmetrically per output channel
// (int8 values, one float32 scale per row, zero point 0); activations quantized per call to uint8
// (dynamic quantization) and multiplied with int32 accumulation, on oneDNN's u8s8 product called
// directly when the active engine is oneDNN and the build has its headers (OnednnInt8Gemm), else
// on libtorch's quantized engine (quantized::linear_dynamic on prepacked weights).
//
// The engines quantize activations with one scale for the whole input, so one token with large
// values (CLIP's class and end tokens have them) would cost every other token its resolution:
// that, not the int8 weights, was most of the error (top-1 agreement with float32 over 400
// near-neighbour labels: 93.5% per tensor, 99.5% with int8 weights alone). Each row is therefore
// mapped onto [0, 1] by its own minimum and range before the product and mapped back after, which
// makes the one scale a per-token affine one (96.5% with a symmetric per-row scale, 97.5% affine:
// a GELU output's range is mostly positive); the bias is added last. Called directly, oneDNN's
// product takes the per-row quantized rows as they are and the rescaling is one pass (int8_rows.h);
// through libtorch's engine the rows are normalized first, and the engine quantizes them again.
#include <ATen/native/quantized/PackedParams.h>
#include <torch/torch.h>

#include <memory>

namespace actionclip {

class OnednnInt8Gemm;

class Int8Linear {
 public:
  Int8Linear() = default;
  // From a float32 weight [out, in] and bias [out] (or undefined).
  static Int8Linear quantize(const torch::Tensor& weight, const torch::Tensor& bias);
  // From stored int8 values [out, in] and float32 scales [out], as int8_weight gives them.
  static Int8Linear from_int8(const torch::Tensor& values, const torch::Tensor& scales, const torch::Tensor& bias);

  bool defined() const { return packed_ || direct_; }
  // [..., in] float32 -> [..., out] float32. Inference only: there is no gradient.
  torch::Tensor operator()(const torch::Tensor& input) const;

  struct Weight {
    torch::Tensor values;  // int8 [out, in]
    torch::Tensor scales;  // float32 [out]: weight ~ values * scales[:, None]
  };
  Weight int8_weight() const;
  torch::Tensor bias() const;

 private:
  static Int8Linear pack(const torch::Tensor& quantized_weight, const torch::Tensor& bias);
  torch::Tensor multiply_direct(const torch::Tensor& rows) const;
  torch::Tensor multiply_on_engine(const torch::Tensor& rows) const;

  // One of the two holds the weights, without the bias, which is added after rescaling.
  std::shared_ptr<const OnednnInt8Gemm> direct_;
  c10::intrusive_ptr<LinearPackedParamsBase> packed_;
  torch::Tensor weight_scales_;  // float32 [out]
  torch::Tensor bias_;
  torch::Tensor weight_row_sums_;  // float32 [out]: the dequantized weights' row sums, for the rows' offsets
  bool reduce_range_ = false;
};

}  // namespace actionclip
