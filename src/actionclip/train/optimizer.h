#pragma once
// The reference's optimisers (utils/solver.py), over this project's three parameter groups.
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "actionclip/train/train_config.h"

namespace actionclip {

struct ParameterGroups {
  std::vector<torch::Tensor> text;    // the text encoder and the logit scale
  std::vector<torch::Tensor> visual;  // the image encoder
  std::vector<torch::Tensor> added;   // what ActionCLIP adds: the visual prompt, the baseline's classifier
};

struct ConfiguredOptimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> base_learning_rates;  // per group, before the schedule's factor
};

// solver.optim adamw: text at lr, image encoder at lr x ratio, added at lr x f_ratio, decoupled
// weight decay. adam (L2 weight decay) and sgd (momentum, L2 weight decay): the whole CLIP at lr,
// added at lr x f_ratio. Betas and eps from solver.beta1/beta2/eps. The groups always exist
// (possibly empty), in this order, so checkpoints line up whatever is frozen.
ConfiguredOptimizer make_optimizer(const SolverConfig& solver, ParameterGroups groups);

}  // namespace actionclip
