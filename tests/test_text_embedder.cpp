// The text side of classification: the reference's test-time scoring and the embedding cache.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "actionclip/inference/text_embedder.h"
#include "actionclip/train/trainer.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace actionclip {
namespace {

namespace fs = std::filesystem;

// Per template a softmax over labels of scale * cosine, then the mean over templates: not a
// softmax of averaged logits, which weighs a confident template differently.
TEST(LabelScoring, AveragesTheSoftmaxOfEachTemplate) {
  torch::manual_seed(3);
  LabelEmbeddings labels{{"a", "b", "c"}, {"t", {"x {}", "y {}"}}, torch::randn({2, 3, 4})};
  labels.features = labels.features / labels.features.norm(2, -1, true);
  const auto video = torch::randn({2, 4});
  const double scale = 10;
  const auto got = label_probabilities(video, labels, scale);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 3}));

  const auto v = video / video.norm(2, -1, true);
  for (int64_t b = 0; b < 2; ++b) {
    std::vector<double> expected(3, 0.0), averaged_logits(3, 0.0);
    for (int64_t k = 0; k < 2; ++k) {
      double logits[3], total = 0;
      for (int64_t c = 0; c < 3; ++c) {
        logits[c] = scale * torch::dot(v[b], labels.features[k][c]).item<double>();
        total += std::exp(logits[c]);
        averaged_logits[c] += logits[c] / 2;
      }
      for (int64_t c = 0; c < 3; ++c) expected[c] += std::exp(logits[c]) / total / 2;
    }
    double other_total = 0, difference = 0;
    for (double l : averaged_logits) other_total += std::exp(l);
    for (int64_t c = 0; c < 3; ++c) {
      EXPECT_NEAR(got[b][c].item<double>(), expected[c], 1e-5) << b << "," << c;
      difference += std::abs(expected[c] - std::exp(averaged_logits[c]) / other_total);
    }
    EXPECT_GT(difference, 1e-3) << "the data should tell the two scorings apart";
  }
}

// Multi-view testing averages the probabilities of the views, not their features.
TEST(LabelScoring, VideoScoresAverageTheViews) {
  torch::manual_seed(4);
  LabelEmbeddings labels{{"a", "b", "c"}, {"t", {"{}"}}, torch::randn({1, 3, 4})};
  labels.features = labels.features / labels.features.norm(2, -1, true);
  const auto views = torch::randn({3, 4});
  const auto got = video_label_probabilities(views, labels, 10);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{3}));
  auto expected = label_probabilities(views[0].unsqueeze(0), labels, 10)[0];
  for (int64_t v = 1; v < 3; ++v) expected = expected + label_probabilities(views[v].unsqueeze(0), labels, 10)[0];
  EXPECT_TRUE(torch::allclose(got, expected / 3, 0, 1e-6));
  const auto pooled = label_probabilities((views / views.norm(2, -1, true)).mean(0, true), labels, 10)[0];
  EXPECT_GT((got - pooled).abs().max().item<double>(), 1e-3);
}

TEST(TextEmbedder, CachesPerModelLabelsAndTemplates) {
  const auto bpe = testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz";
  if (!fs::exists(bpe)) GTEST_SKIP() << "CLIP tokenizer file not found at " << bpe;
  const auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_openai_bpe(bpe.string()));
  auto tiny_model = [](uint64_t seed) {
    torch::manual_seed(seed);
    ActionClipModel model(clip_config_for_arch("tiny"), ActionClipOptions{PromptType::MeanP, 8, false});
    model->eval();
    return model;
  };
  testing::TempDir cache;
  auto embedder = [&](uint64_t seed, const std::string& identity) {
    TextEmbedderOptions options;
    options.cache_dir = cache.path().string();
    options.model_identity = identity;
    return TextEmbedder(tiny_model(seed), tokenizer, options);
  };
  auto entries = [&] { return std::distance(fs::directory_iterator(cache.path()), fs::directory_iterator()); };
  const std::vector<std::string> labels{"running", "jumping"};
  const TemplateSet templates{"mine", {"a video of {}", "{}, an action"}};

  const auto first = embedder(1, "model-a").embed_labels(labels, templates);
  ASSERT_EQ(first.features.sizes(), (std::vector<int64_t>{2, 2, 128}));
  EXPECT_EQ(entries(), 1);
  // Other weights under the same identity: the cache answers, so the features are the first ones.
  EXPECT_TRUE(torch::equal(embedder(2, "model-a").embed_labels(labels, templates).features, first.features));
  EXPECT_EQ(entries(), 1);
  // A new identity, label set or template set is a new entry, computed afresh.
  const auto other_model = embedder(2, "model-b").embed_labels(labels, templates);
  EXPECT_FALSE(torch::allclose(other_model.features, first.features));
  EXPECT_EQ(embedder(1, "model-a").embed_labels({"running"}, templates).features.size(1), 1);
  const auto one_template = embedder(1, "model-a").embed_labels(labels, {"bare", {"{}"}});
  EXPECT_EQ(one_template.features.size(0), 1);
  EXPECT_EQ(entries(), 4);
  // Without a cache folder nothing is written, and the features are the same computation.
  TextEmbedder uncached(tiny_model(1), tokenizer);
  EXPECT_TRUE(torch::allclose(uncached.embed_labels(labels, templates).features, first.features, 0, 1e-6));
}

}  // namespace
}  // namespace actionclip
