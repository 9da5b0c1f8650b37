#pragma once
// oneDNN's u8 x s8 -> s32 matrix product on weights reordered once into the layout its kernel
// reads (VNNI's blocked one where the CPU has it): the int8 projections' product, called directly
// so that the activations' quantization and the output's rescaling are one pass each
// (int8_rows.h) instead of the half dozen that libtorch's dynamic linear and a per-row scale cost.
// Built where CMake found oneDNN's headers (Debian's libdnnl-dev; ACTIONCLIP_HAS_ONEDNN), for the
// library that libtorch's own int8 engine "onednn" runs on.
#include <cstdint>
#include <memory>

#include <torch/torch.h>

namespace actionclip {

class OnednnInt8Gemm {
 public:
  // weights: int8 [out, in].
  explicit OnednnInt8Gemm(const torch::Tensor& weights);
  ~OnednnInt8Gemm();
  OnednnInt8Gemm(const OnednnInt8Gemm&) = delete;
  OnednnInt8Gemm& operator=(const OnednnInt8Gemm&) = delete;

  int64_t in_features() const;
  int64_t out_features() const;
  // acc [rows, out] = activations [rows, in] (uint8, row-major) x weights^T, in int32.
  void multiply(const uint8_t* activations, int64_t rows, int32_t* acc) const;
  // The weights back as int8 [out, in] (for saving a quantized model).
  torch::Tensor weights() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace actionclip
