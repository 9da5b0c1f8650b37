#pragma once
// The reference's learning-rate schedules (utils/lr_scheduler.py), as multipliers of every
// parameter group's base rate at a fractional epoch, and the moments its train.py moves them.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace actionclip {

struct SolverConfig;

// WarmupCosineAnnealingLR: linear warmup from 0 to the base rate over `warmup_epochs`, then
// half a cosine down to `final_factor` of it at `total_epochs`.
struct WarmupCosineSchedule {
  double total_epochs = 50;
  double warmup_epochs = 5;
  double final_factor = 0;

  double factor(double epoch) const;
};

// WarmupMultiStepLR: the same warmup, then gamma ** (number of milestones <= epoch).
struct WarmupMultiStepSchedule {
  double warmup_epochs = 0;
  std::vector<double> milestones;
  double gamma = 0.1;

  double factor(double epoch) const;
};

class LearningRateSchedule {
 public:
  LearningRateSchedule() = default;
  // solver.type cosine, or multistep with lr_decay_step (an epoch count: every that many epochs;
  // or a list of milestone epochs) and lr_decay_factor. Errors name `source` and the key.
  static LearningRateSchedule from_config(const SolverConfig& solver, const std::string& source);

  double factor(double epoch) const;

 private:
  std::variant<WarmupCosineSchedule, WarmupMultiStepSchedule> schedule_;
};

// The fractional epoch the reference's train.py last set the schedule to when it trains batch
// `batch` of `batches`: it steps at the first batch of an epoch and at every tenth one after
// (batches 0, 9, 19, 29, ...), to epoch + step_batch / batches, and leaves the rate alone between.
double schedule_epoch(int epoch, int64_t batch, int64_t batches);

}  // namespace actionclip
