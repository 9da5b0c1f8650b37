#include "actionclip/clip/int8_rows.h"

#include <ATen/Parallel.h>

namespace actionclip {
namespace {

// One clone per vector width; the loader picks the widest the CPU runs (GCC's ifunc dispatch).
#define ACTIONCLIP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// Rows per task: a few rows of 768-3072 values are enough to amortize a task.
constexpr int64_t kRowGrain = 8;

ACTIONCLIP_VECTOR_CLONES
void quantize_row(const float* x, int64_t cols, int levels, uint8_t* q, float& scale, float& offset) {
  // Sixteen independent lanes: written as a plain loop, GCC keeps a min/max reduction scalar.
  typedef float Lanes __attribute__((vector_size(64)));
  constexpr int64_t kLanes = 16;
  Lanes lo, hi;
  for (int64_t l = 0; l < kLanes; ++l) lo[l] = hi[l] = x[0];
  int64_t k = 0;
  for (; k + kLanes <= cols; k += kLanes) {
    Lanes v;
    __builtin_memcpy(&v, x + k, sizeof v);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  float minimum = lo[0], maximum = hi[0];
  for (int64_t l = 1; l < kLanes; ++l) {
    minimum = lo[l] < minimum ? lo[l] : minimum;
    maximum = hi[l] > maximum ? hi[l] : maximum;
  }
  for (; k < cols; ++k) {
    minimum = x[k] < minimum ? x[k] : minimum;
    maximum = x[k] > maximum ? x[k] : maximum;
  }
  // A constant row is all offset; any positive scale represents it.
  const float range = maximum > minimum ? maximum - minimum : 1.0f;
  const float to_level = static_cast<float>(levels) / range;
  // Values are >= 0 after the shift, so adding 0.5 and truncating rounds to nearest.
  for (k = 0; k < cols; ++k) q[k] = static_cast<uint8_t>(static_cast<int32_t>((x[k] - minimum) * to_level + 0.5f));
  scale = range / static_cast<float>(levels);
  offset = minimum;
}

ACTIONCLIP_VECTOR_CLONES
void rescale_row(const int32_t* acc, int64_t cols, float scale, float offset, const float* weight_scale,
                 const float* weight_sum, const float* bias, float* out) {
  if (bias) {
    for (int64_t j = 0; j < cols; ++j)
      out[j] = scale * weight_scale[j] * static_cast<float>(acc[j]) + offset * weight_sum[j] + bias[j];
  } else {
    for (int64_t j = 0; j < cols; ++j)
      out[j] = scale * weight_scale[j] * static_cast<float>(acc[j]) + offset * weight_sum[j];
  }
}

}  // namespace

void quantize_rows(const float* x, int64_t rows, int64_t cols, int levels, uint8_t* q, float* scale, float* offset) {
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) quantize_row(x + i * cols, cols, levels, q + i * cols, scale[i], offset[i]);
  });
}

void rescale_rows(const int32_t* acc, int64_t rows, int64_t cols, const float* scale, const float* offset,
                  const float* weight_scale, const float* weight_sum, const float* bias, float* out) {
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      rescale_row(acc + i * cols, cols, scale[i], offset[i], weight_scale, weight_sum, bias, out + i * cols);
  });
}

}  // namespace actionclip
