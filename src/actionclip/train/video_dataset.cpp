#include "actionclip/train/video_dataset.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "actionclip/util/error.h"
#include "actionclip/video/frame_source.h"
#include "actionclip/video/sampling.h"

namespace actionclip {
namespace fs = std::filesystem;

namespace {

// A list whose lines read "<path> <int> <int>..." with a folder as path is a rawframe list.
std::string detect_format(const std::string& path) {
  if (fs::is_directory(path)) return "hmdb51";
  const auto ext = fs::path(path).extension().string();
  if (ext == ".csv") return "kinetics";
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> parts;
    for (std::string f; fields >> f;) parts.push_back(f);
    if (parts.empty()) continue;
    if (parts.size() == 1) return "ucf101";  // testlist without ids
    const bool has_video_extension = fs::path(parts[0]).has_extension() &&
                                     fs::path(parts[0]).extension().string().size() <= 5;
    if (parts.size() >= 3 && !has_video_extension) return "rawframes";
    return "video";
  }
  return "video";
}

}  // namespace

data::AnnotationReport read_annotations(const std::string& path, const DataConfig& config,
                                        const std::vector<std::string>& class_names, bool train) {
  data::AnnotationOptions options;
  options.data_root = config.root.empty() ? fs::path(path).parent_path().string() : config.root;
  options.num_classes = static_cast<int64_t>(class_names.size());
  const auto format = config.list_format == "auto" ? detect_format(path) : config.list_format;
  if (format == "video") return data::read_video_list(path, options);
  if (format == "rawframes") return data::read_rawframe_list(path, options);
  if (format == "kinetics") return data::read_kinetics_csv(path, class_names, options);
  if (format == "ucf101") return data::read_ucf101_split(path, class_names, options);
  if (format == "hmdb51")
    return data::read_hmdb51_split(path, config.split, train ? data::HmdbSubset::kTrain : data::HmdbSubset::kTest,
                                   class_names, options);
  throw Error("unknown data.list_format '" + format + "' (auto, video, rawframes, kinetics, ucf101, hmdb51)");
}

VideoDataset::VideoDataset(std::vector<data::VideoRecord> records, const DataConfig& config, int64_t num_classes,
                           int input_size)
    : records_(std::move(records)), config_(config), num_classes_(num_classes), input_size_(input_size) {
  config_.augment.input_size = input_size;
  for (const auto& r : records_) multi_label_ = multi_label_ || r.labels.size() > 1;
}

size_t VideoDataset::batches_per_epoch() const { return records_.size() / static_cast<size_t>(config_.batch_size); }

std::vector<size_t> VideoDataset::batch_records(uint64_t seed, int epoch, size_t index, size_t shard,
                                                size_t shards) const {
  std::vector<size_t> order(records_.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(derive_seed(seed, 0x6f72646572ull, static_cast<uint64_t>(epoch)));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);  // Fisher-Yates
  const auto share = static_cast<size_t>(config_.batch_size) / shards;
  const auto begin = index * static_cast<size_t>(config_.batch_size) + shard * share;
  return {order.begin() + static_cast<std::ptrdiff_t>(begin), order.begin() + static_cast<std::ptrdiff_t>(begin + share)};
}

Sample VideoDataset::load_train_sample(size_t record_index, uint64_t sample_seed) const {
  const auto& record = records_[record_index];
  auto source = video::open_frame_source(record.path, config_.image_tmpl, config_.index_bias);
  const auto count = record.num_frames > 0 ? record.num_frames : source->frame_count();
  std::mt19937_64 rng(sample_seed);
  const auto indices = config_.random_shift ? video::train_indices(count, config_.num_segments, rng)
                                            : video::test_indices(count, config_.num_segments, config_.sampling);
  const auto frames = source->read_frames(indices);
  const auto& first = frames.front();
  auto clip = torch::empty({static_cast<int64_t>(frames.size()), first.height, first.width, 3}, torch::kUInt8);
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].width != first.width || frames[i].height != first.height)
      throw FileError(record.path, "frames change size within the video");
    std::memcpy(clip[static_cast<int64_t>(i)].data_ptr(), frames[i].rgb.data(), frames[i].rgb.size());
  }
  Sample sample;
  sample.frames = data::augment_train(clip.permute({0, 3, 1, 2}), config_.augment, rng);
  sample.labels = record.labels;
  sample.record = record_index;
  sample.seed = sample_seed;
  return sample;
}

Batch VideoDataset::load_train_batch(uint64_t seed, int epoch, size_t index, size_t shard, size_t shards) const {
  Batch batch;
  for (const auto record : batch_records(seed, epoch, index, shard, shards)) {
    try {
      batch.samples.push_back(
          load_train_sample(record, derive_seed(seed, static_cast<uint64_t>(epoch) + 1, record + 1)));
    } catch (const FileError& e) {
      batch.failures.push_back(e.what());
    } catch (const std::exception& e) {
      batch.failures.push_back(records_[record].path + ": " + e.what());
    }
  }
  if (batch.samples.empty()) return batch;
  std::vector<torch::Tensor> frames;
  for (const auto& s : batch.samples) frames.push_back(s.frames);
  batch.frames = torch::stack(frames);
  const auto size = static_cast<int64_t>(batch.samples.size());
  if (multi_label_) {
    batch.labels = torch::zeros({size, num_classes_});
    for (int64_t i = 0; i < size; ++i)
      for (auto label : batch.samples[static_cast<size_t>(i)].labels) batch.labels[i][label] = 1;
  } else {
    batch.labels = torch::empty({size}, torch::kLong);
    for (int64_t i = 0; i < size; ++i) batch.labels[i] = batch.samples[static_cast<size_t>(i)].labels.front();
  }
  return batch;
}

}  // namespace actionclip
