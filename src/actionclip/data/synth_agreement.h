#pragma once
// Inputs for measuring whether two forms of one model (float32 and int8, say) pick the same
// label: many near-neighbour labels in the synthetic world's words, and synthetic clips ready
// for the encoder, rendered in memory (no video files).
#include <torch/torch.h>

#include <string>
#include <vector>

#include "actionclip/data/synth.h"

namespace actionclip::data {

// "a red square moving left" for every colour, shape and motion given, then two-colour variants
// ("a red and blue square moving left", the second colour from all synth_colors()) up to `count`.
std::vector<std::string> synth_label_set(const std::vector<std::string>& colors, const std::vector<std::string>& shapes,
                                         const std::vector<std::string>& motions, size_t count);

// `count` clips of the classes `options` selects, in turn (clip i is video i / classes of class
// i % classes), each sampled to `frames` frames by ActionCLIP's test-time formula and
// preprocessed by its validation transform at `input_size`: [count, frames, 3, size, size].
torch::Tensor synth_clip_batch(const SynthOptions& options, int count, int frames, int input_size);

}  // namespace actionclip::data
