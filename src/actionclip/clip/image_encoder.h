#pragma once
// What CLIP's two image encoder families (ViT, ModifiedResNet) share: images in, embeddings out,
// and batch-norm statistics that fine-tuning may keep fixed.
#include <torch/torch.h>

namespace actionclip {

class ImageEncoderImpl : public torch::nn::Module {
 public:
  // images [B, 3, H, W] (CLIP-normalized) -> unnormalized embeddings [B, embed_dim].
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;

  // Frozen: batch norm stays in eval mode (running statistics used, never updated) while the
  // rest of the model follows train()/eval(). Affine parameters still train.
  void freeze_batch_norm(bool frozen);
  bool batch_norm_frozen() const { return batch_norm_frozen_; }
  void train(bool on = true) override;

 private:
  bool batch_norm_frozen_ = false;
};

// A positional embedding [1 + g*g, D] learned for a g x g grid, for a grid_h x grid_w grid:
// row 0 (class or mean token) kept, the grid interpolated bicubically. Unchanged when the grid matches.
torch::Tensor grid_positional_embedding(const torch::Tensor& embedding, int64_t checkpoint_grid, int64_t grid_h,
                                        int64_t grid_w);

}  // namespace actionclip
