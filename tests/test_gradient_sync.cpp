// Gradient averaging overlapped with the backward pass (DDP's Reducer): two ranks end with the
// mean of their gradients, buckets start during backward, gradient accumulation syncs only the
// last micro-step, and parameters without a gradient neither hang the job nor get one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/dist/gradient_sync.h"
#include "in_process_ranks.h"

using actionclip::dist::GradientAverager;
using actionclip::testing::run_in_process_ranks;

namespace {

// Two layers and two extra parameters: `rank0_only` is used by rank 0's loss alone, `unused` by
// no loss at all. Parameter order: rank0_only, unused, first.*, second.* (own ones first).
struct Net : torch::nn::Module {
  Net() {
    torch::manual_seed(7);
    first = register_module("first", torch::nn::Linear(6, 16));
    second = register_module("second", torch::nn::Linear(16, 4));
    rank0_only = register_parameter("rank0_only", torch::randn({4}));
    unused = register_parameter("unused", torch::randn({3}));
  }
  torch::Tensor loss(const torch::Tensor& x, int rank) {
    auto y = second(torch::tanh(first(x)));
    if (rank == 0) y = y * rank0_only;
    return y.square().mean();
  }
  torch::nn::Linear first{nullptr}, second{nullptr};
  torch::Tensor rank0_only, unused;
};

// Each rank's micro-batches, in order.
std::vector<std::vector<torch::Tensor>> rank_batches(int micro_steps) {
  torch::manual_seed(8);
  std::vector<std::vector<torch::Tensor>> batches(2);
  for (auto& rank : batches)
    for (int i = 0; i < micro_steps; ++i) rank.push_back(torch::randn({5, 6}));
  return batches;
}

// What averaging must give: each rank's accumulated gradient computed alone, then the mean.
std::vector<torch::Tensor> expected_gradients(const std::vector<std::vector<torch::Tensor>>& batches) {
  std::vector<torch::Tensor> sum;
  for (int rank = 0; rank < 2; ++rank) {
    Net net;
    for (const auto& x : batches[static_cast<size_t>(rank)]) net.loss(x, rank).backward();
    const auto params = net.parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto g = params[i].grad().defined() ? params[i].grad() : torch::Tensor();
      if (sum.size() <= i) sum.push_back(g);
      else if (g.defined()) sum[i] = sum[i].defined() ? sum[i] + g : g;
    }
  }
  for (auto& g : sum)
    if (g.defined()) g = g / 2;
  return sum;
}

struct RankResult {
  std::vector<torch::Tensor> grads;
  size_t buckets = 0, started_in_backward = 0;
};

// Trains the micro-steps on two ranks, synchronising after the last one.
std::vector<RankResult> averaged_gradients(const std::vector<std::vector<torch::Tensor>>& batches, int64_t bucket_bytes) {
  std::vector<RankResult> results(2);
  std::vector<Net> nets(2);  // here: Net seeds torch's global generator, which the ranks' threads share
  run_in_process_ranks(2, [&](const std::shared_ptr<actionclip::dist::ProcessGroup>& group) {
    const auto rank = group->rank();
    auto& net = nets[static_cast<size_t>(rank)];
    GradientAverager averager(*group, net.parameters(), bucket_bytes);
    const auto& mine = batches[static_cast<size_t>(rank)];
    for (size_t i = 0; i < mine.size(); ++i) {
      const bool last = i + 1 == mine.size();
      averager.prepare_for_backward(last);
      net.loss(mine[i], rank).backward();
      if (last) averager.finish();
    }
    auto& result = results[static_cast<size_t>(rank)];
    for (auto& p : net.parameters()) result.grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
    result.buckets = averager.bucket_count();
    result.started_in_backward = averager.buckets_started_in_backward();
  });
  return results;
}

void expect_mean_gradients(const std::vector<RankResult>& results, const std::vector<torch::Tensor>& expected) {
  const auto names = Net().named_parameters().keys();
  ASSERT_EQ(names[1], "unused");
  for (const auto& result : results) {
    ASSERT_EQ(result.grads.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(result.grads[i].defined(), expected[i].defined()) << names[i];
      if (!expected[i].defined()) continue;
      const double scale = std::max(expected[i].abs().max().item<double>(), 1e-12);
      EXPECT_LE((result.grads[i] - expected[i]).abs().max().item<double>(), 1e-6 * scale) << names[i];
    }
  }
  EXPECT_TRUE(expected[0].defined());
  EXPECT_FALSE(expected[1].defined()) << "the unused parameter must have no gradient";
}

}  // namespace

TEST(GradientAverager, RanksEndWithTheMeanGradientStartingBucketsDuringBackward) {
  const auto batches = rank_batches(1);
  // 128-byte buckets: one or two small tensors each. The last holds `unused` (and `rank0_only`,
  // unused on rank 1): it can only start after backward, the others start during it.
  const auto results = averaged_gradients(batches, 128);
  expect_mean_gradients(results, expected_gradients(batches));
  for (const auto& result : results) {
    EXPECT_GE(result.buckets, 4u);
    EXPECT_EQ(result.started_in_backward, result.buckets - 1);
  }

  // With every parameter used, every bucket starts inside the backward pass.
  std::vector<RankResult> used(2);
  std::vector<Net> nets(2);
  run_in_process_ranks(2, [&](const std::shared_ptr<actionclip::dist::ProcessGroup>& group) {
    auto& net = nets[static_cast<size_t>(group->rank())];
    std::vector<torch::Tensor> params;
    for (const auto& p : net.named_parameters())
      if (p.key() != "unused") params.push_back(p.value());
    GradientAverager averager(*group, params, 128);
    averager.prepare_for_backward(true);
    net.loss(batches[static_cast<size_t>(group->rank())][0], 0).backward();  // rank0_only used on both
    auto& result = used[static_cast<size_t>(group->rank())];
    result.buckets = averager.bucket_count();
    result.started_in_backward = averager.buckets_started_in_backward();
    averager.finish();
  });
  EXPECT_EQ(used[0].started_in_backward, used[0].buckets);
  EXPECT_GE(used[0].buckets, 4u);
}

TEST(GradientAverager, AccumulationSyncsTheSumOfMicroSteps) {
  const auto batches = rank_batches(2);
  for (const int64_t bucket_bytes : {int64_t{128}, GradientAverager::kDefaultBucketBytes})
    expect_mean_gradients(averaged_gradients(batches, bucket_bytes), expected_gradients(batches));
}
