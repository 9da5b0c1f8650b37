#pragma once
// The label sets requests name, embedded once and kept: a bounded LRU of LabelEmbeddings shared
// by all requests, in front of TextEmbedder's disk cache. Embedding runs one set at a time, so
// concurrent requests for a new set encode it once.
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actionclip/inference/text_embedder.h"

namespace actionclip::serve {

class LabelEmbeddingCache {
 public:
  using EmbedFn = std::function<LabelEmbeddings(const std::vector<std::string>& labels, const TemplateSet& templates)>;

  // CAPACITY: label sets kept (at least 1).
  LabelEmbeddingCache(EmbedFn embed, size_t capacity);

  // The embeddings of LABELS in TEMPLATES; HIT (optional) says whether they were kept.
  std::shared_ptr<const LabelEmbeddings> get(const std::vector<std::string>& labels, const TemplateSet& templates,
                                             bool* hit = nullptr);

  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const LabelEmbeddings>>;
  std::shared_ptr<const LabelEmbeddings> find(const std::string& key);  // and mark it recent; mutex_ held

  EmbedFn embed_;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::mutex embedding_;  // one label set encoded at a time
  std::list<Entry> recent_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace actionclip::serve
