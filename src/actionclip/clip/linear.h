#pragma once
// The affine map y = x W^T + b of every CLIP projection. For float32 inference on a CPU it runs
// on oneDNN's GEMM, which is 1.4-3x faster than the generic BLAS that distribution builds of
// libtorch use for nn.Linear (same precision; results differ only in summation order). Autograd,
// autocast and other devices take libtorch's own linear.
#include <torch/torch.h>

#include "actionclip/clip/int8_linear.h"

namespace actionclip {

// True when `linear` would take the oneDNN path for `input`.
bool uses_onednn_linear(const torch::Tensor& input);

torch::Tensor linear(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias = {});

// The same, on `int8` instead when quantize_for_inference has packed this projection (its float
// weight is then empty).
torch::Tensor linear(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias,
                     const Int8Linear& int8);
// input @ matrix for the projections CLIP stores as [in, out] matrices (visual.proj,
// text_projection), on `int8` when it is packed.
torch::Tensor project(const torch::Tensor& input, const torch::Tensor& matrix, const Int8Linear& int8);

}  // namespace actionclip
