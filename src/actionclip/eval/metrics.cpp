#include "actionclip/eval/metrics.h"

#include <fstream>

#include "actionclip/io/atomic_file.h"

namespace actionclip {

double top_k_accuracy(const torch::Tensor& scores, const torch::Tensor& labels, int k) {
  if (scores.size(0) == 0) return 0;
  const auto count = std::min<int64_t>(k, scores.size(1));
  auto top = std::get<1>(scores.topk(count, 1));
  auto hit = (top == labels.view({-1, 1})).any(1);
  return hit.to(torch::kDouble).mean().item<double>();
}

double mean_class_accuracy(const torch::Tensor& scores, const torch::Tensor& labels) {
  auto predicted = scores.argmax(1);
  auto classes = std::get<0>(at::_unique(labels));
  double sum = 0;
  for (int64_t i = 0; i < classes.size(0); ++i) {
    auto in_class = labels == classes[i];
    sum += (predicted.masked_select(in_class) == classes[i]).to(torch::kDouble).mean().item<double>();
  }
  return classes.size(0) ? sum / static_cast<double>(classes.size(0)) : 0.0;
}

torch::Tensor confusion_matrix(const torch::Tensor& scores, const torch::Tensor& labels, int64_t num_classes) {
  auto flat = labels.to(torch::kLong) * num_classes + scores.argmax(1);
  return torch::bincount(flat, {}, num_classes * num_classes).view({num_classes, num_classes});
}

double mean_average_precision(const torch::Tensor& scores, const torch::Tensor& targets) {
  double sum = 0;
  int64_t classes = 0;
  for (int64_t c = 0; c < scores.size(1); ++c) {
    auto positives = targets.select(1, c).to(torch::kDouble);
    const double total = positives.sum().item<double>();
    if (total == 0) continue;
    auto order = scores.select(1, c).argsort(0, /*descending=*/true);
    auto ranked = positives.index_select(0, order);
    auto precision = ranked.cumsum(0) / torch::arange(1, ranked.size(0) + 1, ranked.options());
    sum += (precision * ranked).sum().item<double>() / total;
    ++classes;
  }
  return classes ? sum / static_cast<double>(classes) : 0.0;
}

void write_confusion_csv(const std::string& path, const torch::Tensor& confusion, const std::vector<std::string>& names) {
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
  };
  io::write_file_atomically(path, [&](std::ostream& out) {
    out << "true\\predicted";
    for (const auto& n : names) out << ',' << quote(n);
    out << '\n';
    auto counts = confusion.to(torch::kLong).contiguous();
    for (int64_t r = 0; r < counts.size(0); ++r) {
      out << quote(names[static_cast<size_t>(r)]);
      for (int64_t c = 0; c < counts.size(1); ++c) out << ',' << counts[r][c].item<int64_t>();
      out << '\n';
    }
  });
}

}  // namespace actionclip
