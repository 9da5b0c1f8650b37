#pragma once
// Evaluation over the ranks of a job: each rank scores a shard of the list and every rank gets
// the whole list's result, in input order, identical to one process's. Shards are whole batches
// (blocks of `batch_size` consecutive videos, dealt round-robin), so the model sees exactly the
// batches one process would, and the scores are bit for bit the same.
#include <vector>

#include "actionclip/dist/process_group.h"
#include "actionclip/eval/evaluator.h"

namespace actionclip::dist {

// The positions of `count` items that `rank` of `ranks` handles.
std::vector<size_t> shard_positions(size_t count, size_t batch_size, int rank, int ranks);

Evaluation evaluate_sharded(ProcessGroup& group, VideoEncoder& encoder, const ViewScorer& scorer,
                            const std::vector<data::VideoRecord>& records, int64_t num_classes, size_t batch_size,
                            Progress* progress = nullptr);

}  // namespace actionclip::dist
