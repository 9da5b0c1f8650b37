#include "actionclip/clip/image_encoder.h"

#include "actionclip/clip/modified_resnet.h"

namespace actionclip {

void ImageEncoderImpl::freeze_batch_norm(bool frozen) {
  batch_norm_frozen_ = frozen;
  train(is_training());
}

void ImageEncoderImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (!batch_norm_frozen_) return;
  for (auto& module : modules(/*include_self=*/false))
    if (dynamic_cast<BatchNormImpl*>(module.get())) module->eval();
}

torch::Tensor grid_positional_embedding(const torch::Tensor& embedding, int64_t checkpoint_grid, int64_t grid_h,
                                        int64_t grid_w) {
  if (grid_h == checkpoint_grid && grid_w == checkpoint_grid) return embedding;
  const auto width = embedding.size(1);
  auto grid = embedding.slice(0, 1).reshape({1, checkpoint_grid, checkpoint_grid, width}).permute({0, 3, 1, 2});
  grid = torch::nn::functional::interpolate(grid, torch::nn::functional::InterpolateFuncOptions()
                                                      .size(std::vector<int64_t>{grid_h, grid_w})
                                                      .mode(torch::kBicubic)
                                                      .align_corners(false));
  return torch::cat({embedding.slice(0, 0, 1), grid.permute({0, 2, 3, 1}).reshape({grid_h * grid_w, width})});
}

}  // namespace actionclip
