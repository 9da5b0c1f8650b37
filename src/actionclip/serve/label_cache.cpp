#include "actionclip/serve/label_cache.h"

#include <nlohmann/json.hpp>

namespace actionclip::serve {

LabelEmbeddingCache::LabelEmbeddingCache(EmbedFn embed, size_t capacity)
    : embed_(std::move(embed)), capacity_(std::max<size_t>(capacity, 1)) {}

std::shared_ptr<const LabelEmbeddings> LabelEmbeddingCache::find(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  recent_.splice(recent_.begin(), recent_, it->second);
  return it->second->second;
}

std::shared_ptr<const LabelEmbeddings> LabelEmbeddingCache::get(const std::vector<std::string>& labels,
                                                                const TemplateSet& templates, bool* hit) {
  const auto key = nlohmann::json{{"labels", labels}, {"templates", templates.templates}}.dump();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = find(key)) {
      ++hits_;
      if (hit) *hit = true;
      return found;
    }
  }
  std::lock_guard<std::mutex> one_at_a_time(embedding_);
  {
    // Another request may have embedded the same set while this one waited.
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = find(key)) {
      ++hits_;
      if (hit) *hit = true;
      return found;
    }
  }
  auto embedded = std::make_shared<const LabelEmbeddings>(embed_(labels, templates));
  std::lock_guard<std::mutex> lock(mutex_);
  ++misses_;
  if (hit) *hit = false;
  recent_.emplace_front(key, embedded);
  index_[key] = recent_.begin();
  while (recent_.size() > capacity_) {
    index_.erase(recent_.back().first);
    recent_.pop_back();
  }
  return embedded;
}

size_t LabelEmbeddingCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return recent_.size();
}

uint64_t LabelEmbeddingCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

uint64_t LabelEmbeddingCache::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

}  // namespace actionclip::serve
