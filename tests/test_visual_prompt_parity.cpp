// The five post-network visual prompts against the reference's fusion models.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "actionclip/io/checkpoint.h"
#include "actionclip/io/safetensors.h"
#include "actionclip/model/model_io.h"
#include "fixtures.h"

using actionclip::testing::fixture;

namespace {

// fusion-variants.pt: {variant name -> "module."-prefixed state dict}.
std::map<std::string, actionclip::io::TensorMap> read_variants() {
  std::ifstream in(fixture("reference/fusion-variants.pt"), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, actionclip::io::TensorMap> variants;
  for (const auto& entry : torch::pickle_load(bytes).toGenericDict()) {
    auto& state = variants[entry.key().toStringRef()];
    for (const auto& t : entry.value().toGenericDict()) {
      auto key = t.key().toStringRef();
      state.emplace(key.substr(key.rfind("module.", 0) == 0 ? 7 : 0), t.value().toTensor().to(torch::kFloat32));
    }
  }
  return variants;
}

}  // namespace

class VisualPromptParity : public ::testing::TestWithParam<std::string> {};

TEST_P(VisualPromptParity, MatchesReferenceVideoFeaturesAndLogits) {
  REQUIRE_FIXTURES();
  const auto variant = GetParam();
  auto variants = read_variants();
  ASSERT_TRUE(variants.count(variant));
  auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  const auto type = actionclip::prompt_type_from_name(variant);
  EXPECT_EQ(actionclip::infer_prompt_type(variants.at(variant)), type);

  actionclip::VisualPromptOptions options;
  options.type = type;
  options.width = 128;
  options.heads = 2;  // the fixture's text width 128 / 64
  options.num_frames = 4;
  actionclip::VisualPrompt prompt(options);
  auto unused = actionclip::assign_state(*prompt, variants.at(variant), "fusion-variants.pt", variant);
  EXPECT_TRUE(unused.empty());
  prompt->eval();

  torch::NoGradGuard no_grad;
  auto frames = expected.at("image_features").view({2, 4, 128});
  auto video = prompt(frames);
  EXPECT_LT((video - expected.at("video_features." + variant)).abs().max().item<double>(), 1e-4);
  auto logits = 100.0 * torch::matmul(actionclip::l2_normalize(video),
                                      actionclip::l2_normalize(expected.at("text_features")).t());
  EXPECT_LT((logits - expected.at("logits100." + variant)).abs().max().item<double>(), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(AllVariants, VisualPromptParity,
                         ::testing::Values("meanP", "Conv_1D", "LSTM", "Transf", "Transf_cls"));

TEST(VisualPromptParity, TinyActionClipCheckpointEndToEnd) {
  REQUIRE_FIXTURES();
  actionclip::LoadOptions options;
  options.load_tokenizer = false;
  auto loaded = actionclip::load_model(fixture("reference/actionclip-tiny-transf.pt"), options);
  auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  torch::NoGradGuard no_grad;
  auto video = loaded.model->encode_video(expected.at("pixels"));
  EXPECT_LT((video - expected.at("video_features.Transf")).abs().max().item<double>(), 1e-4);
}

TEST(VisualPromptParity, InNetworkPromptsLoadPlainClipWeights) {
  REQUIRE_FIXTURES();
  auto pixels = actionclip::io::load_safetensors(fixture("reference/expected.safetensors")).at("pixels");  // [2,4,...]
  for (auto prompt : {actionclip::PromptType::Joint, actionclip::PromptType::Shift}) {
    actionclip::LoadOptions options;
    options.load_tokenizer = false;
    options.prompt = prompt;
    options.num_frames = 4;
    auto loaded = actionclip::load_model(fixture("reference/clip-tiny-jit.pt"), options);
    torch::NoGradGuard no_grad;
    auto video = loaded.model->encode_video(pixels);
    EXPECT_EQ(video.sizes(), (std::vector<int64_t>{2, 128})) << actionclip::prompt_type_name(prompt);
    EXPECT_TRUE(torch::isfinite(video).all().item<bool>());
  }
}
