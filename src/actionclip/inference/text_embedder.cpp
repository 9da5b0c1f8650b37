#include "actionclip/inference/text_embedder.h"

#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actionclip/clip/int8_quantization.h"
#include "actionclip/io/safetensors.h"
#include "actionclip/util/error.h"

namespace actionclip {
namespace fs = std::filesystem;

namespace {

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

}  // namespace

std::string file_identity(const std::string& path) {
  std::error_code ec;
  const auto absolute = fs::absolute(path, ec).string();
  if (fs::is_directory(path, ec)) {
    std::string identity = absolute;
    for (const auto& entry : fs::directory_iterator(path, ec))
      if (entry.is_regular_file(ec))
        identity += "|" + entry.path().filename().string() + ":" + std::to_string(entry.file_size(ec)) + ":" +
                    std::to_string(entry.last_write_time(ec).time_since_epoch().count());
    return identity;
  }
  return absolute + "|" + std::to_string(fs::file_size(path, ec)) + "|" +
         std::to_string(fs::last_write_time(path, ec).time_since_epoch().count());
}

TextEmbedder::TextEmbedder(ActionClipModel model, std::shared_ptr<const Tokenizer> tokenizer, TextEmbedderOptions options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(std::move(options)) {
  if (!tokenizer_) throw Error("text embedding needs a tokenizer");
}

torch::Tensor TextEmbedder::tokenize(const std::vector<std::string>& texts) const {
  const auto context = model_->clip->config().context_length;
  auto ids = torch::zeros({static_cast<int64_t>(texts.size()), context}, torch::kLong);
  auto accessor = ids.accessor<int64_t, 2>();
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto row = tokenizer_->tokenize(texts[i], static_cast<int>(context), options_.truncate);
    for (size_t j = 0; j < row.size(); ++j) accessor[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = row[j];
  }
  return ids;
}

torch::Tensor TextEmbedder::embed(const std::vector<std::string>& texts) {
  torch::NoGradGuard no_grad;
  const auto device = model_->clip->positional_embedding.device();
  std::vector<torch::Tensor> chunks;
  for (size_t start = 0; start < texts.size(); start += static_cast<size_t>(options_.batch_size)) {
    const auto end = std::min(texts.size(), start + static_cast<size_t>(options_.batch_size));
    std::vector<std::string> batch(texts.begin() + static_cast<std::ptrdiff_t>(start),
                                   texts.begin() + static_cast<std::ptrdiff_t>(end));
    chunks.push_back(l2_normalize(model_->encode_text(tokenize(batch).to(device))).to(torch::kFloat32).cpu());
  }
  if (chunks.empty()) return torch::empty({0, model_->clip->config().embed_dim});
  return torch::cat(chunks);
}

LabelEmbeddings TextEmbedder::embed_labels(const std::vector<std::string>& labels, const TemplateSet& templates) {
  if (labels.empty()) throw Error("no labels given");
  LabelEmbeddings out{labels, templates, {}};
  nlohmann::json key = {{"model", options_.model_identity}, {"labels", labels}, {"templates", templates.templates}};
  if (is_int8(*model_->clip)) key["int8"] = true;  // int8 text embeddings differ from float32's
  const auto key_text = key.dump();
  std::string cache_path;
  if (!options_.cache_dir.empty() && !options_.model_identity.empty()) {
    std::ostringstream name;
    name << "text-" << std::hex << std::setw(16) << std::setfill('0') << fnv1a(key_text) << ".safetensors";
    cache_path = (fs::path(options_.cache_dir) / name.str()).string();
    if (fs::exists(cache_path)) {
      try {
        io::Metadata metadata;
        auto cached = io::load_safetensors(cache_path, &metadata);
        if (metadata["key"] == key_text && cached.count("features")) {
          out.features = cached.at("features");
          return out;
        }
      } catch (const Error&) {
        // An unreadable cache entry is recomputed and overwritten below.
      }
    }
  }
  std::vector<std::string> prompts;
  prompts.reserve(labels.size() * templates.templates.size());
  for (const auto& t : templates.templates)
    for (const auto& label : labels) prompts.push_back(apply_template(t, label));
  out.features = embed(prompts).view({static_cast<int64_t>(templates.templates.size()),
                                      static_cast<int64_t>(labels.size()), -1});
  if (!cache_path.empty()) {
    std::error_code ec;
    fs::create_directories(options_.cache_dir, ec);
    try {
      io::save_safetensors(cache_path, {{"features", out.features}}, {{"key", key_text}});
    } catch (const Error&) {
      // The cache is an optimisation; a read-only cache folder must not fail the run.
    }
  }
  return out;
}

torch::Tensor label_probabilities(const torch::Tensor& video_features, const LabelEmbeddings& labels, double scale) {
  auto video = l2_normalize(video_features.to(torch::kFloat32)).to(labels.features.device());
  // [B, D] x [K, C, D] -> [K, B, C]
  auto logits = scale * torch::matmul(video.unsqueeze(0), labels.features.transpose(1, 2));
  return torch::softmax(logits, -1).mean(0);
}

torch::Tensor video_label_probabilities(const torch::Tensor& view_features, const LabelEmbeddings& labels,
                                        double scale) {
  return label_probabilities(view_features, labels, scale).mean(0);
}

}  // namespace actionclip
