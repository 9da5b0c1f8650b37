// The trainer's loss for one batch: one process, or this rank's shard of a distributed batch.
#include <random>

#include "actionclip/dist/gather.h"
#include "actionclip/dist/process_group.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/train/contrastive_loss.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/autocast.h"

namespace actionclip {

std::string Trainer::text_for(const Sample& sample) const {
  // One template per training example, drawn from the sample's own seed.
  std::mt19937_64 rng(derive_seed(sample.seed, 0x74656d706cull));
  const auto& templ = templates_.templates[uniform_below(rng, templates_.templates.size())];
  const auto label = sample.labels[uniform_below(rng, sample.labels.size())];
  return apply_template(templ, class_names_[static_cast<size_t>(label)]);
}

torch::Tensor Trainer::training_loss(const Batch& batch) {
  AutocastScope autocast(config_.solver.precision == "bf16", device_);
  auto video = model_->encode_video(batch.frames.to(device_));
  if (classifier_) {
    // The mean over a shard; the ranks' shards are equal, so averaging gradients over ranks gives
    // the whole batch's.
    auto logits = classifier_(video).to(torch::kFloat32);
    auto labels = batch.labels.to(device_);
    return train_set_->multi_label() ? torch::binary_cross_entropy_with_logits(logits, labels)
                                     : torch::cross_entropy_loss(logits, labels);
  }
  std::vector<std::string> texts;
  for (const auto& s : batch.samples) texts.push_back(text_for(s));
  TextEmbedder tokenize_only(model_, tokenizer_);
  auto text = model_->encode_text(tokenize_only.tokenize(texts).to(device_)).to(torch::kFloat32);
  video = video.to(torch::kFloat32);
  const auto& scale = model_->clip->logit_scale;
  if (!group_ || group_->size() == 1) return symmetric_kl_loss(video, text, batch.labels, scale);

  // The whole batch's features on every rank, with gradient back to each rank's own.
  auto all_video = dist::all_gather_rows_with_grad(*group_, video);
  auto all_text = dist::all_gather_rows_with_grad(*group_, text);
  auto all_labels = dist::all_gather_rows(*group_, batch.labels);
  if (!config_.solver.local_loss) return symmetric_kl_loss(all_video, all_text, all_labels, scale);
  // The shards' losses sum to the batch's; scaled by the world size so that the averaged
  // gradients are the batch's, as in the full-matrix case.
  return symmetric_kl_loss_of_rows(video, text, batch.labels, all_video, all_text, all_labels, scale) * group_->size();
}

}  // namespace actionclip
