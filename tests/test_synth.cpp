// The synthetic dataset generator and the video writer under it: class vocabulary, output
// layout, seeding, and that time-reversed classes really are the same frames reversed, checked
// on decoded video.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "actionclip/data/synth.h"
#include "actionclip/util/error.h"
#include "actionclip/video/video_reader.h"
#include "actionclip/video/video_writer.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using actionclip::data::generate_synth_dataset;
using actionclip::data::render_synth_video;
using actionclip::data::synth_classes;
using actionclip::data::SynthClass;
using actionclip::data::SynthOptions;
using actionclip::video::Frame;
using actionclip::video::VideoCodec;
using actionclip::video::VideoReader;
using actionclip::video::VideoWriter;

using actionclip::testing::TempDir;

// Two colours of one shape, a reversible pair plus an unpaired motion: classes
// 0 red square left, 1 red square right, 2 red square clockwise, then the same for the circle.
SynthOptions tiny_options(const fs::path& out, uint64_t seed = 7) {
  SynthOptions o;
  o.out_dir = out.string();
  o.videos_per_class = 3;
  o.frames = 8;
  o.width = 64;
  o.height = 48;
  o.seed = seed;
  o.colors = {"red"};
  o.shapes = {"square", "circle"};
  o.motions = {"clockwise", "right", "left"};  // order does not matter
  o.val_fraction = 0.34;
  return o;
}

// Mean absolute rgb error allowed through encode and decode. Most of it is not the codec:
// VideoReader converts yuv to rgb as PyAV does, with swscale's fast path, which alone is about
// 2 levels off per channel (the writer's accurate conversion round-trips flat colours within 1).
constexpr double kRoundTripTolerance = 4.0;

std::string read_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(line);
  return lines;
}

double mean_abs_diff(const Frame& a, const Frame& b) {
  EXPECT_EQ(a.rgb.size(), b.rgb.size());
  double sum = 0;
  for (size_t i = 0; i < std::min(a.rgb.size(), b.rgb.size()); ++i) sum += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return sum / static_cast<double>(a.rgb.size());
}

std::vector<Frame> decode_all(const fs::path& path) {
  VideoReader reader(path.string());
  std::vector<int64_t> indices(static_cast<size_t>(reader.frame_count()));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<int64_t>(i);
  return reader.read_frames(indices);
}

// A moving square over a gradient: smooth enough to encode well, changing enough to tell frames apart.
std::vector<Frame> test_pattern(int width, int height, int count) {
  std::vector<Frame> frames;
  for (int t = 0; t < count; ++t) {
    Frame f{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        uint8_t* p = &f.rgb[(static_cast<size_t>(y) * width + x) * 3];
        const bool square = x >= 4 + 4 * t && x < 20 + 4 * t && y >= 10 && y < 26;
        p[0] = square ? 230 : static_cast<uint8_t>(60 + x);
        p[1] = square ? 40 : static_cast<uint8_t>(80 + y);
        p[2] = square ? 40 : 120;
      }
    frames.push_back(std::move(f));
  }
  return frames;
}

TEST(SynthClasses, FollowFiltersInCanonicalOrder) {
  SynthOptions o;
  o.colors = {"blue", "red"};
  o.shapes = {"square"};
  o.motions = {"right", "left", "growing"};
  const std::vector<SynthClass> classes = synth_classes(o);
  ASSERT_EQ(classes.size(), 6u);
  const std::vector<std::string> names = {"a red square moving left",  "a red square moving right",
                                          "a red square growing",      "a blue square moving left",
                                          "a blue square moving right", "a blue square growing"};
  for (size_t i = 0; i < classes.size(); ++i) {
    EXPECT_EQ(classes[i].id, static_cast<int>(i));
    EXPECT_EQ(classes[i].name, names[i]);
  }
  EXPECT_EQ(classes[0].slug, "red_square_moving_left");
  EXPECT_EQ(classes[0].reversed_id, 1);
  EXPECT_EQ(classes[1].reversed_id, 0);
  EXPECT_EQ(classes[2].reversed_id, -1);  // shrinking was not selected
  EXPECT_EQ(classes[3].reversed_id, 4);

  o.colors = {"orange"};
  o.shapes = {"circle"};
  o.motions = {"anticlockwise"};
  EXPECT_EQ(synth_classes(o).at(0).name, "an orange circle rotating anticlockwise");
}

TEST(SynthClasses, DefaultIsEveryPairedCombination) {
  const std::vector<SynthClass> classes = synth_classes(SynthOptions{});
  EXPECT_EQ(classes.size(), 3u * 3u * 8u);
  for (const SynthClass& cls : classes) {
    ASSERT_GE(cls.reversed_id, 0) << cls.name;
    EXPECT_EQ(classes[cls.reversed_id].reversed_id, cls.id);
    EXPECT_EQ(classes[cls.reversed_id].color, cls.color);
    EXPECT_EQ(classes[cls.reversed_id].shape, cls.shape);
  }
}

TEST(SynthClasses, RejectsUnknownNamesAndBadOptions) {
  auto with = [](auto change) {
    SynthOptions o;
    change(o);
    return o;
  };
  EXPECT_THROW(synth_classes(with([](SynthOptions& o) { o.motions = {"sideways"}; })), actionclip::Error);
  EXPECT_THROW(synth_classes(with([](SynthOptions& o) { o.colors = {"mauve"}; })), actionclip::Error);
  EXPECT_THROW(synth_classes(with([](SynthOptions& o) { o.shapes = {"hexagon"}; })), actionclip::Error);
  EXPECT_THROW(synth_classes(with([](SynthOptions& o) { o.width = 111; })), actionclip::Error);
  EXPECT_THROW(synth_classes(with([](SynthOptions& o) { o.frames = 1; })), actionclip::Error);
  EXPECT_THROW(synth_classes(with([](SynthOptions& o) { o.val_fraction = 1; })), actionclip::Error);
  EXPECT_THROW(synth_classes(with([](SynthOptions& o) { o.container = "mov"; })), actionclip::Error);
}

TEST(SynthRender, SeededAndReversedPairsShareFrames) {
  const SynthOptions o = tiny_options("unused");
  const std::vector<SynthClass> classes = synth_classes(o);
  const SynthClass& left = classes[0];
  const SynthClass& right = classes[1];
  ASSERT_EQ(left.motion, "left");
  ASSERT_EQ(right.motion, "right");

  const std::vector<Frame> l = render_synth_video(o, left, 1);
  std::vector<Frame> r = render_synth_video(o, right, 1);
  ASSERT_EQ(l.size(), 8u);
  EXPECT_GT(mean_abs_diff(l.front(), l.back()), 1.0) << "the shape should visibly move";
  std::reverse(r.begin(), r.end());
  for (size_t i = 0; i < l.size(); ++i) EXPECT_EQ(l[i].rgb, r[i].rgb) << "frame " << i;

  EXPECT_EQ(render_synth_video(o, left, 1)[3].rgb, l[3].rgb);
  EXPECT_NE(render_synth_video(o, left, 2)[3].rgb, l[3].rgb);
  EXPECT_NE(render_synth_video(tiny_options("unused", 8), left, 1)[3].rgb, l[3].rgb);

  // Narrowing the filters keeps the content of the classes that remain.
  SynthOptions narrow = o;
  narrow.motions = {"left"};
  narrow.shapes = {"square"};
  EXPECT_EQ(render_synth_video(narrow, synth_classes(narrow).at(0), 1)[3].rgb, l[3].rgb);
}

TEST(SynthDataset, WritesListsLabelsAndPairs) {
  TempDir dir;
  const SynthOptions o = tiny_options(dir.path());
  std::vector<int> progress;
  const auto summary = generate_synth_dataset(o, [&](int done, int total) {
    EXPECT_EQ(total, 18);
    progress.push_back(done);
  });
  EXPECT_EQ(summary.classes.size(), 6u);
  EXPECT_EQ(summary.videos, 18);
  EXPECT_EQ(summary.val_videos, 6);  // round(0.34 * 3) = 1 per class
  EXPECT_EQ(summary.train_videos, 12);
  EXPECT_EQ(summary.encoder, "mpeg4");
  ASSERT_EQ(progress.size(), 18u);
  EXPECT_EQ(progress.back(), 18);

  const auto labels = read_lines(dir.path() / "labels.csv");
  ASSERT_EQ(labels.size(), 7u);
  EXPECT_EQ(labels[0], "id,name");
  EXPECT_EQ(labels[1], "0,a red square moving left");
  EXPECT_EQ(labels[6], "5,a red circle rotating clockwise");

  // label -> k of each video, per list
  std::map<std::string, std::map<int, std::vector<int>>> lists;
  for (const std::string list : {"train.txt", "val.txt"}) {
    for (const std::string& line : read_lines(dir.path() / list)) {
      std::istringstream fields(line);
      std::string path;
      int label = -1;
      ASSERT_TRUE(fields >> path >> label) << line;
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 6);
      const std::string& slug = summary.classes[label].slug;
      EXPECT_EQ(path.rfind("videos/" + slug + "/" + slug + "_", 0), 0u) << line;
      EXPECT_EQ(path.substr(path.size() - 4), ".avi");
      EXPECT_TRUE(fs::is_regular_file(dir.path() / path)) << path;
      const size_t underscore = path.rfind('_');
      lists[list][label].push_back(std::stoi(path.substr(underscore + 1)));
    }
  }
  for (int label = 0; label < 6; ++label) {
    EXPECT_EQ(lists["train.txt"][label].size(), 2u);
    EXPECT_EQ(lists["val.txt"][label].size(), 1u);
  }
  EXPECT_EQ(lists["val.txt"][0], lists["val.txt"][1]) << "a pair holds out the same clip";
  EXPECT_EQ(lists["val.txt"][3], lists["val.txt"][4]);

  const auto pairs = nlohmann::json::parse(read_bytes(dir.path() / "pairs.json"));
  ASSERT_EQ(pairs.at("pairs").size(), 2u);
  EXPECT_EQ(pairs["pairs"][0]["ids"], nlohmann::json({0, 1}));
  EXPECT_EQ(pairs["pairs"][0]["names"][1], "a red square moving right");
  EXPECT_EQ(pairs["pairs"][1]["ids"], nlohmann::json({3, 4}));
}

TEST(SynthDataset, SameSeedSameBytes) {
  TempDir a, b, c;
  generate_synth_dataset(tiny_options(a.path(), 7));
  generate_synth_dataset(tiny_options(b.path(), 7));
  generate_synth_dataset(tiny_options(c.path(), 8));
  int videos = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a.path())) {
    if (!entry.is_regular_file()) continue;
    const fs::path relative = fs::relative(entry.path(), a.path());
    const std::string bytes = read_bytes(entry.path());
    EXPECT_EQ(bytes, read_bytes(b.path() / relative)) << relative;
    if (relative.extension() == ".avi") {
      ++videos;
      EXPECT_NE(bytes, read_bytes(c.path() / relative)) << relative << " ignores the seed";
    }
  }
  EXPECT_EQ(videos, 18);
}

TEST(SynthDataset, ReversedPairsDecodeToReversedFrames) {
  TempDir dir;
  SynthOptions o = tiny_options(dir.path());
  o.motions = {"left", "right"};
  o.shapes = {"triangle"};
  o.videos_per_class = 1;
  o.val_fraction = 0;
  const auto summary = generate_synth_dataset(o);
  const std::vector<Frame> rendered = render_synth_video(o, summary.classes[0], 0);
  const std::vector<Frame> left = decode_all(dir.path() / "videos/red_triangle_moving_left/red_triangle_moving_left_0.avi");
  const std::vector<Frame> right =
      decode_all(dir.path() / "videos/red_triangle_moving_right/red_triangle_moving_right_0.avi");
  ASSERT_EQ(left.size(), 8u);
  ASSERT_EQ(right.size(), 8u);
  double same_order = 0;
  for (size_t i = 0; i < left.size(); ++i) {
    ASSERT_EQ(left[i].width, 64);
    ASSERT_EQ(left[i].height, 48);
    EXPECT_LT(mean_abs_diff(left[i], rendered[i]), kRoundTripTolerance) << "frame " << i;
    // Intra-only coding makes each decoded frame a function of its own picture alone, so the
    // codec loses the same detail from both videos and no tolerance is needed.
    EXPECT_EQ(left[i].rgb, right[left.size() - 1 - i].rgb) << "frame " << i;
    same_order += mean_abs_diff(left[i], right[i]);
  }
  EXPECT_GT(same_order / left.size(), 1.0) << "the pair should differ when aligned in time";
}

TEST(VideoWriter, RoundTripsEveryAvailableEncoderDeterministically) {
  TempDir dir;
  const std::vector<Frame> frames = test_pattern(64, 48, 6);
  struct Case {
    const char* file;
    VideoCodec codec;
    const char* encoder;
  };
  const Case cases[] = {{"a.avi", VideoCodec::Auto, "mpeg4"},
                        {"h.mp4", VideoCodec::H264, "libx264"},
                        {"m.mp4", VideoCodec::Mpeg4, "mpeg4"},
                        {"v.webm", VideoCodec::Vp9, "libvpx-vp9"}};
  for (const Case& c : cases) {
    if (!actionclip::video::video_encoder_available(c.codec)) {
      std::cout << "[   NOTE   ] " << c.encoder << " not available, skipping " << c.file << "\n";
      continue;
    }
    SCOPED_TRACE(c.file);
    std::string first_bytes;
    for (int run = 0; run < 2; ++run) {
      const fs::path path = dir.path() / (std::to_string(run) + c.file);
      VideoWriter writer(path.string(), 64, 48, 8, {c.codec, 0});
      EXPECT_EQ(writer.encoder_name(), c.encoder);
      for (const Frame& f : frames) writer.write(f);
      EXPECT_EQ(writer.frames_written(), 6);
      writer.close();
      EXPECT_FALSE(writer.is_open());
      if (run == 0) first_bytes = read_bytes(path);
      else EXPECT_EQ(read_bytes(path), first_bytes) << "identical frames should give identical files";
    }
    const std::vector<Frame> decoded = decode_all(dir.path() / (std::string("0") + c.file));
    ASSERT_EQ(decoded.size(), frames.size());
    for (size_t i = 0; i < frames.size(); ++i) EXPECT_LT(mean_abs_diff(decoded[i], frames[i]), kRoundTripTolerance) << i;
  }
}

TEST(VideoWriter, RateFactorTradesSizeForFidelity) {
  TempDir dir;
  const std::vector<Frame> frames = test_pattern(64, 48, 6);
  for (auto [codec, file] : {std::pair{VideoCodec::H264, "h.mp4"}, std::pair{VideoCodec::Vp9, "v.webm"}}) {
    if (!actionclip::video::video_encoder_available(codec)) continue;
    SCOPED_TRACE(file);
    std::map<int, std::pair<size_t, double>> size_and_error;
    for (int crf : {15, 40}) {
      const fs::path path = dir.path() / (std::to_string(crf) + file);
      VideoWriter writer(path.string(), 64, 48, 8, {codec, 0, crf});
      for (const Frame& f : frames) writer.write(f);
      writer.close();
      const std::vector<Frame> decoded = decode_all(path);
      ASSERT_EQ(decoded.size(), frames.size());
      double error = 0;
      for (size_t i = 0; i < frames.size(); ++i) error += mean_abs_diff(decoded[i], frames[i]);
      size_and_error[crf] = {fs::file_size(path), error};
    }
    EXPECT_LT(size_and_error[40].first, size_and_error[15].first);
    EXPECT_GT(size_and_error[40].second, size_and_error[15].second);
  }
}

TEST(VideoWriter, RejectsBadPathsSizesAndFrames) {
  TempDir dir;
  const fs::path not_a_dir = dir.path() / "file";
  std::ofstream(not_a_dir) << "x";
  const std::string unwritable = (not_a_dir / "out.avi").string();
  try {
    VideoWriter writer(unwritable, 64, 48, 8);
    FAIL() << "opened " << unwritable;
  } catch (const actionclip::FileError& e) {
    EXPECT_EQ(e.path(), unwritable);
  }
  const std::string ok = (dir.path() / "out.avi").string();
  EXPECT_THROW(VideoWriter(ok, 63, 48, 8), actionclip::FileError);
  EXPECT_THROW(VideoWriter(ok, 64, 47, 8), actionclip::FileError);
  EXPECT_THROW(VideoWriter(ok, 64, 48, 0), actionclip::FileError);
  EXPECT_THROW(VideoWriter((dir.path() / "out.mov").string(), 64, 48, 8), actionclip::FileError);
  EXPECT_THROW(VideoWriter((dir.path() / "out.webm").string(), 64, 48, 8, {VideoCodec::Mpeg4, 0}),
               actionclip::FileError)
      << "WebM cannot carry MPEG-4 part 2";

  VideoWriter writer(ok, 64, 48, 8);
  EXPECT_THROW(writer.write(test_pattern(32, 48, 1)[0]), actionclip::FileError);
  Frame truncated = test_pattern(64, 48, 1)[0];
  truncated.rgb.pop_back();
  EXPECT_THROW(writer.write(truncated), actionclip::FileError);
  writer.close();
  EXPECT_THROW(writer.write(test_pattern(64, 48, 1)[0]), actionclip::Error);
}

}  // namespace
