// Decoding, sampling and preprocessing parity with the PyAV / PIL / torchvision reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>

#include "actionclip/io/safetensors.h"
#include "actionclip/util/error.h"
#include "actionclip/video/frame_source.h"
#include "actionclip/video/image_reader.h"
#include "actionclip/video/sampling.h"
#include "actionclip/video/transforms.h"
#include "actionclip/video/video_reader.h"
#include "actionclip/inference/video_views.h"
#include "actionclip/train/video_dataset.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using actionclip::FileError;
using namespace actionclip::video;

namespace {

const char* const kVideos[] = {"clip_h264.mp4", "clip_xvid.avi", "clip_vp9.webm"};

torch::Tensor as_tensor(const std::vector<Frame>& frames) {
  auto t = torch::empty({static_cast<int64_t>(frames.size()), frames[0].height, frames[0].width, 3}, torch::kUInt8);
  for (size_t i = 0; i < frames.size(); ++i)
    std::copy(frames[i].rgb.begin(), frames[i].rgb.end(), t[i].data_ptr<uint8_t>());
  return t;
}

Frame from_tensor(const torch::Tensor& hwc) {
  auto c = hwc.contiguous();
  Frame f{static_cast<int>(c.size(1)), static_cast<int>(c.size(0)), {}};
  f.rgb.assign(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
  return f;
}

const actionclip::io::TensorMap& expected_frames() {
  static const auto map =
      actionclip::io::load_safetensors(actionclip::testing::fixture("video/expected_frames.safetensors"));
  return map;
}

// Each test's scratch folder.
class TempDir : public actionclip::testing::TempDir {
 public:
  TempDir() : actionclip::testing::TempDir("actionclip_video_") {}
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le(uint32_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A 24-bit BMP: lossless, so a read back must return the pixels exactly.
void write_bmp(const std::string& path, const Frame& f) {
  const int row = (f.width * 3 + 3) / 4 * 4;
  std::string data;
  for (int y = f.height - 1; y >= 0; --y) {  // bottom-up rows, BGR
    for (int x = 0; x < f.width; ++x)
      for (int c = 2; c >= 0; --c) data.push_back(static_cast<char>(f.rgb[(y * f.width + x) * 3 + c]));
    data.append(row - f.width * 3, '\0');
  }
  const std::string header = "BM" + le(54 + data.size(), 4) + le(0, 4) + le(54, 4) + le(40, 4) + le(f.width, 4) +
                             le(f.height, 4) + le(1, 2) + le(24, 2) + le(0, 4) + le(data.size(), 4) +
                             le(2835, 4) + le(2835, 4) + le(0, 4) + le(0, 4);
  write_bytes(path, header + data);
}

// One tenth of a second of 8 kHz mono silence: a valid audio-only file.
void write_wav(const std::string& path) {
  const std::string samples(1600, '\0');
  write_bytes(path, "RIFF" + le(36 + samples.size(), 4) + "WAVEfmt " + le(16, 4) + le(1, 2) + le(1, 2) +
                        le(8000, 4) + le(16000, 4) + le(2, 2) + le(16, 2) + "data" + le(samples.size(), 4) + samples);
}

Frame pattern(int w, int h, int seed) {
  Frame f{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (size_t i = 0; i < f.rgb.size(); ++i) f.rgb[i] = static_cast<uint8_t>((i * 7 + seed * 31) % 251);
  return f;
}

bool have_ffmpeg_cli() { return std::system("ffmpeg -hide_banner -version > /dev/null 2>&1") == 0; }

void ffmpeg(const std::string& args) {
  const std::string cmd = "ffmpeg -hide_banner -loglevel error -y " + args;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// Encodes FFmpeg's test pattern (`size`, `rate`, `frames`) with `codec_args` into `dir`/`name`.
std::string test_pattern_clip(const TempDir& dir, const std::string& name, const std::string& size, int rate,
                              int frames, const std::string& codec_args) {
  const std::string path = dir.path(name);
  ffmpeg("-f lavfi -i testsrc=size=" + size + ":rate=" + std::to_string(rate) + " -frames:v " +
         std::to_string(frames) + " " + codec_args + " " + path);
  return path;
}

void expect_file_error(const std::string& path, const std::function<void()>& action) {
  try {
    action();
    ADD_FAILURE() << "no FileError for " << path;
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

// Indices 0 .. n-1: every frame, as a full decode yields them.
std::vector<int64_t> first_frames(int64_t n) {
  std::vector<int64_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), int64_t{0});
  return indices;
}

}  // namespace

class DecodeParity : public ::testing::TestWithParam<const char*> {};

TEST_P(DecodeParity, CountIndicesAndFramesMatchPyAV) {
  REQUIRE_FIXTURES();
  const std::string name = GetParam();
  const auto info = nlohmann::json::parse(std::ifstream(actionclip::testing::fixture("video/videos.json")))[name];
  VideoReader reader(actionclip::testing::fixture("video/" + name));
  EXPECT_EQ(reader.codec_name(), info["codec"].get<std::string>());
  EXPECT_EQ(reader.width(), info["width"].get<int>());
  EXPECT_EQ(reader.height(), info["height"].get<int>());
  EXPECT_GT(reader.fps(), 0.0);
  EXPECT_GT(reader.duration_seconds(), 0.0);
  ASSERT_EQ(reader.frame_count(), info["decoded_frames"].get<int64_t>());

  const auto indices = mmaction_test_indices(reader.frame_count(), 8);
  EXPECT_EQ(indices, info["indices_tsn8_center"].get<std::vector<int64_t>>());
  const auto& ref_indices = expected_frames().at(name + ".indices");
  EXPECT_TRUE(torch::equal(torch::tensor(indices, torch::kInt64), ref_indices));

  const auto got = as_tensor(reader.read_frames(indices)).to(torch::kFloat32);
  const auto want = expected_frames().at(name + ".frames").to(torch::kFloat32);
  ASSERT_EQ(got.sizes(), want.sizes());
  const double mad = (got - want).abs().mean().item<double>();
  std::cout << "[ decode   ] " << name << " frames MAD " << mad << " / 255\n";
  EXPECT_LE(mad, 1.0);
}

TEST_P(DecodeParity, SeekingMatchesSequentialDecode) {
  REQUIRE_FIXTURES();
  const std::string path = actionclip::testing::fixture(std::string("video/") + GetParam());
  VideoReader sequential(path);
  const int64_t n = sequential.frame_count();
  const auto every = sequential.read_frames(first_frames(n));

  VideoReader seeking(path);
  const std::vector<int64_t> order{0, n - 5, n / 2, 3, n - 1, n / 2, 1, n - 5};
  const auto frames = seeking.read_frames(order);
  for (size_t k = 0; k < order.size(); ++k) EXPECT_EQ(frames[k].rgb, every[order[k]].rgb) << "frame " << order[k];
  // A second call starts wherever the first left the decoder.
  EXPECT_EQ(seeking.read_frames({2})[0].rgb, every[2].rgb);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecodeParity, ::testing::ValuesIn(kVideos));

TEST(VideoReader, RandomAccessFarAheadMatchesSequential) {
  REQUIRE_FIXTURES();
  const std::string path = actionclip::testing::fixture("video/clip_h264.mp4");
  VideoReader a(path), b(path);
  const auto jumped = a.read_frames({0, 95});
  const auto walked = b.read_frames(first_frames(96));
  EXPECT_EQ(jumped[0].rgb, walked[0].rgb);
  EXPECT_EQ(jumped[1].rgb, walked[95].rgb);
}

// Long GOP-structured encodes where seeking matters: every access pattern must reproduce the
// frames of one sequential decode, whatever the codec, container and timestamp layout.
class SeekingEncodes : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(SeekingEncodes, RandomAccessMatchesSequentialDecode) {
  if (!have_ffmpeg_cli()) GTEST_SKIP() << "ffmpeg CLI not installed";
  const auto [name, options] = GetParam();
  TempDir dir;
  const std::string path = test_pattern_clip(dir, name, "64x48", 25, 150, options);
  VideoReader sequential(path);
  ASSERT_EQ(sequential.frame_count(), 150);
  const auto every = sequential.read_frames(first_frames(150));
  VideoReader seeking(path);
  const std::vector<int64_t> order{140, 0, 75, 149, 30, 31, 100, 99, 12, 60};
  const auto frames = seeking.read_frames(order);
  for (size_t k = 0; k < order.size(); ++k) EXPECT_EQ(frames[k].rgb, every[order[k]].rgb) << "frame " << order[k];
  for (int64_t i : {120, 5, 149, 61}) EXPECT_EQ(seeking.read_frames({i})[0].rgb, every[i].rgb) << "frame " << i;
}

// MP4 with B-frames (the common web layout): a seek lands on the keyframe before the target,
// not a GOP early, and sampling decodes a fraction of the packets.
TEST(VideoReader, SeekingInMp4DecodesFromTheNearestKeyframe) {
  if (!have_ffmpeg_cli()) GTEST_SKIP() << "ffmpeg CLI not installed";
  TempDir dir;
  const std::string path =
      test_pattern_clip(dir, "gop25.mp4", "64x48", 25, 150, "-c:v libx264 -g 25 -bf 3 -pix_fmt yuv420p");
  VideoReader jumping(path);
  jumping.read_frames({140});
  EXPECT_LE(jumping.packets_decoded(), 25 + 8) << "packets decoded to reach frame 140 (keyframes every 25)";
  VideoReader sampling(path);
  sampling.read_frames(actionclip::video::mmaction_test_indices(sampling.frame_count(), 8));
  EXPECT_LT(sampling.packets_decoded(), 110) << "packets decoded for 8 TSN frames of 150";
  // Of those, the unreferenced B-frames no wanted frame is are skipped, not decoded.
  EXPECT_LT(sampling.pictures_decoded(), sampling.packets_decoded() * 3 / 4);
  // Reading every frame decodes each packet once (no retry from the start).
  VideoReader every(path);
  every.read_frames(first_frames(150));
  EXPECT_EQ(every.packets_decoded(), 150);
  EXPECT_EQ(every.pictures_decoded(), 150);
}

INSTANTIATE_TEST_SUITE_P(
    Encodes, SeekingEncodes,
    ::testing::Values(std::make_pair("h264.mp4", "-c:v libx264 -g 25 -bf 3 -pix_fmt yuv420p"),
                      std::make_pair("h264_open_gop.mkv", "-c:v libx264 -g 25 -bf 3 -x264-params open-gop=1"),
                      std::make_pair("hevc.mkv", "-c:v libx265 -x265-params log-level=error:keyint=25"),
                      // MP4 headers that describe the stream skip probing: other codecs than H.264 too.
                      std::make_pair("hevc.mp4", "-c:v libx265 -tag:v hvc1 -x265-params log-level=error:keyint=25"),
                      std::make_pair("mpeg4_bframes.mp4", "-c:v mpeg4 -g 25 -bf 2"),
                      std::make_pair("vp9.webm", "-c:v libvpx-vp9 -g 25 -deadline realtime"),
                      std::make_pair("mpeg4_bframes.avi", "-c:v mpeg4 -g 25 -bf 2"),
                      std::make_pair("vfr.mp4", "-vf 'setpts=N/25/TB+0.2*floor(N/7)/TB' -fps_mode vfr -c:v libx264 -g 20")),
    [](const auto& info) {
      std::string n = info.param.first;
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(VideoReader, OutOfRangeIndexThrows) {
  REQUIRE_FIXTURES();
  VideoReader reader(actionclip::testing::fixture("video/clip_vp9.webm"));
  EXPECT_THROW(reader.read_frames({60}), std::out_of_range);
  EXPECT_THROW(reader.read_frames({-1}), std::out_of_range);
}

TEST(VideoReader, BadInputsGiveFileErrors) {
  TempDir dir;
  const std::string missing = dir.path("missing.mp4");
  expect_file_error(missing, [&] { VideoReader r(missing); });

  const std::string empty = dir.path("empty.mp4");
  write_bytes(empty, "");
  expect_file_error(empty, [&] { VideoReader r(empty); });

  const std::string noise = dir.path("noise.mp4");
  std::mt19937 rng(7);
  std::string bytes(8192, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  write_bytes(noise, bytes);
  expect_file_error(noise, [&] { VideoReader r(noise); r.read_frames({0}); });

  const std::string wav = dir.path("audio.wav");
  write_wav(wav);
  try {
    VideoReader r(wav);
    ADD_FAILURE() << "audio-only file opened as a video";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("no video stream"), std::string::npos) << e.what();
  }

  expect_file_error(dir.path(""), [&] { VideoReader r(dir.path("")); });
}

// The fixture keeps its index (moov) at the end, so a prefix has no index at all.
TEST(VideoReader, TruncatedMp4GivesFileError) {
  REQUIRE_FIXTURES();
  TempDir dir;
  std::ifstream in(actionclip::testing::fixture("video/clip_h264.mp4"), std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir.path("cut.mp4");
  write_bytes(cut, data.substr(0, data.size() * 3 / 10));
  expect_file_error(cut, [&] {
    VideoReader r(cut);
    r.read_frames(mmaction_test_indices(r.frame_count(), 8));
  });
}

// With the index up front, a prefix holds a readable start: every frame it delivers is right,
// and asking for more than it holds is a FileError, never a crash or a hang.
TEST(VideoReader, TruncatedFaststartMp4GivesFramesOrFileError) {
  REQUIRE_FIXTURES();
  if (!have_ffmpeg_cli()) GTEST_SKIP() << "ffmpeg CLI not installed";
  TempDir dir;
  const std::string whole = dir.path("fast.mp4");
  ffmpeg("-i " + actionclip::testing::fixture("video/clip_h264.mp4") + " -c copy -movflags +faststart " + whole);
  std::ifstream in(whole, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir.path("cut.mp4");
  write_bytes(cut, data.substr(0, data.size() * 3 / 10));
  VideoReader reference(whole);
  VideoReader r(cut);
  const int64_t n = r.frame_count();
  EXPECT_GT(n, 0);
  EXPECT_LT(n, 100);
  EXPECT_EQ(r.read_frames({0})[0].rgb, reference.read_frames({0})[0].rgb);
  try {
    r.read_frames({n - 1});
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), cut);
  }
}

TEST(VideoReader, ShortOddSizedVideoRepeatsSampledFrames) {
  if (!have_ffmpeg_cli()) GTEST_SKIP() << "ffmpeg CLI not installed";
  TempDir dir;
  const std::string path = test_pattern_clip(dir, "short.mkv", "33x17", 10, 5, "-c:v ffv1");
  VideoReader reader(path);
  EXPECT_EQ(reader.width(), 33);
  EXPECT_EQ(reader.height(), 17);
  ASSERT_EQ(reader.frame_count(), 5);
  const auto indices = mmaction_test_indices(reader.frame_count(), 8);
  EXPECT_EQ(indices, (std::vector<int64_t>{0, 0, 1, 2, 2, 3, 4, 4}));
  const auto frames = reader.read_frames(indices);
  ASSERT_EQ(frames.size(), 8u);
  EXPECT_EQ(frames[0].rgb, frames[1].rgb);
  EXPECT_EQ(frames[3].rgb, frames[4].rgb);
  EXPECT_NE(frames[1].rgb, frames[2].rgb);
  EXPECT_EQ(frames[0].rgb.size(), 33u * 17 * 3);
}

// The frame must come out as ffmpeg's CLI displays it (its autorotate), whichever way this
// FFmpeg version writes the "rotate" tag into the display matrix.
TEST(VideoReader, AppliesRotationMetadata) {
  if (!have_ffmpeg_cli()) GTEST_SKIP() << "ffmpeg CLI not installed";
  TempDir dir;
  const std::string upright = test_pattern_clip(dir, "upright.mp4", "64x32", 10, 3, "-c:v mpeg4 -q:v 2");
  const std::string rotated = dir.path("rotated.mp4");
  ffmpeg("-i " + upright + " -c copy -metadata:s:v rotate=90 " + rotated);
  ffmpeg("-i " + rotated + " -frames:v 1 -f rawvideo -pix_fmt rgb24 " + dir.path("shown.rgb"));
  VideoReader a(upright), b(rotated);
  ASSERT_TRUE(b.rotation() == 90 || b.rotation() == 270) << b.rotation();
  EXPECT_EQ(b.width(), 32);
  EXPECT_EQ(b.height(), 64);
  const Frame in = a.read_frames({0})[0], out = b.read_frames({0})[0];
  ASSERT_EQ(out.width, 32);
  ASSERT_EQ(out.height, 64);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const int sx = b.rotation() == 90 ? y : in.width - 1 - y;
      const int sy = b.rotation() == 90 ? in.height - 1 - x : x;
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(out.rgb[(y * out.width + x) * 3 + c], in.rgb[(sy * in.width + sx) * 3 + c]) << y << "," << x;
    }
  std::ifstream shown_file(dir.path("shown.rgb"), std::ios::binary);
  const std::string shown((std::istreambuf_iterator<char>(shown_file)), std::istreambuf_iterator<char>());
  ASSERT_EQ(shown.size(), out.rgb.size());
  double total = 0;
  for (size_t i = 0; i < shown.size(); ++i) total += std::abs(static_cast<uint8_t>(shown[i]) - out.rgb[i]);
  EXPECT_LE(total / shown.size(), 2.0);  // the CLI converts with other swscale flags
}

TEST(ImageReader, ReadsLosslessImagesExactly) {
  TempDir dir;
  const Frame f = pattern(7, 5, 1);
  write_bmp(dir.path("a.bmp"), f);
  const Frame back = read_image(dir.path("a.bmp"));
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 5);
  EXPECT_EQ(back.rgb, f.rgb);
  expect_file_error(dir.path("none.png"), [&] { read_image(dir.path("none.png")); });
}

TEST(ImageReader, ReadsJpegAndPng) {
  REQUIRE_FIXTURES();
  if (!have_ffmpeg_cli()) GTEST_SKIP() << "ffmpeg CLI not installed";
  TempDir dir;
  const std::string video = actionclip::testing::fixture("video/clip_h264.mp4");
  ffmpeg("-i " + video + " -frames:v 1 " + dir.path("f.png"));
  ffmpeg("-i " + video + " -frames:v 1 -q:v 1 " + dir.path("f.jpg"));
  VideoReader reader(video);
  const auto ref = as_tensor(reader.read_frames({0})).to(torch::kFloat32);
  for (const char* name : {"f.png", "f.jpg"}) {
    const Frame img = read_image(dir.path(name));
    ASSERT_EQ(img.width, 320);
    ASSERT_EQ(img.height, 240);
    const double mad = (as_tensor({img}).to(torch::kFloat32) - ref).abs().mean().item<double>();
    EXPECT_LE(mad, 3.0) << name;  // ffmpeg's CLI converts with other swscale flags; jpeg is lossy
  }
}

TEST(FrameSource, RawFrameFolderUsesOneBasedNames) {
  TempDir dir;
  std::vector<Frame> frames;
  for (int i = 0; i < 4; ++i) {
    frames.push_back(pattern(9, 6, i));
    char name[32];
    std::snprintf(name, sizeof name, "img_%05d.bmp", i + 1);
    write_bmp(dir.path(name), frames.back());
  }
  RawFrameFolder folder(dir.path(""), "img_{:05d}.bmp");
  EXPECT_EQ(folder.frame_path(0), dir.path("img_00001.bmp"));
  ASSERT_EQ(folder.frame_count(), 4);
  const auto got = folder.read_frames({3, 0, 3});
  EXPECT_EQ(got[0].rgb, frames[3].rgb);
  EXPECT_EQ(got[1].rgb, frames[0].rgb);
  EXPECT_EQ(got[2].rgb, frames[3].rgb);
  EXPECT_THROW(folder.read_frames({4}), std::out_of_range);

  // The default template looks for img_00001.jpg, which this folder lacks.
  auto source = open_frame_source(dir.path(""));
  expect_file_error(dir.path(""), [&] { source->frame_count(); });
  EXPECT_THROW(RawFrameFolder(dir.path(""), "img_{:x}.bmp"), std::invalid_argument);
  // With the folder's own template it opens, for inference views too.
  EXPECT_EQ(open_frame_source(dir.path(""), "img_{:05d}.bmp")->frame_count(), 4);
  actionclip::ViewOptions views;
  views.frames = 4;
  views.input_size = 8;
  views.frame_template = "img_{:05d}.bmp";
  EXPECT_EQ(actionclip::load_video_views(dir.path(""), views).sizes(), (std::vector<int64_t>{1, 4, 3, 8, 8}));
}

// The reference's index_bias: "frame{:d}.jpg" lists number their first file 0, "img_{:05d}.jpg" 1.
TEST(FrameSource, IndexBiasIsTheNumberOfTheFirstFrameFile) {
  TempDir dir;
  for (int i = 0; i < 10; ++i) write_bmp(dir.path("frame" + std::to_string(i) + ".bmp"), pattern(9, 6, i));
  RawFrameFolder from_zero(dir.path(""), "frame{:d}.bmp", 0);
  EXPECT_EQ(from_zero.frame_path(0), dir.path("frame0.bmp"));
  ASSERT_EQ(from_zero.frame_count(), 10);
  EXPECT_EQ(from_zero.read_frames({0})[0].rgb, pattern(9, 6, 0).rgb);
  EXPECT_EQ(from_zero.frame_file_number(3), 3);
  RawFrameFolder from_one(dir.path(""), "frame{:d}.bmp", 1);
  ASSERT_EQ(from_one.frame_count(), 9);
  EXPECT_EQ(from_one.read_frames({0})[0].rgb, pattern(9, 6, 1).rgb);

  // Views report the file numbers they read: the reference's indices, index_bias included.
  actionclip::ViewOptions views;
  views.frames = 4;
  views.input_size = 8;
  views.frame_template = "frame{:d}.bmp";
  views.first_frame_number = 0;
  const auto read = actionclip::read_video_views(dir.path(""), views);
  ASSERT_EQ(read.frames.size(), 1u);
  EXPECT_EQ(read.frames[0].indices, actionclip_test_indices(10, 4));
  EXPECT_EQ(read.frames[0].file_numbers, actionclip_test_indices(10, 4));
  EXPECT_TRUE(read.frames[0].seconds.empty());
  views.first_frame_number = 1;
  EXPECT_EQ(actionclip::read_video_views(dir.path(""), views).frames[0].file_numbers,
            (std::vector<int64_t>{1, 3, 6, 8}));  // 0-based 0, 2, 5, 7 of the 9 files from frame1

  // Training reads a rawframe list's frames through the same numbering: 10 segments of a
  // 10-frame list read every frame, and with index_bias 1 the last would be frame10.bmp, which
  // this folder lacks.
  actionclip::DataConfig data;
  data.image_tmpl = "frame{:d}.bmp";
  data.num_segments = 10;
  data.random_shift = false;
  data.index_bias = 0;
  actionclip::data::VideoRecord record;
  record.path = dir.path("");
  record.num_frames = 10;
  record.labels = {0};
  EXPECT_EQ(actionclip::VideoDataset({record}, data, 1, 8).load_train_sample(0, 1).frames.size(0), 10);
  data.index_bias = 1;
  EXPECT_THROW(actionclip::VideoDataset({record}, data, 1, 8).load_train_sample(0, 1), std::out_of_range);
}

TEST(VideoReader, FrameSecondsAreThePresentationTimes) {
  REQUIRE_FIXTURES();
  const auto path = actionclip::testing::fixture("video/clip_h264.mp4");  // 25 fps, 100 frames
  VideoReader reader(path);
  for (int64_t i : {0, 1, 42, 99}) EXPECT_NEAR(reader.frame_seconds(i).value(), i / 25.0, 1e-9) << i;
  EXPECT_THROW(reader.frame_seconds(100), std::out_of_range);
  actionclip::ViewOptions views;
  views.input_size = 32;
  const auto read = actionclip::read_video_views(path, views);
  ASSERT_EQ(read.frames.size(), 1u);
  EXPECT_EQ(read.frames[0].indices, (std::vector<int64_t>{5, 18, 30, 43, 55, 68, 80, 93}));
  ASSERT_EQ(read.frames[0].seconds.size(), 8u);
  for (size_t k = 0; k < 8; ++k) EXPECT_NEAR(read.frames[0].seconds[k], read.frames[0].indices[k] / 25.0, 1e-9);
  EXPECT_TRUE(read.frames[0].file_numbers.empty());
}

TEST(FrameSource, OpensVideoFiles) {
  REQUIRE_FIXTURES();
  auto source = open_frame_source(actionclip::testing::fixture("video/clip_vp9.webm"));
  EXPECT_EQ(source->frame_count(), 60);
  EXPECT_EQ(source->read_frames({5, 6}).size(), 2u);
}

TEST(Sampling, CenterIndices) {
  EXPECT_EQ(mmaction_test_indices(100, 8), (std::vector<int64_t>{6, 18, 31, 43, 56, 68, 81, 93}));
  EXPECT_EQ(mmaction_test_indices(3, 8), (std::vector<int64_t>{0, 0, 0, 1, 1, 2, 2, 2}));
  EXPECT_EQ(mmaction_test_indices(1, 4), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_THROW(mmaction_test_indices(0, 8), std::invalid_argument);
}

TEST(Sampling, RandomIndicesAreDeterministicPerSeedAndStayInSegments) {
  std::mt19937_64 a(42), b(42), c(43);
  const auto ia = train_indices(100, 8, a);
  EXPECT_EQ(ia, train_indices(100, 8, b));
  std::set<std::vector<int64_t>> draws;
  for (int i = 0; i < 10; ++i) draws.insert(train_indices(100, 8, c));
  EXPECT_GT(draws.size(), 1u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_GE(ia[i], i * 100 / 8);
    EXPECT_LT(ia[i], (i + 1) * 100 / 8);
  }
  std::mt19937_64 d(1);
  const auto short_video = train_indices(3, 8, d);
  ASSERT_EQ(short_video.size(), 8u);
  EXPECT_TRUE(std::is_sorted(short_video.begin(), short_video.end()));
  EXPECT_EQ(std::set<int64_t>(short_video.begin(), short_video.end()), (std::set<int64_t>{0, 1, 2}));
}

TEST(Sampling, MultiClipViewsTileSegments) {
  const auto one = multi_clip_indices(100, 8, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], mmaction_test_indices(100, 8));
  const auto views = multi_clip_indices(80, 4, 2);
  EXPECT_EQ(views[0], (std::vector<int64_t>{5, 25, 45, 65}));
  EXPECT_EQ(views[1], (std::vector<int64_t>{15, 35, 55, 75}));
}

class PreprocessParity : public ::testing::TestWithParam<std::tuple<const char*, const char*, int>> {};

TEST_P(PreprocessParity, MatchesReference) {
  REQUIRE_FIXTURES();
  const auto [file, key, resize] = GetParam();
  const Frame source = from_tensor(expected_frames().at("preprocess.source_rgb"));
  const auto want = actionclip::io::load_safetensors(actionclip::testing::fixture(file)).at(key);
  const ClipPreprocess preprocess{resize, 224};
  const auto got = preprocess({source})[0];
  ASSERT_EQ(got.sizes(), want.sizes());
  const auto diff = (got - want).abs();
  const double mean = diff.mean().item<double>(), max = diff.max().item<double>();
  std::cout << "[ preproc  ] " << key << " mean abs diff " << mean << ", max " << max << "\n";
  EXPECT_LE(mean, 0.002);
  EXPECT_LE(max, 0.02);  // the bound an exact emulation of PIL's resampler meets
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, PreprocessParity,
    ::testing::Values(std::make_tuple("video/expected_frames.safetensors", "preprocess.clip224", 224),
                      std::make_tuple("video/expected_frames.safetensors", "preprocess.actionclip_val", 256),
                      std::make_tuple("hf/expected.safetensors", "processor.pixel_values", 224)));

// The preprocessing resamples only the pixels its crop keeps; that must not change one of them.
TEST(Transforms, CroppedResizeEqualsCropOfFullResize) {
  struct Case {
    int width, height, resize, crop;
  };
  for (const Case& c : {Case{320, 240, 256, 224}, Case{240, 320, 256, 224}, Case{1280, 720, 224, 224},
                        Case{224, 224, 256, 224}, Case{341, 256, 256, 224}, Case{97, 61, 64, 57}}) {
    SCOPED_TRACE(std::to_string(c.width) + "x" + std::to_string(c.height));
    const Frame f = pattern(c.width, c.height, c.width);
    const ClipPreprocess preprocess{c.resize, c.crop};
    EXPECT_EQ(preprocess.apply(f).rgb, center_crop(resize_shorter_side(f, c.resize), c.crop).rgb);
  }
}

TEST(Transforms, TensorFollowsTorchvisionArithmetic) {
  const std::vector<Frame> frames{pattern(37, 23, 1), pattern(37, 23, 2)};
  auto hwc = torch::empty({2, 23, 37, 3}, torch::kUInt8);
  for (int t = 0; t < 2; ++t) std::copy(frames[t].rgb.begin(), frames[t].rgb.end(), hwc[t].data_ptr<uint8_t>());
  // ToTensor, then Normalize, as torchvision computes them.
  const auto mean = torch::tensor({kClipMean[0], kClipMean[1], kClipMean[2]}).view({1, 3, 1, 1});
  const auto std = torch::tensor({kClipStd[0], kClipStd[1], kClipStd[2]}).view({1, 3, 1, 1});
  const auto want = (hwc.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255 - mean) / std;
  EXPECT_TRUE(torch::equal(to_clip_tensor(frames), want));
}

TEST(Transforms, PresetsAndCropOffsets) {
  EXPECT_EQ(ClipPreprocess::clip().resize_size, 224);
  EXPECT_EQ(ClipPreprocess::actionclip_val().resize_size, 256);
  EXPECT_EQ(ClipPreprocess::actionclip_val(336).resize_size, 384);
  const Frame f = pattern(341, 256, 3);
  EXPECT_EQ(resize_shorter_side(f, 256).rgb, f.rgb);  // PIL skips passes that keep the size
  const Frame crop = center_crop(f, 224);
  // (341 - 224) / 2 = 58.5 rounds half to even: 58; (256 - 224) / 2 = 16.
  EXPECT_EQ(crop.rgb[0], f.rgb[(16 * 341 + 58) * 3]);
  const Frame portrait = resize_shorter_side(pattern(31, 47, 0), 16);
  EXPECT_EQ(portrait.width, 16);
  EXPECT_EQ(portrait.height, 24);  // int(16 * 47 / 31) = 24
  const auto t = to_clip_tensor({crop, crop});
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{2, 3, 224, 224}));
}
