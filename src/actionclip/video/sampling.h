#pragma once
// Which frames make a clip: TSN segment sampling (Wang et al. 2016). The video is cut into N
// segments and one frame is taken from each. Indices are 0-based positions in the video; a
// rawframe folder adds the number of its first file (the reference's index_bias) when it opens
// the files.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace actionclip::video {

// Test-time formula. ActionCLIP's reference checkpoints were validated with `kActionclip`;
// `kMmaction` is mmaction2's SampleFrames (what actionclip used before): for 100 frames and 8
// segments the first reads 5,18,30,43,55,68,80,93, the second 6,18,31,43,56,68,81,93.
enum class Sampling { kActionclip, kMmaction };

Sampling sampling_from_name(const std::string& name);  // "actionclip" or "mmaction"
std::string sampling_name(Sampling sampling);

// The reference's Action_DATASETS._get_val_indices (datasets/datasets.py): one segment takes
// frame n // 2; videos of at most N frames take i * n // N; longer ones
// int(i * n / N + (n / N - 1) / 2) in double precision, as Python computes it.
std::vector<int64_t> actionclip_test_indices(int64_t num_frames, int num_segments);

// mmaction2's centre of each segment, int(seg / 2 + seg * i) with seg = n / N; short videos
// repeat frames.
std::vector<int64_t> mmaction_test_indices(int64_t num_frames, int num_segments);

std::vector<int64_t> test_indices(int64_t num_frames, int num_segments, Sampling sampling);

// Training, the reference's _sample_indices: one frame uniformly in [i * n // N, (i+1) * n // N)
// per segment; videos of at most N frames take every frame once plus N - n frames drawn
// uniformly from all, sorted. Draws go through util/random.h, so a seed gives the same frames
// under every standard library.
std::vector<int64_t> train_indices(int64_t num_frames, int num_segments, std::mt19937_64& rng);

// Multi-view test protocol (the reference has none): num_clips views of num_segments frames;
// view k takes the frame at offset (k + 0.5) / num_clips of every segment (seg = n / N), so the
// views tile each segment evenly. One clip is mmaction_test_indices.
std::vector<std::vector<int64_t>> multi_clip_indices(int64_t num_frames, int num_segments, int num_clips);

}  // namespace actionclip::video
