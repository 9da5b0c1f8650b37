#pragma once
// ActionCLIP's "pre-train, prompt, fine-tune" loop: AdamW (or Adam, SGD) with the reference's
// parameter groups, warmup + cosine or multistep schedule, symmetric KL video-text loss (or the unimodal baseline's
// cross-entropy), validation, atomic checkpoints that resume bit for bit, best-model export.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "actionclip/clip/tokenizer.h"
#include "actionclip/eval/evaluator.h"
#include "actionclip/model/actionclip_model.h"
#include "actionclip/model/text_prompts.h"
#include "actionclip/train/lr_schedule.h"
#include "actionclip/train/train_config.h"
#include "actionclip/train/video_dataset.h"

namespace actionclip {
namespace dist {
class ProcessGroup;
class GradientAverager;
}  // namespace dist

struct TrainRunOptions {
  std::string resume;              // trainer checkpoint to continue from (overrides config.resume)
  int stop_after_epochs = -1;      // end this run after N epochs, as an interruption would
  int64_t stop_after_steps = -1;   // end this run after N optimizer steps (after checkpointing)
  bool progress = true;
  bool save_checkpoints = true;    // off for benchmarks, which must not write gigabytes
};

struct TrainSummary {
  int epochs_completed = 0;        // epochs finished in total, including resumed ones
  int64_t optimizer_steps = 0;
  double last_loss = 0;
  double best_top1 = -1;
  Evaluation last_evaluation;
  size_t skipped_items = 0;
  std::string last_checkpoint, best_model;
  // Throughput of the last (possibly interrupted) epoch of this run.
  double videos_per_second = 0, data_wait_seconds = 0, train_seconds = 0;
};

// With a process group of several ranks, each rank trains on its shard of every batch (the
// config's batch size is the global one); rank 0 alone writes files and reports progress.
class Trainer {
 public:
  explicit Trainer(TrainConfig config, std::shared_ptr<dist::ProcessGroup> group = nullptr);
  ~Trainer();

  TrainSummary run(const TrainRunOptions& options = {});
  // Validation on the configured val list (or `records`) with the current weights.
  Evaluation validate(const std::vector<data::VideoRecord>& records, Progress* progress = nullptr);
  // The unimodal baseline's scores: the trained classifier's softmax per view, averaged over the
  // views (the video features go to the training device). Empty without the baseline.
  ViewScorer classifier_scorer();

  ActionClipModel model() { return model_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const TemplateSet& templates() const { return templates_; }
  std::shared_ptr<const Tokenizer> tokenizer() const { return tokenizer_; }
  const VideoDataset& train_set() const { return *train_set_; }
  // Every trainable tensor of the model and classifier, by name (for comparisons in tests).
  std::vector<std::pair<std::string, torch::Tensor>> named_state();

 private:
  void build_model();
  void build_optimizer();
  void save_checkpoint(const std::string& path, int epoch, int64_t batch_in_epoch);
  void load_checkpoint(const std::string& path);
  // The reference's `resume`: an ActionCLIP checkpoint's weights, training again from its epoch.
  void resume_reference_checkpoint(const std::string& path);
  void append_metrics(const nlohmann::json& row);
  torch::Tensor training_loss(const Batch& batch);
  std::string text_for(const Sample& sample) const;
  bool is_main_rank() const;
  // The mean over ranks of a per-rank value (the value itself in one process).
  double mean_over_ranks(double value);

  TrainConfig config_;
  std::shared_ptr<dist::ProcessGroup> group_;
  std::unique_ptr<dist::GradientAverager> gradient_averager_;
  torch::Device device_;
  std::vector<std::string> class_names_;
  TemplateSet templates_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  ActionClipModel model_{nullptr};
  torch::nn::Linear classifier_{nullptr};  // unimodal baseline only
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<double> base_learning_rates_;
  LearningRateSchedule schedule_;
  std::unique_ptr<VideoDataset> train_set_;
  std::vector<data::VideoRecord> val_records_;
  // Position restored from a checkpoint.
  int start_epoch_ = 0;
  int64_t start_batch_ = 0;
  int64_t optimizer_steps_ = 0;
  double best_top1_ = -1;
};

// The architectures that network.arch names, for random initialisation (network.init false).
ClipConfig clip_config_for_arch(const std::string& arch);

}  // namespace actionclip
