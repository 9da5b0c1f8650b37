#include "actionclip/dist/sharded_eval.h"

#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>

namespace actionclip::dist {
namespace {

// One rank's part of the evaluation, with positions in the whole list.
std::string pack(const Evaluation& e, const std::vector<size_t>& positions, bool multi_label, int64_t num_classes) {
  nlohmann::json out;
  std::vector<size_t> indices;
  for (auto i : e.indices) indices.push_back(positions[i]);
  out["indices"] = indices;
  out["paths"] = e.paths;
  out["failures"] = e.failures;
  out["seconds"] = e.seconds;
  nlohmann::json frames = nlohmann::json::array();
  for (const auto& views : e.frames) {
    nlohmann::json row = nlohmann::json::array();
    for (const auto& v : views) row.push_back({v.indices, v.seconds, v.file_numbers});
    frames.push_back(row);
  }
  out["frames"] = frames;
  if (e.videos()) {
    out["classes"] = e.scores.size(1);
    out["scores"] = tensor_bytes(e.scores.to(torch::kFloat32));
    auto labels = e.labels;
    if (multi_label && labels.dim() == 1)
      labels = torch::one_hot(labels.to(torch::kLong), num_classes).to(torch::kFloat32);
    out["labels"] = tensor_bytes(multi_label ? labels.to(torch::kFloat32) : labels.to(torch::kLong));
  }
  const auto bytes = nlohmann::json::to_cbor(out);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

Evaluation evaluate_sharded(ProcessGroup& group, VideoEncoder& encoder, const ViewScorer& scorer,
                            const std::vector<data::VideoRecord>& records, int64_t num_classes, size_t batch_size,
                            Progress* progress) {
  const auto positions = shard_positions(records.size(), batch_size, group.rank(), group.size());
  std::vector<data::VideoRecord> shard;
  for (auto p : positions) shard.push_back(records[p]);
  bool multi_label = false;
  for (const auto& r : records) multi_label = multi_label || r.labels.size() > 1;
  if (progress) progress->set_total(static_cast<int64_t>(shard.size()));
  const auto local = evaluate(encoder, scorer, shard, num_classes, progress);

  Evaluation all;
  all.multi_label = multi_label;
  struct Row {
    size_t index;
    std::string path;
    std::vector<ViewFrames> frames;
    torch::Tensor score, label;
  };
  std::vector<Row> rows;
  for (const auto& bytes : group.all_gather_bytes(pack(local, positions, multi_label, num_classes))) {
    const auto part = nlohmann::json::from_cbor(std::vector<uint8_t>(bytes.begin(), bytes.end()));
    for (const auto& f : part["failures"]) all.failures.push_back(f.get<std::string>());
    all.seconds = std::max(all.seconds, part["seconds"].get<double>());
    const auto n = static_cast<int64_t>(part["indices"].size());
    if (n == 0) continue;
    const auto classes = part["classes"].get<int64_t>();
    const auto scores = tensor_from_bytes(part["scores"], {n, classes}, torch::kFloat32);
    const auto labels = multi_label ? tensor_from_bytes(part["labels"], {n, num_classes}, torch::kFloat32)
                                    : tensor_from_bytes(part["labels"], {n}, torch::kLong);
    for (int64_t i = 0; i < n; ++i) {
      Row row{part["indices"][static_cast<size_t>(i)].get<size_t>(), part["paths"][static_cast<size_t>(i)].get<std::string>(),
              {}, scores[i], labels[i]};
      for (const auto& v : part["frames"][static_cast<size_t>(i)])
        row.frames.push_back({v[0].get<std::vector<int64_t>>(), v[1].get<std::vector<double>>(), v[2].get<std::vector<int64_t>>()});
      rows.push_back(std::move(row));
    }
  }
  if (rows.empty()) return all;
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.index < b.index; });
  std::vector<torch::Tensor> scores, labels;
  for (auto& row : rows) {
    all.indices.push_back(row.index);
    all.paths.push_back(row.path);
    all.frames.push_back(std::move(row.frames));
    scores.push_back(row.score);
    labels.push_back(row.label);
  }
  all.scores = torch::stack(scores);
  all.labels = torch::stack(labels);
  compute_metrics(all);
  return all;
}

}  // namespace actionclip::dist
