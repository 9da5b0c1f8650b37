#include "actionclip/video/sampling.h"

#include <algorithm>
#include <stdexcept>

#include "actionclip/util/error.h"
#include "actionclip/util/random.h"

namespace actionclip::video {
namespace {

void check_arguments(int64_t num_frames, int num_segments) {
  if (num_frames <= 0)
    throw std::invalid_argument("frame sampling: a video needs at least one frame, got " +
                                std::to_string(num_frames));
  if (num_segments <= 0)
    throw std::invalid_argument("frame sampling: num_segments must be positive, got " +
                                std::to_string(num_segments));
}

}  // namespace

Sampling sampling_from_name(const std::string& name) {
  if (name == "actionclip") return Sampling::kActionclip;
  if (name == "mmaction") return Sampling::kMmaction;
  throw Error("unknown frame sampling '" + name + "' (actionclip or mmaction)");
}

std::string sampling_name(Sampling sampling) { return sampling == Sampling::kMmaction ? "mmaction" : "actionclip"; }

std::vector<int64_t> actionclip_test_indices(int64_t num_frames, int num_segments) {
  check_arguments(num_frames, num_segments);
  if (num_segments == 1) return {num_frames / 2};
  std::vector<int64_t> indices;
  indices.reserve(num_segments);
  if (num_frames <= num_segments) {
    for (int64_t i = 0; i < num_segments; ++i) indices.push_back(i * num_frames / num_segments);
    return indices;
  }
  // Python's true division of exact integers is the correctly rounded quotient, which is what
  // dividing the (exactly representable) doubles gives; the sum is taken in the same order.
  const double offset = (static_cast<double>(num_frames) / num_segments - 1) / 2.0;
  for (int64_t i = 0; i < num_segments; ++i)
    indices.push_back(static_cast<int64_t>(static_cast<double>(i * num_frames) / num_segments + offset));
  return indices;
}

std::vector<int64_t> mmaction_test_indices(int64_t num_frames, int num_segments) {
  return multi_clip_indices(num_frames, num_segments, 1).front();
}

std::vector<int64_t> test_indices(int64_t num_frames, int num_segments, Sampling sampling) {
  return sampling == Sampling::kMmaction ? mmaction_test_indices(num_frames, num_segments)
                                         : actionclip_test_indices(num_frames, num_segments);
}

std::vector<std::vector<int64_t>> multi_clip_indices(int64_t num_frames, int num_segments, int num_clips) {
  check_arguments(num_frames, num_segments);
  if (num_clips <= 0)
    throw std::invalid_argument("frame sampling: num_clips must be positive, got " + std::to_string(num_clips));
  // Float segment length, as TSN and mmaction2 use: when num_frames < num_segments the truncation
  // below repeats frames instead of running past the end.
  const double seg = static_cast<double>(num_frames) / num_segments;
  std::vector<std::vector<int64_t>> clips(num_clips);
  for (int k = 0; k < num_clips; ++k) {
    const double offset = seg * (2 * k + 1) / (2.0 * num_clips);
    clips[k].reserve(num_segments);
    for (int i = 0; i < num_segments; ++i) clips[k].push_back(static_cast<int64_t>(offset + seg * i));
  }
  return clips;
}

std::vector<int64_t> train_indices(int64_t num_frames, int num_segments, std::mt19937_64& rng) {
  check_arguments(num_frames, num_segments);
  std::vector<int64_t> indices;
  indices.reserve(num_segments);
  if (num_frames <= num_segments) {
    for (int64_t i = 0; i < num_frames; ++i) indices.push_back(i);
    while (static_cast<int64_t>(indices.size()) < num_segments)
      indices.push_back(static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(num_frames))));
    std::sort(indices.begin(), indices.end());
    return indices;
  }
  for (int64_t i = 0; i < num_segments; ++i) {
    const int64_t begin = i * num_frames / num_segments;
    const int64_t end = (i + 1) * num_frames / num_segments;
    indices.push_back(begin + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(end - begin))));
  }
  return indices;
}

}  // namespace actionclip::video
