#pragma once
// A list split over the ranks of a job and the ranks' results put back in the list's order.
// Shards are whole batches (blocks of `batch_size` consecutive items, dealt round-robin), so a
// model sees exactly the batches one process would. Results travel as CBOR (nlohmann::json,
// tensors as binary values), so a command gathers whatever it computes per item.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "actionclip/dist/process_group.h"

namespace actionclip::dist {

// The positions of `count` items that `rank` of `ranks` handles.
std::vector<size_t> shard_positions(size_t count, size_t batch_size, int rank, int ranks);

// A tensor's bytes as a binary value, and back; its shape and type travel separately.
nlohmann::json::binary_t tensor_bytes(const torch::Tensor& tensor);
torch::Tensor tensor_from_bytes(const nlohmann::json& bytes, std::vector<int64_t> shape, torch::ScalarType type);

// Every rank passes the results of its positions (`items[i]` is position `positions[i]`'s) and
// gets every rank's, ordered by position.
std::vector<nlohmann::json> all_gather_in_order(ProcessGroup& group, const std::vector<size_t>& positions,
                                                std::vector<nlohmann::json> items);

}  // namespace actionclip::dist
