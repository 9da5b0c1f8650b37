#pragma once
// The two passes around an int8 product with per-row affine activations, fused into one pass each
// and vectorized for the CPU at hand (AVX-512, AVX2 or the baseline, chosen at load time):
//   quantize_rows: x[i, :] ~ offset[i] + scale[i] * q[i, :], q in [0, levels], from each row's
//                  own minimum and range;
//   rescale_rows:  out[i, j] = scale[i] * weight_scale[j] * acc[i, j] + offset[i] * weight_sum[j] + bias[j],
//                  where acc = q W^T in int32 and weight_sum[j] = weight_scale[j] * sum_k W[j, k],
//                  since W (offset + scale q) = scale (W q) + offset (W 1).
#include <cstdint>

namespace actionclip {

void quantize_rows(const float* x, int64_t rows, int64_t cols, int levels, uint8_t* q, float* scale, float* offset);

void rescale_rows(const int32_t* acc, int64_t rows, int64_t cols, const float* scale, const float* offset,
                  const float* weight_scale, const float* weight_sum, const float* bias, float* out);

}  // namespace actionclip
