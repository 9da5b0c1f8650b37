#pragma once
// TSN segment sampling (Wang et al. 2016) as ActionCLIP's data loader does it: the video is
// cut into N equal segments and one frame is taken from each. Indices are 0-based.
#include <cstdint>
#include <random>
#include <vector>

namespace actionclip::video {

// Test-time sampling: the centre frame of each segment, int(seg / 2 + seg * i) with
// seg = num_frames / num_segments. Short videos (fewer frames than segments) repeat frames.
std::vector<int64_t> tsn_center_indices(int64_t num_frames, int num_segments);

// Training sampling: a uniformly random frame within each segment. Videos with fewer frames
// than segments are covered in order with repeats, as ActionCLIP does for them.
std::vector<int64_t> tsn_random_indices(int64_t num_frames, int num_segments, std::mt19937_64& rng);

// Multi-view test protocol: num_clips views of num_segments frames each; view k takes the frame
// at offset (k + 0.5) / num_clips of every segment, so the views tile each segment evenly and a
// single view equals tsn_center_indices.
std::vector<std::vector<int64_t>> multi_clip_indices(int64_t num_frames, int num_segments, int num_clips);

}  // namespace actionclip::video
