#include "actionclip/dist/shards.h"

#include <algorithm>
#include <cstring>

#include "actionclip/util/error.h"

namespace actionclip::dist {

std::vector<size_t> shard_positions(size_t count, size_t batch_size, int rank, int ranks) {
  std::vector<size_t> positions;
  batch_size = std::max<size_t>(batch_size, 1);
  for (size_t block = static_cast<size_t>(rank); block * batch_size < count; block += static_cast<size_t>(ranks))
    for (size_t i = block * batch_size; i < std::min(count, (block + 1) * batch_size); ++i) positions.push_back(i);
  return positions;
}

nlohmann::json::binary_t tensor_bytes(const torch::Tensor& tensor) {
  auto contiguous = tensor.contiguous().cpu();
  const auto* begin = static_cast<const uint8_t*>(contiguous.data_ptr());
  return nlohmann::json::binary_t(std::vector<uint8_t>(begin, begin + contiguous.nbytes()));
}

torch::Tensor tensor_from_bytes(const nlohmann::json& bytes, std::vector<int64_t> shape, torch::ScalarType type) {
  auto tensor = torch::empty(shape, type);
  const auto& binary = bytes.get_binary();
  if (binary.size() != tensor.nbytes())
    throw Error("a gathered tensor has " + std::to_string(binary.size()) + " bytes, not the " +
                std::to_string(tensor.nbytes()) + " its shape needs");
  std::memcpy(tensor.data_ptr(), binary.data(), binary.size());
  return tensor;
}

std::vector<nlohmann::json> all_gather_in_order(ProcessGroup& group, const std::vector<size_t>& positions,
                                                std::vector<nlohmann::json> items) {
  if (positions.size() != items.size()) throw std::invalid_argument("all_gather_in_order: one item per position");
  const auto local = nlohmann::json::to_cbor(nlohmann::json{{"positions", positions}, {"items", std::move(items)}});
  std::vector<std::pair<size_t, nlohmann::json>> gathered;
  for (const auto& bytes : group.all_gather_bytes(std::string(local.begin(), local.end()))) {
    auto part = nlohmann::json::from_cbor(std::vector<uint8_t>(bytes.begin(), bytes.end()));
    auto& part_items = part["items"];
    for (size_t i = 0; i < part_items.size(); ++i)
      gathered.emplace_back(part["positions"][i].get<size_t>(), std::move(part_items[i]));
  }
  std::sort(gathered.begin(), gathered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<nlohmann::json> ordered;
  ordered.reserve(gathered.size());
  for (auto& [position, item] : gathered) ordered.push_back(std::move(item));
  return ordered;
}

}  // namespace actionclip::dist
