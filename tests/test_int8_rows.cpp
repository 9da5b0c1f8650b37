// The int8 projections' own passes: per-row affine quantization of activations, the rescaling of
// int32 products back to float32, and (where the build calls oneDNN directly) the product itself,
// checked exactly against integer arithmetic in libtorch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/clip/int8_rows.h"
#ifdef ACTIONCLIP_HAS_ONEDNN
#include "actionclip/clip/onednn_int8_gemm.h"
#endif

namespace {

struct Quantized {
  torch::Tensor levels, scales, offsets;
};

Quantized quantize(const torch::Tensor& x, int levels) {
  const auto rows = x.size(0), cols = x.size(1);
  Quantized q{torch::empty({rows, cols}, torch::kUInt8), torch::empty({rows}), torch::empty({rows})};
  actionclip::quantize_rows(x.data_ptr<float>(), rows, cols, levels, q.levels.data_ptr<uint8_t>(),
                            q.scales.data_ptr<float>(), q.offsets.data_ptr<float>());
  return q;
}

TEST(Int8Rows, EachRowIsReconstructedWithinHalfItsOwnStep) {
  torch::manual_seed(3);
  // Rows of very different ranges (a class token's values dwarf the others'), widths that are not
  // a multiple of the vector width, and a constant row.
  for (const int64_t cols : {768, 37, 3072}) {
    auto x = torch::randn({21, cols}) * torch::logspace(-3, 3, 21).unsqueeze(1);
    x[5].fill_(2.5f);
    for (const int levels : {255, 127}) {
      const auto q = quantize(x, levels);
      EXPECT_LE(q.levels.max().item<int>(), levels);
      const auto rebuilt = q.offsets.unsqueeze(1) + q.scales.unsqueeze(1) * q.levels.to(torch::kFloat32);
      const auto error = (rebuilt - x).abs().amax(1);
      EXPECT_TRUE((error <= q.scales * 0.5001 + 1e-6).all().item<bool>()) << cols << " columns, " << levels;
      // The row's minimum and maximum are levels 0 and `levels`.
      const auto non_constant = torch::arange(21) != 5;
      EXPECT_TRUE((q.levels.index({non_constant}).amin(1) == 0).all().item<bool>());
      EXPECT_TRUE((q.levels.index({non_constant}).amax(1) == levels).all().item<bool>());
      EXPECT_FLOAT_EQ(rebuilt[5][0].item<float>(), 2.5f);
    }
  }
}

TEST(Int8Rows, RescalingIsTheAffineFormulaWithAndWithoutBias) {
  torch::manual_seed(4);
  const int64_t rows = 13, cols = 70;
  const auto acc = torch::randint(-100000, 100000, {rows, cols}, torch::kInt32);
  const auto scales = torch::rand({rows}), offsets = torch::randn({rows});
  const auto weight_scales = torch::rand({cols}), weight_sums = torch::randn({cols}), bias = torch::randn({cols});
  const auto expected = scales.unsqueeze(1) * weight_scales * acc.to(torch::kFloat32) +
                        offsets.unsqueeze(1) * weight_sums;
  for (const bool with_bias : {false, true}) {
    auto out = torch::empty({rows, cols});
    actionclip::rescale_rows(acc.data_ptr<int32_t>(), rows, cols, scales.data_ptr<float>(), offsets.data_ptr<float>(),
                             weight_scales.data_ptr<float>(), weight_sums.data_ptr<float>(),
                             with_bias ? bias.data_ptr<float>() : nullptr, out.data_ptr<float>());
    EXPECT_TRUE(torch::allclose(out, with_bias ? expected + bias : expected, 1e-5, 1e-4));
  }
}

#ifdef ACTIONCLIP_HAS_ONEDNN
TEST(Int8Rows, OnednnProductIsExactIntegerArithmeticAndGivesItsWeightsBack) {
  torch::manual_seed(5);
  // 77 rows: a prompt's tokens, not a multiple of any block; then a different row count on the same primitive.
  const auto weights = torch::randint(-127, 128, {96, 200}, torch::kInt8);
  const actionclip::OnednnInt8Gemm product(weights);
  EXPECT_EQ(product.in_features(), 200);
  EXPECT_EQ(product.out_features(), 96);
  EXPECT_TRUE(torch::equal(product.weights(), weights));
  for (const int64_t rows : {77, 5}) {
    const auto activations = torch::randint(0, 256, {rows, 200}, torch::kUInt8);
    auto acc = torch::empty({rows, 96}, torch::kInt32);
    product.multiply(activations.data_ptr<uint8_t>(), rows, acc.data_ptr<int32_t>());
    // Exact in float64: |sums| < 256 * 128 * 200, far inside 2^53.
    const auto expected = activations.to(torch::kFloat64).matmul(weights.to(torch::kFloat64).t());
    EXPECT_TRUE(torch::equal(acc.to(torch::kFloat64), expected)) << rows << " rows";
  }
}
#endif

}  // namespace
