// Evaluation metrics on score matrices small enough to check by hand.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "actionclip/eval/metrics.h"
#include "temp_dir.h"

namespace {

// Four videos, three classes. Best-first rankings: v0 [0,1,2], v1 [2,1,0], v2 [1,0,2], v3 [0,2,1].
torch::Tensor scores() {
  return torch::tensor({{0.7, 0.2, 0.1}, {0.1, 0.3, 0.6}, {0.3, 0.5, 0.2}, {0.5, 0.1, 0.4}});
}
torch::Tensor labels() { return torch::tensor({0, 1, 1, 2}, torch::kLong); }

}  // namespace

TEST(Metrics, TopKAccuracy) {
  // Top-1: v0 and v2 are right. Top-2 adds v1 (1 is second) and v3 (2 is second).
  EXPECT_DOUBLE_EQ(actionclip::top_k_accuracy(scores(), labels(), 1), 0.5);
  EXPECT_DOUBLE_EQ(actionclip::top_k_accuracy(scores(), labels(), 2), 1.0);
  // k beyond the number of classes counts every video.
  EXPECT_DOUBLE_EQ(actionclip::top_k_accuracy(scores(), labels(), 5), 1.0);
}

TEST(Metrics, MeanClassAccuracyWeighsClassesEqually) {
  // Class 0: 1 of 1 right, class 1: 1 of 2 (v2), class 2: 0 of 1.
  EXPECT_NEAR(actionclip::mean_class_accuracy(scores(), labels()), (1.0 + 0.5 + 0.0) / 3, 1e-12);
}

TEST(Metrics, ConfusionMatrixRowsAreTrueClasses) {
  const auto confusion = actionclip::confusion_matrix(scores(), labels(), 3);
  const auto expected = torch::tensor({{1, 0, 0}, {0, 1, 1}, {1, 0, 0}}, torch::kLong);
  EXPECT_TRUE(torch::equal(confusion.to(torch::kLong), expected)) << confusion;

  actionclip::testing::TempDir dir;
  const auto path = dir.path("confusion.csv");
  actionclip::write_confusion_csv(path, confusion, {"a", "b", "c"});
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const auto csv = text.str();
  EXPECT_NE(csv.find("a"), std::string::npos);
  EXPECT_NE(csv.find("c"), std::string::npos);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;  // header + one row per class
}

TEST(Metrics, MeanAveragePrecisionOverClassesWithPositives) {
  const auto targets = torch::tensor({{1, 0, 0}, {0, 1, 1}, {1, 1, 0}, {0, 0, 0}}, torch::kFloat);
  // Class 0 ranks v0 (0.7, +), v3 (0.5, -), v2 (0.3, +), v1: AP = (1/1 + 2/3) / 2.
  // Class 1 ranks v2 (0.5, +), v1 (0.3, +), ...: AP = 1.
  // Class 2 ranks v1 (0.6, +) first: AP = 1.
  const double expected = ((1.0 + 2.0 / 3) / 2 + 1.0 + 1.0) / 3;
  EXPECT_NEAR(actionclip::mean_average_precision(scores(), targets), expected, 1e-9);
  // A class without positives is left out of the mean.
  const auto no_class_2 = targets.index({torch::indexing::Slice(), torch::indexing::Slice(0, 2)});
  const auto two_scores = scores().index({torch::indexing::Slice(), torch::indexing::Slice(0, 2)});
  EXPECT_NEAR(actionclip::mean_average_precision(two_scores, no_class_2), ((1.0 + 2.0 / 3) / 2 + 1.0) / 2, 1e-9);
}
