#pragma once
// The reference's WarmupCosineAnnealingLR, stepped at fractional epochs (epoch + i / iters):
// linear warmup from 0 to the base rate over `warmup_epochs`, then half a cosine down to
// `final_factor` of it at `total_epochs`.
namespace actionclip {

struct WarmupCosineSchedule {
  double total_epochs = 50;
  double warmup_epochs = 5;
  double final_factor = 0;

  // Multiplier of every parameter group's base learning rate at (fractional) `epoch`.
  double factor(double epoch) const;
};

}  // namespace actionclip
