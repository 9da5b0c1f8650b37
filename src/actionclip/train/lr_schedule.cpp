#include "actionclip/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace actionclip {

double WarmupCosineSchedule::factor(double epoch) const {
  if (epoch < warmup_epochs) return epoch / warmup_epochs;
  const double span = std::max(total_epochs - warmup_epochs, 1e-12);
  const double progress = std::clamp((epoch - warmup_epochs) / span, 0.0, 1.0);
  const double cosine = (std::cos(M_PI * progress) + 1) / 2;
  return cosine * (1 - final_factor) + final_factor;
}

}  // namespace actionclip
