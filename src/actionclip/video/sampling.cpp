#include "actionclip/video/sampling.h"

#include <algorithm>
#include <stdexcept>
#include <string>

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

std::vector<int64_t> tsn_center_indices(int64_t num_frames, int num_segments) {
  return multi_clip_indices(num_frames, num_segments, 1).front();
}

std::vector<int64_t> tsn_random_indices(int64_t num_frames, int num_segments, std::mt19937_64& rng) {
  check_arguments(num_frames, num_segments);
  std::vector<int64_t> indices;
  indices.reserve(num_segments);
  if (num_frames <= num_segments) {
    // Every frame once, the remainder drawn at random, then sorted to keep temporal order.
    for (int64_t i = 0; i < num_frames; ++i) indices.push_back(i);
    std::uniform_int_distribution<int64_t> any(0, num_frames - 1);
    while (static_cast<int64_t>(indices.size()) < num_segments) indices.push_back(any(rng));
    std::sort(indices.begin(), indices.end());
    return indices;
  }
  // Integer segment boundaries i * n // N, so segments differ in length by at most one frame.
  for (int i = 0; i < num_segments; ++i) {
    const int64_t begin = i * num_frames / num_segments;
    const int64_t end = (i + 1) * num_frames / num_segments;
    indices.push_back(std::uniform_int_distribution<int64_t>(begin, end - 1)(rng));
  }
  return indices;
}

}  // namespace actionclip::video
