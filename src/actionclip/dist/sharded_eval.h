#pragma once
// Evaluation over the ranks of a job: each rank scores a shard of the list (shards.h: whole
// batches) and every rank gets the whole list's result, in input order, identical to one
// process's: the model sees the batches one process would, so the scores are bit for bit the same.
#include <vector>

#include "actionclip/dist/process_group.h"
#include "actionclip/dist/shards.h"
#include "actionclip/eval/evaluator.h"

namespace actionclip::dist {

// `progress` counts this rank's shard.
Evaluation evaluate_sharded(ProcessGroup& group, VideoEncoder& encoder, const ViewScorer& scorer,
                            const std::vector<data::VideoRecord>& records, int64_t num_classes, size_t batch_size,
                            Progress* progress = nullptr);

}  // namespace actionclip::dist
