#include "actionclip/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "actionclip/train/train_config.h"
#include "actionclip/util/error.h"

namespace actionclip {

double WarmupCosineSchedule::factor(double epoch) const {
  if (epoch < warmup_epochs) return epoch / warmup_epochs;
  const double span = std::max(total_epochs - warmup_epochs, 1e-12);
  const double progress = std::clamp((epoch - warmup_epochs) / span, 0.0, 1.0);
  const double cosine = (std::cos(M_PI * progress) + 1) / 2;
  return cosine * (1 - final_factor) + final_factor;
}

double WarmupMultiStepSchedule::factor(double epoch) const {
  if (epoch < warmup_epochs) return epoch / warmup_epochs;
  const auto passed = std::upper_bound(milestones.begin(), milestones.end(), epoch) - milestones.begin();
  return std::pow(gamma, static_cast<double>(passed));
}

LearningRateSchedule LearningRateSchedule::from_config(const SolverConfig& s, const std::string& source) {
  LearningRateSchedule out;
  if (s.type == "cosine") {
    out.schedule_ = WarmupCosineSchedule{static_cast<double>(s.epochs), s.lr_warmup_step, 0.0};
    return out;
  }
  if (s.type != "multistep")
    throw FileError(source, "solver.type '" + s.type + "' is not supported (cosine, multistep)");
  WarmupMultiStepSchedule multistep{s.lr_warmup_step, s.lr_decay_milestones, s.lr_decay_factor};
  if (multistep.milestones.empty()) {
    if (s.lr_decay_step < 1) throw FileError(source, "solver.lr_decay_step must be a positive number of epochs");
    for (int i = 1; i <= s.epochs / s.lr_decay_step; ++i) multistep.milestones.push_back(i * s.lr_decay_step);
  }
  if (!std::is_sorted(multistep.milestones.begin(), multistep.milestones.end()))
    throw FileError(source, "solver.lr_decay_step milestones must be increasing");
  // The reference refuses a decay that would fall inside the warmup.
  if (!multistep.milestones.empty() && multistep.milestones.front() <= multistep.warmup_epochs)
    throw FileError(source, "solver.lr_decay_step: the first milestone (" + std::to_string(multistep.milestones.front()) +
                                ") must come after the warmup (lr_warmup_step " + std::to_string(s.lr_warmup_step) + ")");
  out.schedule_ = multistep;
  return out;
}

double LearningRateSchedule::factor(double epoch) const {
  return std::visit([epoch](const auto& schedule) { return schedule.factor(epoch); }, schedule_);
}

double schedule_epoch(int epoch, int64_t batch, int64_t batches) {
  const int64_t step_batch = batch < 9 ? 0 : (batch + 1) / 10 * 10 - 1;
  return epoch + static_cast<double>(step_batch) / static_cast<double>(batches);
}

}  // namespace actionclip
