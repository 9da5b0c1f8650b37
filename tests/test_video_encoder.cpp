// Video encoding precision: bf16 autocast gives the float32 features to bf16's accuracy.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actionclip/inference/video_encoder.h"
#include "actionclip/train/trainer.h"

TEST(VideoEncoder, Bfloat16FeaturesAgreeWithFloat32) {
  torch::manual_seed(0);
  actionclip::ActionClipModel model(actionclip::clip_config_for_arch("tiny"),
                                    actionclip::ActionClipOptions{actionclip::PromptType::Transf, 8, false});
  model->eval();
  const auto views = torch::randn({2, 8, 3, 32, 32});

  actionclip::VideoEncoderOptions options;
  const auto fp32 = actionclip::VideoEncoder(model, options).encode_views(views);
  options.bfloat16 = true;
  const auto bf16 = actionclip::VideoEncoder(model, options).encode_views(views);

  ASSERT_EQ(bf16.scalar_type(), torch::kFloat32);
  ASSERT_EQ(bf16.sizes(), fp32.sizes());
  EXPECT_GT((bf16 - fp32).abs().max().item<double>(), 0.0) << "autocast did not change the arithmetic";
  const auto cosine = torch::cosine_similarity(bf16, fp32, 1);
  EXPECT_GT(cosine.min().item<double>(), 0.99);
}
