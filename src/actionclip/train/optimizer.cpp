#include "actionclip/train/optimizer.h"

namespace actionclip {

ConfiguredOptimizer make_optimizer(const SolverConfig& s, ParameterGroups parameters) {
  auto options_for = [&s](double lr) -> std::unique_ptr<torch::optim::OptimizerOptions> {
    if (s.optim == "sgd")
      return std::make_unique<torch::optim::SGDOptions>(
          torch::optim::SGDOptions(lr).momentum(s.momentum).weight_decay(s.weight_decay));
    if (s.optim == "adam")
      return std::make_unique<torch::optim::AdamOptions>(
          torch::optim::AdamOptions(lr).betas({s.beta1, s.beta2}).eps(s.eps).weight_decay(s.weight_decay));
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(lr).betas({s.beta1, s.beta2}).eps(s.eps).weight_decay(s.weight_decay));
  };
  ConfiguredOptimizer out;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto add_group = [&](std::vector<torch::Tensor> params, double lr) {
    groups.emplace_back(std::move(params), options_for(lr));
    out.base_learning_rates.push_back(lr);
  };
  add_group(std::move(parameters.text), s.lr);
  add_group(std::move(parameters.visual), s.optim == "adamw" ? s.lr * s.ratio : s.lr);
  add_group(std::move(parameters.added), s.lr * s.f_ratio);
  if (s.optim == "sgd")
    out.optimizer = std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(s.lr));
  else if (s.optim == "adam")
    out.optimizer = std::make_unique<torch::optim::Adam>(groups, torch::optim::AdamOptions(s.lr));
  else
    out.optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(s.lr));
  return out;
}

}  // namespace actionclip
