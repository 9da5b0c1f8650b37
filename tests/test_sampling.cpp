// Frame sampling against the reference's own outputs (reference/sampling_cases.json: ActionCLIP's
// datasets.py run unchanged): validation indices exactly, training draws inside the reference's
// segment bounds and uniform over them, the short-video rules included.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "actionclip/train/train_config.h"
#include "actionclip/util/error.h"
#include "actionclip/video/sampling.h"
#include "fixtures.h"

namespace actionclip::video {
namespace {

struct Case {
  int64_t num_frames;
  int num_segments;
  int64_t index_bias;
  std::vector<int64_t> val_indices, ticks;
  std::vector<std::vector<int64_t>> reference_draws;

  std::string name() const {
    return std::to_string(num_frames) + " frames, " + std::to_string(num_segments) + " segments, index_bias " +
           std::to_string(index_bias);
  }
};

std::vector<Case> reference_cases() {
  const auto doc = nlohmann::json::parse(std::ifstream(testing::fixture("reference/sampling_cases.json")));
  std::vector<Case> cases;
  for (const auto& c : doc.at("cases")) {
    EXPECT_EQ(c.at("seg_length").get<int>(), 1) << "the fixture gained seg_length > 1 cases";
    cases.push_back({c.at("num_frames"), c.at("num_segments"), c.at("index_bias"), c.at("val_indices"),
                     c.at("train_ticks"), c.at("train_draws_numpy_seeded")});
  }
  return cases;
}

std::vector<int64_t> plus(std::vector<int64_t> indices, int64_t bias) {
  for (auto& i : indices) i += bias;
  return indices;
}

// Pearson's statistic of `counts` against equal expectations. With k - 1 degrees of freedom its
// mean is k - 1 and its standard deviation sqrt(2 (k - 1)).
double chi_square(const std::vector<int64_t>& counts) {
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  const double expected = total / static_cast<double>(counts.size());
  double statistic = 0;
  for (auto c : counts) statistic += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  return statistic;
}

// Far in the tail for a uniform sampler (about 7 standard deviations), while a skewed one, e.g.
// one that favoured a segment's centre or never drew its last frame, lands far beyond it.
double generous_limit(double degrees_of_freedom) {
  return degrees_of_freedom + 7 * std::sqrt(2 * degrees_of_freedom) + 10;
}

TEST(ReferenceSampling, ValidationIndicesEqualTheReferenceInEveryCase) {
  REQUIRE_FIXTURES();
  const auto cases = reference_cases();
  ASSERT_EQ(cases.size(), 704u);
  for (const auto& c : cases) {
    EXPECT_EQ(plus(test_indices(c.num_frames, c.num_segments, Sampling::kActionclip), c.index_bias), c.val_indices)
        << c.name();
  }
}

// Fixture sanity: its own numpy draws obey the rules tested below, so the bounds are read right.
TEST(ReferenceSampling, TheFixtureDrawsFollowTheTicks) {
  REQUIRE_FIXTURES();
  for (const auto& c : reference_cases()) {
    for (const auto& draw : c.reference_draws) {
      ASSERT_EQ(draw.size(), static_cast<size_t>(c.num_segments)) << c.name();
      if (c.num_frames <= c.num_segments) continue;
      for (int i = 0; i < c.num_segments; ++i) {
        EXPECT_GE(draw[i] - c.index_bias, c.ticks[i]) << c.name();
        EXPECT_LT(draw[i] - c.index_bias, c.ticks[i + 1]) << c.name();
      }
    }
  }
}

TEST(ReferenceSampling, TrainingDrawsLieInTheReferenceTicksAndAreUniform) {
  REQUIRE_FIXTURES();
  int long_cases = 0, short_cases = 0;
  for (const auto& c : reference_cases()) {
    std::mt19937_64 rng(static_cast<uint64_t>(c.num_frames * 1000 + c.num_segments * 10 + c.index_bias));
    const auto n = c.num_frames;
    const auto segments = static_cast<size_t>(c.num_segments);
    if (n > c.num_segments) {
      ++long_cases;
      // One histogram per segment over its ticks; pooled, the statistic has sum(len - 1) degrees.
      ASSERT_EQ(c.ticks.size(), segments + 1) << c.name();
      int64_t longest = 0;
      for (size_t i = 0; i < segments; ++i) longest = std::max(longest, c.ticks[i + 1] - c.ticks[i]);
      const int draws = static_cast<int>(20 * longest + 100);
      std::vector<std::vector<int64_t>> counts(segments);
      for (size_t i = 0; i < segments; ++i) counts[i].assign(static_cast<size_t>(c.ticks[i + 1] - c.ticks[i]), 0);
      for (int d = 0; d < draws; ++d) {
        const auto drawn = train_indices(n, c.num_segments, rng);
        ASSERT_EQ(drawn.size(), segments) << c.name();
        for (size_t i = 0; i < segments; ++i) {
          ASSERT_GE(drawn[i], c.ticks[i]) << c.name() << ", segment " << i;
          ASSERT_LT(drawn[i], c.ticks[i + 1]) << c.name() << ", segment " << i;
          ++counts[i][static_cast<size_t>(drawn[i] - c.ticks[i])];
        }
      }
      double statistic = 0, degrees = 0;
      for (const auto& segment : counts) {
        statistic += chi_square(segment);
        degrees += static_cast<double>(segment.size() - 1);
      }
      if (degrees > 0) {
        EXPECT_LT(statistic, generous_limit(degrees)) << c.name() << ", " << draws << " draws";
      }
    } else {
      ++short_cases;
      // Every frame once, in order, plus N - n extras drawn uniformly from all n frames.
      std::vector<int64_t> extras(static_cast<size_t>(n), 0);
      const int draws = static_cast<int>(50 * n + 100);
      for (int d = 0; d < draws; ++d) {
        const auto drawn = train_indices(n, c.num_segments, rng);
        ASSERT_EQ(drawn.size(), segments) << c.name();
        ASSERT_TRUE(std::is_sorted(drawn.begin(), drawn.end())) << c.name();
        std::vector<int64_t> seen(static_cast<size_t>(n), 0);
        for (auto f : drawn) {
          ASSERT_GE(f, 0) << c.name();
          ASSERT_LT(f, n) << c.name();
          ++seen[static_cast<size_t>(f)];
        }
        for (size_t f = 0; f < seen.size(); ++f) {
          ASSERT_GE(seen[f], 1) << c.name() << ": frame " << f << " missing";
          extras[f] += seen[f] - 1;
        }
      }
      if (n < c.num_segments && n > 1) {
        EXPECT_LT(chi_square(extras), generous_limit(static_cast<double>(n - 1))) << c.name();
      }
      if (n == c.num_segments) {
        EXPECT_EQ(*std::max_element(extras.begin(), extras.end()), 0) << c.name();
      }
    }
  }
  EXPECT_GT(long_cases, 300);
  EXPECT_GT(short_cases, 50);
}

// The statistic above does catch a skewed sampler: draws folded towards a segment's start.
TEST(ReferenceSampling, TheUniformityCheckRejectsASkewedSampler) {
  std::vector<int64_t> counts(31, 0);
  std::mt19937_64 rng(3);
  const int draws = 20 * 31 + 100;
  for (int d = 0; d < draws; ++d) {
    const auto a = train_indices(31, 1, rng).front(), b = train_indices(31, 1, rng).front();
    ++counts[static_cast<size_t>(std::min(a, b))];
  }
  EXPECT_GT(chi_square(counts), generous_limit(30));
}

TEST(Sampling, TheReferenceFormulaIsTheDefaultAndMmactionsStaysSelectable) {
  EXPECT_EQ(test_indices(100, 8, Sampling::kActionclip), (std::vector<int64_t>{5, 18, 30, 43, 55, 68, 80, 93}));
  EXPECT_EQ(test_indices(100, 8, Sampling::kMmaction), (std::vector<int64_t>{6, 18, 31, 43, 56, 68, 81, 93}));
  // Short videos: the reference takes i * n // N, mmaction2 int(seg / 2 + seg * i).
  EXPECT_EQ(test_indices(3, 8, Sampling::kActionclip), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2}));
  EXPECT_EQ(test_indices(3, 8, Sampling::kMmaction), (std::vector<int64_t>{0, 0, 0, 1, 1, 2, 2, 2}));
  EXPECT_EQ(test_indices(7, 1, Sampling::kActionclip), (std::vector<int64_t>{3}));
  EXPECT_EQ(sampling_from_name("mmaction"), Sampling::kMmaction);
  EXPECT_EQ(sampling_from_name(sampling_name(Sampling::kActionclip)), Sampling::kActionclip);
  EXPECT_THROW(sampling_from_name("tsn"), Error);
  EXPECT_THROW(test_indices(0, 8, Sampling::kActionclip), std::invalid_argument);
}

TEST(Sampling, TrainingConfigsChooseTheFormulaAndTheFirstFrameNumber) {
  const std::string data = "data:\n  label_list: labels.csv\n";
  const auto defaults = TrainConfig::parse(data, "", "defaults.yaml");
  EXPECT_EQ(defaults.data.sampling, Sampling::kActionclip);
  EXPECT_EQ(defaults.data.index_bias, 1);
  const auto chosen =
      TrainConfig::parse(data + "  sampling: mmaction\n  index_bias: 0\n", "", "chosen.yaml");
  EXPECT_EQ(chosen.data.sampling, Sampling::kMmaction);
  EXPECT_EQ(chosen.data.index_bias, 0);
  try {
    TrainConfig::parse(data + "  sampling: tsn\n", "", "bad.yaml");
    FAIL() << "an unknown sampling was accepted";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), "bad.yaml");
    EXPECT_NE(std::string(e.what()).find("data.sampling"), std::string::npos) << e.what();
  }
  EXPECT_THROW(TrainConfig::parse(data + "  index_bias: -1\n", "", "negative.yaml"), FileError);
}

}  // namespace
}  // namespace actionclip::video
