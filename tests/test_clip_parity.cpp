// CLIP encoders loaded from each released format against the reference implementations.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/io/safetensors.h"
#include "actionclip/model/model_io.h"
#include "fixtures.h"

using actionclip::testing::fixture;

namespace {

constexpr double kTolerance = 1e-4;

actionclip::LoadedModel load(const std::string& path, actionclip::LoadOptions options = {}) {
  options.load_tokenizer = false;
  return actionclip::load_model(path, options);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

void expect_reference_features(actionclip::LoadedModel& loaded) {
  auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  torch::NoGradGuard no_grad;
  auto pixels = expected.at("pixels").flatten(0, 1);
  EXPECT_LT(max_abs_diff(loaded.model->clip->encode_image(pixels), expected.at("image_features")), kTolerance);
  EXPECT_LT(max_abs_diff(loaded.model->clip->encode_text(expected.at("text_ids")), expected.at("text_features")),
            kTolerance);
  EXPECT_NEAR(loaded.model->clip->logit_scale.item<double>(), expected.at("logit_scale").item<double>(), 1e-6);
}

}  // namespace

TEST(ClipParity, OpenAiTorchScriptArchive) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/clip-tiny-jit.pt"));
  EXPECT_EQ(loaded.format, actionclip::io::CheckpointFormat::OpenAiTorchScript);
  const auto& c = loaded.model->clip->config();
  EXPECT_EQ(c.vision_width, 128);
  EXPECT_EQ(c.vision_layers, 2);
  EXPECT_EQ(c.vision_patch_size, 8);
  EXPECT_EQ(c.image_resolution, 32);
  EXPECT_EQ(c.text_layers, 2);
  EXPECT_EQ(c.embed_dim, 128);
  expect_reference_features(loaded);
}

TEST(ClipParity, ActionClipTrainingCheckpoint) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/actionclip-tiny-transf.pt"));
  EXPECT_EQ(loaded.format, actionclip::io::CheckpointFormat::ActionClipCheckpoint);
  EXPECT_EQ(loaded.model->options().prompt, actionclip::PromptType::Transf);
  expect_reference_features(loaded);
}

TEST(ClipParity, HuggingFaceFolder) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("hf/clip-tiny"));
  EXPECT_EQ(loaded.format, actionclip::io::CheckpointFormat::HuggingFaceFolder);
  auto expected = actionclip::io::load_safetensors(fixture("hf/expected.safetensors"));
  torch::NoGradGuard no_grad;
  auto& clip = loaded.model->clip;
  auto image = clip->encode_image(expected.at("pixels"));
  auto text = clip->encode_text(expected.at("input_ids"));
  EXPECT_LT(max_abs_diff(image, expected.at("image_features")), kTolerance);
  EXPECT_LT(max_abs_diff(text, expected.at("text_features")), kTolerance);
  auto logits = clip->logit_scale.exp() * torch::matmul(actionclip::l2_normalize(image),
                                                         actionclip::l2_normalize(text).t());
  EXPECT_LT(max_abs_diff(logits, expected.at("logits_per_image")), kTolerance);
}

TEST(ClipParity, ConvertThenLoadGivesIdenticalOutputs) {
  REQUIRE_FIXTURES();
  auto original = load(fixture("reference/actionclip-tiny-transf.pt"));
  const auto out = (std::filesystem::temp_directory_path() / "actionclip-convert-test.safetensors").string();
  actionclip::save_model(out, original.model, {{"labels", {"a", "b"}}});
  auto converted = load(out);
  std::filesystem::remove(out);
  EXPECT_EQ(converted.format, actionclip::io::CheckpointFormat::ActionClipSafetensors);
  EXPECT_EQ(converted.model->options().prompt, actionclip::PromptType::Transf);
  EXPECT_EQ(converted.metadata.at("labels").size(), 2u);
  auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  torch::NoGradGuard no_grad;
  auto pixels = expected.at("pixels");
  EXPECT_TRUE(torch::equal(original.model->encode_video(pixels), converted.model->encode_video(pixels)));
  EXPECT_TRUE(torch::equal(original.model->encode_text(expected.at("text_ids")),
                           converted.model->encode_text(expected.at("text_ids"))));
}

TEST(ClipParity, TextEncoderSkipsPositionsAfterTheLastEndToken) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/clip-tiny-jit.pt"));
  auto ids = actionclip::io::load_safetensors(fixture("reference/expected.safetensors")).at("text_ids");
  torch::NoGradGuard no_grad;
  auto& clip = loaded.model->clip;
  // The full 77-position computation, done by hand without truncation.
  const auto length = ids.size(1);
  auto x = clip->token_embedding(ids) + clip->positional_embedding;
  auto mask = torch::full({length, length}, -std::numeric_limits<float>::infinity()).triu(1);
  x = clip->ln_final(clip->transformer(x, mask));
  auto full = torch::matmul(x.index({torch::arange(ids.size(0)), ids.argmax(-1)}), clip->text_projection);
  EXPECT_LT(max_abs_diff(clip->encode_text(ids), full), 1e-5);
}

TEST(ClipParity, InterpolatesPositionsForOtherResolutions) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/clip-tiny-jit.pt"));
  torch::NoGradGuard no_grad;
  auto out = loaded.model->clip->encode_image(torch::randn({2, 3, 48, 64}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 128}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
}
