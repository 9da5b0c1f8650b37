#pragma once
// Training and validation samples: annotation records -> sampled, augmented clips with their
// label ids, and a deterministic batch order. Every random choice (order, frames, crop,
// colour, template) is a function of (seed, epoch, position), never of thread timing, so a
// run can be repeated and resumed exactly.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "actionclip/data/annotations.h"
#include "actionclip/train/train_config.h"
#include "actionclip/util/random.h"

namespace actionclip {

// Reads an annotation file in `format` (auto, video, rawframes, kinetics, ucf101, hmdb51).
// `train` picks the HMDB-51 subset. Problems (missing videos, bad lines) are in the report.
data::AnnotationReport read_annotations(const std::string& path, const DataConfig& config,
                                        const std::vector<std::string>& class_names, bool train);

struct Sample {
  torch::Tensor frames;         // [T, 3, S, S] normalized
  std::vector<int64_t> labels;
  size_t record = 0;
  uint64_t seed = 0;            // this sample's seed: frames, augmentation and template follow from it
};

struct Batch {
  torch::Tensor frames;  // [B, T, 3, S, S]
  torch::Tensor labels;  // [B] (single label) or [B, C] multi-hot
  std::vector<Sample> samples;
  std::vector<std::string> failures;  // "path: why" for records that could not be loaded
};

class VideoDataset {
 public:
  VideoDataset(std::vector<data::VideoRecord> records, const DataConfig& config, int64_t num_classes,
               int input_size);

  size_t size() const { return records_.size(); }
  const std::vector<data::VideoRecord>& records() const { return records_; }
  bool multi_label() const { return multi_label_; }

  // Batches per epoch (incomplete last batch dropped, as the reference's loader does).
  size_t batches_per_epoch() const;
  // The records of batch `index` in `epoch`: a seeded permutation per epoch. In a job of `shards`
  // ranks, shard `shard` is its share of the batch: consecutive records, so the ranks' shards
  // concatenated in rank order are the one-process batch.
  std::vector<size_t> batch_records(uint64_t seed, int epoch, size_t index, size_t shard = 0, size_t shards = 1) const;
  // Loads and augments (a shard of) a training batch; failed records are left out and reported.
  Batch load_train_batch(uint64_t seed, int epoch, size_t index, size_t shard = 0, size_t shards = 1) const;

  Sample load_train_sample(size_t record, uint64_t sample_seed) const;

 private:
  std::vector<data::VideoRecord> records_;
  DataConfig config_;
  int64_t num_classes_;
  int input_size_;
  bool multi_label_ = false;
};

}  // namespace actionclip
