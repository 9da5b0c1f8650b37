// actionclip bench video: decoding, sampling and end-to-end classify throughput (per precision) on
// generated 10 s 320x240 H.264 clips.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include "actionclip/data/synth.h"
#include "actionclip/util/ordered_prefetcher.h"
#include "actionclip/video/frame_source.h"
#include "actionclip/video/sampling.h"
#include "actionclip/video/transforms.h"
#include "actionclip/video/video_reader.h"
#include "actionclip/video/video_writer.h"
#include "bench.h"
#include "bench_video_classify.h"
#include "common.h"

namespace actionclip::cli {
namespace fs = std::filesystem;

namespace {

// What seeking can save depends on the keyframe interval, so the clips come in the layouts video
// datasets are stored in. All are x264 at its default quality (CRF 23), as the field's 320p
// caches are made (mmaction2's resize_videos.py: x264 defaults, or -g 16 for its fast-access
// "dense" cache).
struct ClipLayout {
  const char* name;
  int keyframe_interval;
};
constexpr ClipLayout kLayouts[] = {
    {"dense cache, keyframe every 16 frames", 16},
    {"web video, keyframe every 2 s", 50},
    {"x264 default, keyframe every 250 frames", 250},
};
constexpr size_t kMainLayout = 1;  // the one the end-to-end figures use

// Camera-like footage from the synthetic scenes: the view pans a pixel per frame and every pixel
// carries sensor grain (uniform, +-10 levels), which brings the bitrate (~150-270 kb/s at CRF 23)
// and the cost of inter-coded pictures to those of real 320p clips. The static scenes alone
// encode at ~40 kb/s with nearly free P- and B-frames, which flatters any sampler: the
// I-frames, which every path decodes, would be most of the work.
void film(std::vector<video::Frame>& frames, uint64_t seed) {
  constexpr int kGrain = 10;
  std::mt19937_64 rng(seed);
  for (size_t t = 0; t < frames.size(); ++t) {
    video::Frame& frame = frames[t];
    const size_t row_bytes = static_cast<size_t>(frame.width) * 3;
    const size_t shift = (t % static_cast<size_t>(frame.width)) * 3;
    std::vector<uint8_t> filmed(frame.rgb.size());
    for (size_t row = 0; row < frame.rgb.size(); row += row_bytes)
      std::rotate_copy(&frame.rgb[row], &frame.rgb[row + shift], &frame.rgb[row] + row_bytes, &filmed[row]);
    uint64_t bits = 0;
    for (size_t i = 0; i < filmed.size(); ++i, bits >>= 8) {
      if (i % 8 == 0) bits = rng();
      const int grain = static_cast<int>(bits & 0xff) % (2 * kGrain + 1) - kGrain;
      filmed[i] = static_cast<uint8_t>(std::clamp(filmed[i] + grain, 0, 255));
    }
    frame.rgb = std::move(filmed);
  }
}

std::vector<std::string> make_bench_clips(const BenchArgs& a, const std::string& dir, const ClipLayout& layout) {
  const bool have_x264 = video::video_encoder_available(video::VideoCodec::H264);
  const auto layout_dir = fs::path(dir) / ((have_x264 ? "x264" : "mpeg4") + std::string("-crf23-grain10-g") +
                                           std::to_string(layout.keyframe_interval));
  fs::create_directories(layout_dir);
  data::SynthOptions synth;
  synth.width = 320;
  synth.height = 240;
  synth.fps = 25;
  synth.frames = static_cast<int>(a.clip_seconds * synth.fps);
  synth.seed = 1;
  synth.motions = {"left", "right", "up", "down", "clockwise", "anticlockwise", "growing", "shrinking"};
  const auto classes = data::synth_classes(synth);
  video::VideoWriterOptions writer_options;
  writer_options.codec = have_x264 ? video::VideoCodec::H264 : video::VideoCodec::Mpeg4;
  writer_options.keyframe_interval = layout.keyframe_interval;
  writer_options.crf = 23;
  std::vector<std::string> paths;
  for (int i = 0; i < a.clips; ++i) {
    const auto path = (layout_dir / ("clip_" + std::to_string(i) + ".mp4")).string();
    paths.push_back(path);
    if (fs::exists(path)) continue;
    auto frames = data::render_synth_video(synth, classes[static_cast<size_t>(i) % classes.size()], i);
    film(frames, static_cast<uint64_t>(i));
    // Written under a temporary name, so an interrupted run leaves no half clip to be reused.
    const auto partial = path + ".partial.mp4";
    video::VideoWriter writer(partial, synth.width, synth.height, synth.fps, writer_options);
    for (const auto& frame : frames) writer.write(frame);
    writer.close();
    fs::rename(partial, path);
  }
  return paths;
}

double mean_kilobits_per_second(const std::vector<std::string>& paths, double clip_seconds) {
  double bytes = 0;
  for (const auto& path : paths) bytes += static_cast<double>(fs::file_size(path));
  return bytes * 8 / 1000 / clip_seconds / static_cast<double>(paths.size());
}

struct DecodeFigures {
  double videos_per_s = 0;
  double pictures_per_video = 0;  // pictures the decoder produced
};

// Opens and reads each clip with `read`, over and over for at least `seconds`.
template <typename Read>
DecodeFigures measure_decoding(const std::vector<std::string>& paths, double seconds, Read&& read) {
  int64_t videos = 0, pictures = 0;
  const double start = now_seconds();
  double elapsed = 0;
  do {
    for (const auto& path : paths) {
      video::VideoReader reader(path);
      read(reader);
      pictures += reader.pictures_decoded();
      ++videos;
    }
    elapsed = now_seconds() - start;
  } while (elapsed < seconds);
  return {static_cast<double>(videos) / elapsed, static_cast<double>(pictures) / static_cast<double>(videos)};
}

}  // namespace

int bench_video(const BenchArgs& a) {
  const auto device = parse_device(a.device);
  const auto dir = a.work_dir.empty() ? (fs::temp_directory_path() / "actionclip-bench-clips").string() : a.work_dir;
  std::fprintf(stderr, "bench: preparing %d clips of %.0f s per layout in %s\n", a.clips, a.clip_seconds, dir.c_str());
  std::vector<std::vector<std::string>> clips;
  for (const auto& layout : kLayouts) clips.push_back(make_bench_clips(a, dir, layout));
  const auto& paths = clips[kMainLayout];

  // Decoding every frame vs. sampling TSN frames (seeking to keyframes), per layout, after one
  // decode that loads FFmpeg's codecs.
  video::VideoReader(paths.front()).read_frames({0});
  const double seconds_per_figure = std::max(0.5, a.seconds / 4);
  nlohmann::json decoding = nlohmann::json::array();
  std::vector<std::pair<DecodeFigures, DecodeFigures>> figures;
  std::vector<double> bitrates;
  for (size_t k = 0; k < clips.size(); ++k) {
    const auto full = measure_decoding(clips[k], seconds_per_figure, [](video::VideoReader& reader) {
      std::vector<int64_t> all(static_cast<size_t>(reader.frame_count()));
      for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
      reader.read_frames(all);
    });
    const auto sampled = measure_decoding(clips[k], seconds_per_figure, [&](video::VideoReader& reader) {
      reader.read_frames(video::actionclip_test_indices(reader.frame_count(), a.frames));
    });
    figures.emplace_back(full, sampled);
    bitrates.push_back(mean_kilobits_per_second(clips[k], a.clip_seconds));
    decoding.push_back({{"layout", kLayouts[k].name},
                        {"keyframe_interval", kLayouts[k].keyframe_interval},
                        {"kilobits_per_s", bitrates.back()},
                        {"full_decode_videos_per_s", full.videos_per_s},
                        {"sampled_decode_videos_per_s", sampled.videos_per_s},
                        {"sampled_over_full", sampled.videos_per_s / full.videos_per_s},
                        {"pictures_decoded_full", full.pictures_per_video},
                        {"pictures_decoded_sampled", sampled.pictures_per_video}});
  }

  const auto preprocess = video::ClipPreprocess::actionclip_val(224);
  auto sample = [&](size_t i) {
    auto source = video::open_frame_source(paths[i]);
    return preprocess(source->read_frames(video::actionclip_test_indices(source->frame_count(), a.frames)));
  };
  std::map<int, double> sampled_per_s;
  for (int threads : {1, 2}) {
    const double start = now_seconds();
    OrderedPrefetcher<torch::Tensor> loader(paths.size(), sample, threads, paths.size());
    while (loader.next()) {
    }
    sampled_per_s[threads] = static_cast<double>(paths.size()) / (now_seconds() - start);
  }

  // End to end: decode, sample, preprocess, ViT-B/32 + meanP, in each precision asked for.
  const auto classify = measure_classify_precisions(a, paths, device);

  nlohmann::json python;
  const auto script = bench_script("video_reference.py");
  if (!device.is_cuda() && !script.empty()) {
    std::string arguments = "--frames " + std::to_string(a.frames) + " --threads " + std::to_string(torch::get_num_threads());
    for (const auto& p : paths) arguments += " '" + p + "'";
    python = run_python(a.python, script, arguments);
  }
  nlohmann::json result = {{"machine", machine_json()},
                           {"clips", paths.size()},
                           {"clip_seconds", a.clip_seconds},
                           {"frames", a.frames},
                           {"device", device.str()},
                           {"threads", torch::get_num_threads()},
                           {"decoding", decoding},
                           {"end_to_end_layout", kLayouts[kMainLayout].name},
                           {"sampled_videos_per_s_1_thread", sampled_per_s[1]},
                           {"sampled_videos_per_s_2_threads", sampled_per_s[2]},
                           {"classify", classify},
                           {"python", python}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench video: %zu clips per layout, %.0f s 320x240 H.264 (CRF 23, camera pan, grain), "
              "%d frames, device %s, %d threads\n",
              paths.size(), a.clip_seconds, a.frames, device.str().c_str(), torch::get_num_threads());
  std::printf("  %-40s %6s %12s %9s %7s %17s\n", "videos/s, one decoding thread", "kb/s", "full decode", "sampled",
              "ratio", "pictures decoded");
  for (size_t k = 0; k < figures.size(); ++k) {
    const auto& [full, sampled] = figures[k];
    std::printf("  %-40s %6.0f %12.2f %9.2f %6.2fx %8.0f -> %.0f\n", kLayouts[k].name, bitrates[k], full.videos_per_s,
                sampled.videos_per_s, sampled.videos_per_s / full.videos_per_s, full.pictures_per_video,
                sampled.pictures_per_video);
  }
  std::printf("  on the %s clips:\n", kLayouts[kMainLayout].name);
  std::printf("  %-44s %8.2f\n", "decode+sample+preprocess, 1 thread, videos/s", sampled_per_s[1]);
  std::printf("  %-44s %8.2f\n", "decode+sample+preprocess, 2 threads, videos/s", sampled_per_s[2]);
  std::printf("  classify end to end (ViT-B/32 + meanP, random weights; python: float32):\n");
  print_classify_precisions(classify, python);
  if (python.empty()) std::printf("  (python3-torch / python3-av not found: no reference figures)\n");
  return 0;
}

}  // namespace actionclip::cli
