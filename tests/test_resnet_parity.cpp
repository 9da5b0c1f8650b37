// CLIP's ResNet image encoder (the RN50 family) against OpenAI's CLIP code and the ActionCLIP
// reference: sizes inferred as build_model does, features and the Transf prompt within 1e-4 from
// the TorchScript archive and the training checkpoint, and batch norm in eval or frozen mode.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "actionclip/clip/modified_resnet.h"
#include "actionclip/io/safetensors.h"
#include "actionclip/model/model_io.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "temp_dir.h"

using actionclip::testing::fixture;

namespace {

constexpr double kTolerance = 1e-4;

actionclip::LoadedModel load(const std::string& path) {
  actionclip::LoadOptions options;
  options.load_tokenizer = false;
  return actionclip::load_model(path, options);
}

actionclip::io::TensorMap expected() { return actionclip::io::load_safetensors(fixture("reference/expected-rn.safetensors")); }

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

void expect_reference_clip_features(actionclip::LoadedModel& loaded) {
  const auto reference = expected();
  torch::NoGradGuard no_grad;
  auto pixels = reference.at("pixels").flatten(0, 1);  // [8, 3, 64, 64]
  EXPECT_LT(max_abs_diff(loaded.model->clip->encode_image(pixels), reference.at("image_features")), kTolerance);
  EXPECT_LT(max_abs_diff(loaded.model->clip->encode_text(reference.at("text_ids")), reference.at("text_features")),
            kTolerance);
}

// The fixture's tiny ResNet: one block per stage, width 16, resolution 64, text width 64.
actionclip::ClipConfig tiny_resnet() {
  return actionclip::ClipConfig::modified_resnet({1, 1, 1, 1}, 16, 64, 128, 64);
}

}  // namespace

TEST(ResnetParity, SizesAreInferredFromTheWeightsAsBuildModelDoes) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/clip-tiny-rn-jit.pt"));
  EXPECT_EQ(loaded.format, actionclip::io::CheckpointFormat::OpenAiTorchScript);
  const auto& c = loaded.model->clip->config();
  EXPECT_TRUE(c.resnet());
  EXPECT_EQ(c.vision_stage_layers, (std::array<int64_t, 4>{1, 1, 1, 1}));
  EXPECT_EQ(c.vision_width, 16);
  EXPECT_EQ(c.vision_heads, 8);  // 16 * 32 / 64
  EXPECT_EQ(c.image_resolution, 64);
  EXPECT_EQ(c.embed_dim, 128);
  EXPECT_EQ(c.text_width, 64);
  EXPECT_EQ(c.text_layers, 2);
  // Every tensor of the archive has its place in the model (batch-norm statistics included).
  EXPECT_TRUE(loaded.unused_keys.empty()) << loaded.unused_keys.front();
}

TEST(ResnetParity, TorchScriptArchiveMatchesOpenAiFeatures) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/clip-tiny-rn-jit.pt"));
  expect_reference_clip_features(loaded);
}

TEST(ResnetParity, ActionClipCheckpointMatchesFeaturesAndTransfPrompt) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/actionclip-tiny-rn-transf.pt"));
  EXPECT_EQ(loaded.format, actionclip::io::CheckpointFormat::ActionClipCheckpoint);
  ASSERT_EQ(loaded.model->options().prompt, actionclip::PromptType::Transf);
  EXPECT_EQ(loaded.model->fusion->options().heads, 1);  // text width 64 / 64, not embed dim 128 / 64
  EXPECT_TRUE(loaded.unused_keys.empty());
  expect_reference_clip_features(loaded);

  const auto reference = expected();
  torch::NoGradGuard no_grad;
  auto video = loaded.model->fusion(reference.at("image_features").view({2, 4, 128}));
  EXPECT_LT(max_abs_diff(video, reference.at("video_features.Transf")), kTolerance);
  EXPECT_LT(max_abs_diff(loaded.model->encode_video(reference.at("pixels")), reference.at("video_features.Transf")),
            kTolerance);
  auto text = loaded.model->encode_text(reference.at("text_ids"));
  auto logits = 100.0 * torch::matmul(actionclip::l2_normalize(video), actionclip::l2_normalize(text).t());
  EXPECT_LT(max_abs_diff(logits, reference.at("logits100.Transf")), kTolerance);
}

TEST(ResnetParity, ConvertedModelReloadsWithIdenticalOutputs) {
  REQUIRE_FIXTURES();
  auto original = load(fixture("reference/actionclip-tiny-rn-transf.pt"));
  actionclip::testing::TempDir dir;
  const auto out = dir.path("rn.safetensors");
  actionclip::save_model(out, original.model);
  auto converted = load(out);
  EXPECT_TRUE(converted.model->clip->config().resnet());
  EXPECT_EQ(converted.model->clip->config().vision_stage_layers, original.model->clip->config().vision_stage_layers);
  const auto reference = expected();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(original.model->encode_video(reference.at("pixels")),
                           converted.model->encode_video(reference.at("pixels"))));
  EXPECT_TRUE(torch::equal(original.model->encode_text(reference.at("text_ids")),
                           converted.model->encode_text(reference.at("text_ids"))));
}

TEST(ResnetParity, OtherResolutionsInterpolateTheAttentionPoolPositions) {
  REQUIRE_FIXTURES();
  auto loaded = load(fixture("reference/clip-tiny-rn-jit.pt"));
  torch::NoGradGuard no_grad;
  auto out = loaded.model->clip->encode_image(torch::randn({2, 3, 96, 128}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 128}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  EXPECT_THROW(loaded.model->clip->encode_image(torch::randn({1, 3, 64, 70})), actionclip::Error);
}

TEST(ResnetParity, JointAndShiftNeedAVisionTransformer) {
  for (auto prompt : {actionclip::PromptType::Joint, actionclip::PromptType::Shift}) {
    try {
      actionclip::ActionClipModel model(tiny_resnet(), actionclip::ActionClipOptions{prompt, 8, true});
      ADD_FAILURE() << actionclip::prompt_type_name(prompt) << " was built on a ResNet";
    } catch (const actionclip::Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(actionclip::prompt_type_name(prompt) + " prompt needs a ViT"), std::string::npos) << message;
    }
  }
}

TEST(ResnetConfig, JsonRoundTripKeepsTheStagesAndOldFilesReadAsViT) {
  const auto config = tiny_resnet();
  const nlohmann::json j = config;
  const auto back = j.get<actionclip::ClipConfig>();
  EXPECT_TRUE(back.resnet());
  EXPECT_EQ(back.vision_stage_layers, config.vision_stage_layers);
  EXPECT_EQ(back.vision_heads, 8);
  auto old = nlohmann::json(actionclip::ClipConfig::vit_b32());
  old.erase("vision_kind");
  EXPECT_FALSE(old.get<actionclip::ClipConfig>().resnet());
}

TEST(ResnetConfig, NamesMatchOpenAiStateDict) {
  torch::manual_seed(0);
  actionclip::ModifiedResNet resnet(tiny_resnet());
  const auto params = resnet->named_parameters();
  const auto buffers = resnet->named_buffers();
  for (const auto* name : {"conv1.weight", "bn1.weight", "bn3.bias", "layer1.0.conv1.weight", "layer1.0.bn2.weight",
                           "layer1.0.downsample.0.weight", "layer2.0.downsample.1.bias", "layer4.0.conv3.weight",
                           "attnpool.positional_embedding", "attnpool.q_proj.weight", "attnpool.c_proj.bias"})
    EXPECT_TRUE(params.contains(name)) << name;
  for (const auto* name : {"bn1.running_mean", "layer1.0.bn1.running_var", "layer3.0.downsample.1.num_batches_tracked"})
    EXPECT_TRUE(buffers.contains(name)) << name;
  EXPECT_FALSE(params.contains("conv1.bias"));
  EXPECT_EQ(params["attnpool.positional_embedding"].sizes(), torch::IntArrayRef({2 * 2 + 1, 16 * 32}));
  EXPECT_EQ(params["attnpool.c_proj.weight"].sizes(), torch::IntArrayRef({128, 16 * 32}));
  // CLIP's initialisation: every residual branch starts at zero.
  EXPECT_EQ(params["layer2.0.bn3.weight"].abs().max().item<double>(), 0.0);
}

TEST(ResnetBatchNorm, FrozenStatisticsStayFixedWhileTrainModeUpdatesThem) {
  torch::manual_seed(0);
  actionclip::ClipModel clip(tiny_resnet());
  auto& resnet = *clip->visual;
  auto running_mean = [&] { return resnet.named_buffers()["layer1.0.bn1.running_mean"].clone(); };
  auto step = [&] {
    auto loss = clip->encode_image(torch::randn({4, 3, 64, 64}) * 2 + 1).pow(2).mean();
    loss.backward();
  };

  clip->train();
  auto before = running_mean();
  step();
  EXPECT_GT((running_mean() - before).abs().max().item<double>(), 0.0) << "train() must update batch-norm statistics";

  resnet.freeze_batch_norm(true);
  clip->train();  // as the trainer does after each validation
  EXPECT_TRUE(clip->is_training());
  EXPECT_FALSE(resnet.named_modules()["layer1.0.bn1"]->is_training());
  EXPECT_TRUE(resnet.named_modules()["layer1.0.conv1"]->is_training());
  before = running_mean();
  const auto tracked = resnet.named_buffers()["bn1.num_batches_tracked"].item<int64_t>();
  step();
  EXPECT_TRUE(torch::equal(running_mean(), before)) << "frozen batch norm changed its running mean";
  EXPECT_EQ(resnet.named_buffers()["bn1.num_batches_tracked"].item<int64_t>(), tracked);
  // The affine parameters still learn.
  EXPECT_TRUE(resnet.named_parameters()["layer1.0.bn1.weight"].grad().defined());
}
