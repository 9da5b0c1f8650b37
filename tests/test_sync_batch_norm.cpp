// network.sync_bn: batch norm of the ResNet CLIP with statistics over the global batch. Two ranks
// of 5 and 3 images normalise, back-propagate and track running statistics as one batch of 8
// does with plain batch norm; eval mode and a world of one rank are plain batch norm.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/clip/modified_resnet.h"
#include "actionclip/dist/sync_batch_norm.h"
#include "in_process_ranks.h"

using actionclip::BatchNorm;
using actionclip::testing::run_in_process_ranks;

namespace {

constexpr int64_t kChannels = 3;

// Affine parameters other than batch norm's defaults, so that their gradients are exercised.
BatchNorm make_norm() {
  BatchNorm norm(kChannels);
  torch::NoGradGuard no_grad;
  norm->weight.copy_(torch::tensor({0.5f, 1.5f, -1.f}));
  norm->bias.copy_(torch::tensor({0.1f, -0.2f, 0.3f}));
  return norm;
}

struct Pass {
  torch::Tensor output, input_grad;
};

// Two training passes over `inputs` (rows of one batch, or one rank's rows), the loss weighting
// the outputs by `upstream`.
std::vector<Pass> train_twice(BatchNorm& norm, const std::vector<torch::Tensor>& inputs,
                              const std::vector<torch::Tensor>& upstream) {
  norm->train();
  std::vector<Pass> passes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto x = inputs[i].clone().requires_grad_(true);
    auto y = norm(x);
    (y * upstream[i]).sum().backward();
    passes.push_back({y.detach(), x.grad()});
  }
  return passes;
}

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-12);
}

}  // namespace

TEST(SyncBatchNorm, TwoRanksNormaliseAsOneBatch) {
  torch::manual_seed(4);
  // A mean far from zero against the spread: the sums of squares must not cancel it away.
  std::vector<torch::Tensor> inputs, upstream;
  for (int pass = 0; pass < 2; ++pass) {
    inputs.push_back(torch::randn({8, kChannels, 5, 4}) * 0.3 + 10.0);
    upstream.push_back(torch::randn({8, kChannels, 5, 4}));
  }
  auto plain = make_norm();
  const auto expected = train_twice(plain, inputs, upstream);

  const std::vector<int64_t> first_row{0, 5}, rows{5, 3};  // uneven shards
  std::vector<std::vector<Pass>> got(2);
  std::vector<BatchNorm> norms{make_norm(), make_norm()};
  run_in_process_ranks(2, [&](const std::shared_ptr<actionclip::dist::ProcessGroup>& group) {
    const auto r = static_cast<size_t>(group->rank());
    norms[r]->synchronize_over(group);
    std::vector<torch::Tensor> mine, mine_upstream;
    for (size_t i = 0; i < inputs.size(); ++i) {
      mine.push_back(inputs[i].narrow(0, first_row[r], rows[r]));
      mine_upstream.push_back(upstream[i].narrow(0, first_row[r], rows[r]));
    }
    got[r] = train_twice(norms[r], mine, mine_upstream);
    norms[r]->synchronize_over(nullptr);
  });

  for (size_t r = 0; r < 2; ++r) {
    for (size_t pass = 0; pass < 2; ++pass) {
      const auto& want = expected[pass];
      EXPECT_LT(relative_difference(got[r][pass].output, want.output.narrow(0, first_row[r], rows[r])), 1e-5)
          << "rank " << r << " pass " << pass;
      EXPECT_LT(relative_difference(got[r][pass].input_grad, want.input_grad.narrow(0, first_row[r], rows[r])), 1e-5)
          << "rank " << r << " pass " << pass;
    }
    EXPECT_LT(relative_difference(norms[r]->running_mean, plain->running_mean), 1e-5) << "rank " << r;
    EXPECT_LT(relative_difference(norms[r]->running_var, plain->running_var), 1e-5) << "rank " << r;
    EXPECT_EQ(norms[r]->num_batches_tracked.item<int64_t>(), 2);
  }
  // Each rank's loss covers its rows: the ranks' affine gradients sum to the batch's.
  EXPECT_LT(relative_difference(norms[0]->weight.grad() + norms[1]->weight.grad(), plain->weight.grad()), 1e-5);
  EXPECT_LT(relative_difference(norms[0]->bias.grad() + norms[1]->bias.grad(), plain->bias.grad()), 1e-5);
  // Rank 0's rows normalised on their own come out otherwise: the comparison sees the synchronisation.
  auto alone = make_norm();
  const auto own = train_twice(alone, {inputs[0].narrow(0, 0, 5)}, {upstream[0].narrow(0, 0, 5)});
  EXPECT_GT(relative_difference(own[0].output, expected[0].output.narrow(0, 0, 5)), 1e-3);

  // Eval mode normalises with the (shared) running statistics, with no collective.
  norms[0]->eval();
  plain->eval();
  torch::NoGradGuard no_grad;
  EXPECT_LT(relative_difference(norms[0](inputs[1]), plain(inputs[1])), 1e-5);
}

TEST(SyncBatchNorm, OneRankIsPlainBatchNormExactly) {
  torch::manual_seed(5);
  const std::vector<torch::Tensor> inputs{torch::randn({4, kChannels, 3, 3}) + 1, torch::randn({4, kChannels, 3, 3})};
  const std::vector<torch::Tensor> upstream{torch::randn({4, kChannels, 3, 3}), torch::randn({4, kChannels, 3, 3})};
  auto plain = make_norm();
  const auto expected = train_twice(plain, inputs, upstream);
  auto synced = make_norm();
  std::vector<Pass> got;
  run_in_process_ranks(1, [&](const std::shared_ptr<actionclip::dist::ProcessGroup>& group) {
    synced->synchronize_over(group);
    got = train_twice(synced, inputs, upstream);
    synced->synchronize_over(nullptr);
  });
  for (size_t pass = 0; pass < 2; ++pass) {
    EXPECT_TRUE(torch::equal(got[pass].output, expected[pass].output));
    EXPECT_TRUE(torch::equal(got[pass].input_grad, expected[pass].input_grad));
  }
  EXPECT_TRUE(torch::equal(synced->running_mean, plain->running_mean));
  EXPECT_TRUE(torch::equal(synced->running_var, plain->running_var));
  EXPECT_TRUE(torch::equal(synced->weight.grad(), plain->weight.grad()));
}
