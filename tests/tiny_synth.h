#pragma once
// The smallest synth dataset the distributed jobs run on: red and blue squares, two motions,
// 2 videos per class of 8 frames at 32x32, everything in train.txt.
#include <string>
#include <vector>

#include "actionclip/data/synth.h"

namespace actionclip::testing {

inline void write_tiny_synth(const std::string& out_dir, std::vector<std::string> motions, uint64_t seed) {
  data::SynthOptions synth;
  synth.out_dir = out_dir;
  synth.videos_per_class = 2;
  synth.frames = 8;
  synth.width = synth.height = 32;
  synth.colors = {"red", "blue"};
  synth.shapes = {"square"};
  synth.motions = std::move(motions);
  synth.val_fraction = 0;
  synth.seed = seed;
  data::generate_synth_dataset(synth);
}

}  // namespace actionclip::testing
