// The oneDNN inference path of CLIP's projections computes what nn.Linear computes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/clip/linear.h"

TEST(Linear, OneDnnInferencePathEqualsLibtorchLinear) {
  torch::manual_seed(0);
  const auto input = torch::randn({3, 50, 64});
  const auto weight = torch::randn({96, 64});
  const auto bias = torch::randn({96});
  const auto expected = torch::nn::functional::linear(input, weight, bias);

  torch::NoGradGuard no_grad;
  if (!actionclip::uses_onednn_linear(input)) GTEST_SKIP() << "libtorch without oneDNN: nothing to compare";
  const auto with_bias = actionclip::linear(input, weight, bias);
  ASSERT_EQ(with_bias.sizes(), expected.sizes());
  EXPECT_LT((with_bias - expected).abs().max().item<double>(), 1e-4);
  const auto without_bias = actionclip::linear(input, weight);
  EXPECT_LT((without_bias + bias - expected).abs().max().item<double>(), 1e-4);
  // A non-contiguous input (a transposed view) is read correctly.
  const auto transposed = input.transpose(0, 1);
  EXPECT_LT((actionclip::linear(transposed, weight, bias) - expected.transpose(0, 1)).abs().max().item<double>(), 1e-4);
}

TEST(Linear, AutogradTakesLibtorchsDifferentiablePath) {
  const auto input = torch::randn({4, 8});
  const auto weight = torch::randn({5, 8}, torch::requires_grad());
  EXPECT_FALSE(actionclip::uses_onednn_linear(input));
  auto out = actionclip::linear(input, weight);
  out.sum().backward();
  ASSERT_TRUE(weight.grad().defined());
  EXPECT_LT((weight.grad() - input.sum(0).expand({5, 8})).abs().max().item<double>(), 1e-5);
}
