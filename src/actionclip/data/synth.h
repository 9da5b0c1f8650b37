#pragma once
// A seeded synthetic video dataset: a coloured shape (square, circle, triangle) on a textured
// background performing one motion, labelled in natural language ("a red square moving left").
// It exists to check that training learns and to make benchmark clips.
//
// Motions come in time-reversed pairs: left/right, up/down, clockwise/anticlockwise,
// growing/shrinking. Video k of one member of a pair is video k of the other played backwards,
// frame for frame, so no single frame (nor the set of frames) tells the two classes apart; only
// temporal order does. A model that beats chance on a pair has learned to use time.
//
// Output under out_dir, in ActionCLIP's formats:
//   videos/<slug>/<slug>_<k>.<container>   slug e.g. "red_square_moving_left"
//   labels.csv                             "id,name" then "0,a red square moving left", ...
//   train.txt, val.txt                     "<path relative to out_dir> <label id>" per video
//   pairs.json                             {"pairs": [{"ids": [0, 1], "names": [...]}, ...]}
//
// Everything is a function of the seed: the same options give byte-identical files. Each
// video's content depends only on (seed, colour, shape, motion pair, k), so narrowing the class
// filters does not change the videos of the classes kept. Randomness is std::mt19937_64 mapped
// to numbers by hand, because the std distributions differ between standard libraries.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actionclip/video/frame.h"

namespace actionclip::data {

struct SynthOptions {
  std::string out_dir;
  int videos_per_class = 10;
  int frames = 16;  // at least 2, or time direction would be meaningless
  int width = 112, height = 112;  // even (yuv420p), at least 32
  double fps = 8;
  uint64_t seed = 0;
  std::string container = "avi";  // "avi" (MPEG-4 part 2), "mp4" (H.264), "webm" (VP9)
  // 1 (intra-only) keeps the decoded frames of time-reversed pairs identical too: with
  // inter-frame prediction the coding error would depend on frame order. Larger values give
  // realistic GOPs for benchmark clips.
  int keyframe_interval = 1;
  // Class filters; empty selects the defaults (colours red, green, blue; every shape; every
  // motion). Classes are all combinations, ordered colour, shape, motion in the canonical order
  // of synth_colors() / synth_shapes() / synth_motions(), whatever order the filters use.
  std::vector<std::string> colors;
  std::vector<std::string> shapes;
  std::vector<std::string> motions;
  // Per class, round(val_fraction * videos_per_class) videos go to val.txt: at least one when
  // the fraction is positive and a class has two or more videos, and never all of them. The two
  // classes of a pair hold out the same k, so no val clip is a training clip reversed.
  double val_fraction = 0.2;
};

struct SynthClass {
  int id = 0;
  std::string name;  // "a red square moving left"
  std::string slug;  // "red_square_moving_left"
  std::string color, shape, motion;
  int reversed_id = -1;  // the selected class whose videos are this one's reversed, or -1
};

struct SynthSummary {
  std::vector<SynthClass> classes;
  int videos = 0, train_videos = 0, val_videos = 0;
  std::string encoder;  // the FFmpeg encoder that wrote the videos
};

// Called after each video is written with (videos written, videos in total).
using SynthProgress = std::function<void(int done, int total)>;

// Every name the filters accept, in canonical order.
const std::vector<std::string>& synth_colors();
const std::vector<std::string>& synth_shapes();
const std::vector<std::string>& synth_motions();  // left, right, up, down, clockwise, ...

// The classes `options` selects. Throws actionclip::Error for invalid options or unknown names.
std::vector<SynthClass> synth_classes(const SynthOptions& options);

// The frames of video `index` of `cls`, exactly as generate_synth_dataset encodes them.
std::vector<video::Frame> render_synth_video(const SynthOptions& options, const SynthClass& cls, int index);

// Writes the dataset described above. Existing files at the same paths are overwritten.
SynthSummary generate_synth_dataset(const SynthOptions& options, const SynthProgress& progress = {});

}  // namespace actionclip::data
