#pragma once
// bench train's measurement, shared by the one-process figure and the scaling run over ranks.
#include <memory>

#include "actionclip/dist/process_group.h"
#include "actionclip/train/trainer.h"
#include "bench.h"

namespace actionclip::cli {

constexpr int kBenchTrainBatch = 8;  // the global batch, whatever the number of ranks

struct TrainMeasurement {
  TrainSummary summary;
  int64_t steps = 0;
  double communication_seconds = 0;  // in collectives, waiting for the other ranks included
};

// A warm-up step, then `a.steps` measured ones; with a group, as this rank of a data-parallel run.
TrainMeasurement measure_training(const BenchArgs& a, std::shared_ptr<dist::ProcessGroup> group);

}  // namespace actionclip::cli
