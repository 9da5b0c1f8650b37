// actionclip bench clip|video: throughput figures (never pass/fail), side by side with the
// Python reference path when python3-torch is installed.
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "actionclip/data/synth.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/model/model_io.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/autocast.h"
#include "actionclip/util/ordered_prefetcher.h"
#include "actionclip/video/frame_source.h"
#include "actionclip/video/sampling.h"
#include "actionclip/video/transforms.h"
#include "actionclip/video/video_reader.h"
#include "actionclip/video/video_writer.h"
#include "actionclip/build_paths.h"
#include "commands.h"

namespace actionclip::cli {
namespace fs = std::filesystem;

namespace {

struct BenchArgs {
  int batch = 16;
  int text_batch = 256;
  int prompt_tokens = 12;
  double seconds = 5;
  std::string device = "cpu";
  std::string python = "/usr/bin/python3";
  bool json = false;
  // video
  int clips = 16;
  double clip_seconds = 10;
  int frames = 8;
  std::string work_dir;
  // train
  int steps = 3;
  std::string bpe;
  std::string precision = "fp32";
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Items per second of `run` (which handles `items` per call) over about `seconds`.
template <typename F>
double throughput(F&& run, int64_t items, double seconds, const torch::Device& device) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  run();
  sync();
  const double start = now_seconds();
  int64_t runs = 0;
  double elapsed = 0;
  do {
    run();
    sync();
    ++runs;
    elapsed = now_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(items * runs) / elapsed;
}

double peak_memory_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// Runs a reference script; its last stdout line is a JSON object. Empty when Python or torch is absent.
nlohmann::json run_python(const std::string& python, const std::string& script, const std::string& arguments) {
  if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0) return {};
  const auto command = python + " " + script + " " + arguments;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return {};
  std::string output, last;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) output = buffer, last = output.find('{') == 0 ? output : last;
  try {
    return nlohmann::json::parse(last);
  } catch (const nlohmann::json::exception&) {
    return {{"error", "reference script failed: " + command}};
  }
}

std::string bench_script(const std::string& name) {
  for (const auto& dir : {fs::path(ACTIONCLIP_SOURCE_DIR) / "bench", fs::path(ACTIONCLIP_DATA_DIR) / "bench"})
    if (fs::exists(dir / name)) return (dir / name).string();
  return {};
}

void print_ratio(const char* what, double ours, const nlohmann::json& python, const char* key) {
  if (python.contains(key))
    std::printf("  %-34s %10.1f   python %10.1f   ratio %.2fx\n", what, ours, python[key].get<double>(),
                ours / python[key].get<double>());
  else
    std::printf("  %-34s %10.1f\n", what, ours);
}

int bench_clip(const BenchArgs& a) {
  const auto device = parse_device(a.device);
  torch::manual_seed(0);
  ClipModel model(ClipConfig::vit_b32());
  model->eval();
  model->to(device);
  c10::InferenceMode inference;
  AutocastScope autocast(a.precision == "bf16", device);

  auto images = torch::randn({a.batch, 3, 224, 224}, device);
  const double images_per_s = throughput([&] { model->encode_image(images); }, a.batch, a.seconds, device);

  auto ids = torch::zeros({a.text_batch, 77}, torch::kLong);
  ids.select(1, 0).fill_(49406);
  ids.slice(1, 1, a.prompt_tokens - 1).copy_(torch::randint(1, 49000, {a.text_batch, a.prompt_tokens - 2}));
  ids.select(1, a.prompt_tokens - 1).fill_(49407);
  ids = ids.to(device);
  const double texts_per_s = throughput([&] { model->encode_text(ids); }, a.text_batch, a.seconds, device);
  const double peak_mb = peak_memory_mb();  // the inference paths only; the comparison below is not one
  // All 77 positions, as implementations without the end-token cut run them.
  auto full_mask = torch::full({77, 77}, -std::numeric_limits<float>::infinity(), torch::TensorOptions().device(device)).triu(1);
  auto eot = ids.argmax(-1);
  const double texts_full_per_s = throughput(
      [&] {
        auto x = model->ln_final(model->transformer(model->token_embedding(ids) + model->positional_embedding, full_mask));
        torch::matmul(x.index({torch::arange(x.size(0), ids.options()), eot}), model->text_projection);
      },
      a.text_batch, a.seconds, device);

  nlohmann::json python;
  const auto script = bench_script("clip_reference.py");
  if (!device.is_cuda() && !script.empty())
    python = run_python(a.python, script,
                        "--batch " + std::to_string(a.batch) + " --text-batch " + std::to_string(a.text_batch) +
                            " --prompt-tokens " + std::to_string(a.prompt_tokens) + " --threads " +
                            std::to_string(torch::get_num_threads()) + " --seconds " + std::to_string(a.seconds));
  nlohmann::json result = {{"model", "ViT-B/32 (random weights)"},
                           {"device", device.str()},
                           {"threads", torch::get_num_threads()},
                           {"image_batch", a.batch},
                           {"text_batch", a.text_batch},
                           {"prompt_tokens", a.prompt_tokens},
                           {"images_per_s", images_per_s},
                           {"texts_per_s", texts_per_s},
                           {"texts_all_77_positions_per_s", texts_full_per_s},
                           {"peak_memory_mb", peak_mb},
                           {"precision", a.precision},
                           {"python", python}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench clip: ViT-B/32 shapes, random weights, device %s, %d threads, %s\n",
              device.str().c_str(), torch::get_num_threads(), a.precision.c_str());
  std::printf("  image batch %d, text batch %d, prompts of %d tokens\n", a.batch, a.text_batch, a.prompt_tokens);
  print_ratio("images/s", images_per_s, python, "images_per_s");
  print_ratio("text prompts/s", texts_per_s, python, "texts_per_s");
  std::printf("  %-34s %10.1f   (end-token cut: %.1fx)\n", "text prompts/s, all 77 positions", texts_full_per_s,
              texts_per_s / texts_full_per_s);
  std::printf("  %-34s %10.0f MB\n", "peak resident memory (inference)", peak_mb);
  if (python.empty()) std::printf("  (python3-torch not found: no reference figures)\n");
  return 0;
}

// 10 s, 320x240, 25 fps H.264 clips with a 2 s keyframe interval, like typical web video.
std::vector<std::string> make_bench_clips(const BenchArgs& a, const std::string& dir) {
  fs::create_directories(dir);
  data::SynthOptions synth;
  synth.width = 320;
  synth.height = 240;
  synth.fps = 25;
  synth.frames = static_cast<int>(a.clip_seconds * synth.fps);
  synth.seed = 1;
  synth.motions = {"left", "right", "up", "down", "clockwise", "anticlockwise", "growing", "shrinking"};
  auto classes = data::synth_classes(synth);
  video::VideoWriterOptions writer_options;
  writer_options.codec = video::video_encoder_available(video::VideoCodec::H264) ? video::VideoCodec::H264
                                                                                  : video::VideoCodec::Mpeg4;
  writer_options.keyframe_interval = 50;
  std::vector<std::string> paths;
  for (int i = 0; i < a.clips; ++i) {
    const auto path = (fs::path(dir) / ("clip_" + std::to_string(i) + ".mp4")).string();
    paths.push_back(path);
    if (fs::exists(path)) continue;
    const auto& cls = classes[static_cast<size_t>(i) % classes.size()];
    video::VideoWriter writer(path, synth.width, synth.height, synth.fps, writer_options);
    for (const auto& frame : data::render_synth_video(synth, cls, i)) writer.write(frame);
    writer.close();
  }
  return paths;
}

int bench_video(const BenchArgs& a) {
  const auto device = parse_device(a.device);
  const auto dir = a.work_dir.empty() ? (fs::temp_directory_path() / "actionclip-bench-clips").string() : a.work_dir;
  std::fprintf(stderr, "bench: preparing %d clips of %.0f s in %s\n", a.clips, a.clip_seconds, dir.c_str());
  const auto paths = make_bench_clips(a, dir);
  const auto preprocess = video::ClipPreprocess::actionclip_val(224);

  // Full decode of every frame vs. sampling 8 TSN frames (seeking to keyframes), after one
  // decode that loads FFmpeg's codecs.
  video::VideoReader(paths.front()).read_frames({0});
  double start = now_seconds();
  for (const auto& p : paths) {
    video::VideoReader reader(p);
    std::vector<int64_t> all(static_cast<size_t>(reader.frame_count()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    reader.read_frames(all);
  }
  const double full_decode_per_s = static_cast<double>(paths.size()) / (now_seconds() - start);

  start = now_seconds();
  for (const auto& p : paths) {
    video::VideoReader reader(p);
    reader.read_frames(video::tsn_center_indices(reader.frame_count(), a.frames));
  }
  const double sampled_decode_per_s = static_cast<double>(paths.size()) / (now_seconds() - start);

  auto sample = [&](size_t i) {
    auto source = video::open_frame_source(paths[i]);
    return preprocess(source->read_frames(video::tsn_center_indices(source->frame_count(), a.frames)));
  };
  std::map<int, double> sampled_per_s;
  for (int threads : {1, 2}) {
    start = now_seconds();
    OrderedPrefetcher<torch::Tensor> loader(paths.size(), sample, threads, paths.size());
    while (loader.next()) {
    }
    sampled_per_s[threads] = static_cast<double>(paths.size()) / (now_seconds() - start);
  }

  // End to end: decode, sample, preprocess, ViT-B/32 + meanP, text scoring.
  torch::manual_seed(0);
  ActionClipModel model(ClipConfig::vit_b32(), ActionClipOptions{PromptType::MeanP, a.frames, true});
  model->eval();
  model->to(device);
  VideoEncoderOptions options;
  options.views.frames = a.frames;
  options.batch_size = 8;
  options.decode_threads = 2;
  options.device = device;
  auto classify = [&](bool bfloat16) {
    options.bfloat16 = bfloat16;
    VideoEncoder encoder(model, options);
    encoder.encode(paths, [](EncodedVideo&) {});  // warm-up
    return encoder.encode(paths, [](EncodedVideo&) {});
  };
  const auto stats = classify(false);
  const double classify_per_s = static_cast<double>(paths.size()) / stats.seconds;
  const double classify_bf16_per_s = static_cast<double>(paths.size()) / classify(true).seconds;

  nlohmann::json python;
  const auto script = bench_script("video_reference.py");
  if (!device.is_cuda() && !script.empty())
    python = run_python(a.python, script,
                        "--frames " + std::to_string(a.frames) + " --threads " + std::to_string(torch::get_num_threads()) +
                            " " + [&] {
                              std::string joined;
                              for (const auto& p : paths) joined += " '" + p + "'";
                              return joined;
                            }());
  nlohmann::json result = {{"clips", paths.size()},
                           {"clip_seconds", a.clip_seconds},
                           {"frames", a.frames},
                           {"device", device.str()},
                           {"threads", torch::get_num_threads()},
                           {"full_decode_videos_per_s", full_decode_per_s},
                           {"sampled_decode_videos_per_s", sampled_decode_per_s},
                           {"sampled_videos_per_s_1_thread", sampled_per_s[1]},
                           {"sampled_videos_per_s_2_threads", sampled_per_s[2]},
                           {"classify_videos_per_s", classify_per_s},
                           {"classify_data_wait_s", stats.data_wait_seconds},
                           {"classify_bf16_videos_per_s", classify_bf16_per_s},
                           {"python", python}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench video: %zu clips, %.0f s 320x240 H.264, %d frames, device %s, %d threads\n", paths.size(),
              a.clip_seconds, a.frames, device.str().c_str(), torch::get_num_threads());
  std::printf("  %-44s %8.2f\n", "full decode (every frame), videos/s", full_decode_per_s);
  std::printf("  %-44s %8.2f   (%.1fx full decode)\n", "sampled decode (8 TSN frames), videos/s", sampled_decode_per_s,
              sampled_decode_per_s / full_decode_per_s);
  std::printf("  %-44s %8.2f\n", "decode+sample+preprocess, 1 thread, videos/s", sampled_per_s[1]);
  std::printf("  %-44s %8.2f\n", "decode+sample+preprocess, 2 threads, videos/s", sampled_per_s[2]);
  print_ratio("classify end to end (ViT-B/32), videos/s", classify_per_s, python, "videos_per_s");
  std::printf("  %-44s %8.2f s\n", "model waited for data", stats.data_wait_seconds);
  std::printf("  %-44s %8.1f\n", "classify end to end, bf16 autocast, videos/s", classify_bf16_per_s);
  if (python.empty()) std::printf("  (python3-torch / python3-av not found: no reference figures)\n");
  return 0;
}

// One ViT-B/32 training epoch's first steps on generated 224x224 clips: decoding, sampling,
// augmentation and the optimizer step, with the time the trainer waited for data.
int bench_train(const BenchArgs& a) {
  const auto device = parse_device(a.device);
  const auto dir = a.work_dir.empty() ? (fs::temp_directory_path() / "actionclip-bench-train").string() : a.work_dir;
  std::string bpe = a.bpe;
  if (bpe.empty()) {
    const auto beside_sources = fs::path(ACTIONCLIP_SOURCE_DIR) / ".." / "shared" / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz";
    bpe = fs::exists(beside_sources) ? beside_sources.string() : find_bpe_file("", "");
  }
  data::SynthOptions synth;
  synth.out_dir = (fs::path(dir) / "data").string();
  synth.videos_per_class = 8;
  synth.frames = 16;
  synth.width = synth.height = 224;
  synth.colors = {"red", "blue"};
  synth.shapes = {"square"};
  synth.motions = {"left", "right"};
  synth.val_fraction = 0;
  if (!fs::exists(fs::path(synth.out_dir) / "train.txt")) data::generate_synth_dataset(synth);
  const int batch = 8;
  const std::string yaml = "seed: 1\ndevice: " + device.str() +
                           "\ndata:\n  num_segments: " + std::to_string(a.frames) + "\n  batch_size: " + std::to_string(batch) +
                           "\n  workers: 2\n  train_list: " + synth.out_dir + "/train.txt\n  label_list: " + synth.out_dir +
                           "/labels.csv\nnetwork:\n  arch: ViT-B/32\n  init: false\n  sim_header: meanP\n  bpe: " + bpe +
                           "\nsolver:\n  epochs: 1\nlogging:\n  output_dir: " + dir + "/run\n";
  Trainer trainer(TrainConfig::parse(yaml, "", "bench"));
  TrainRunOptions run;
  run.progress = false;
  run.save_checkpoints = false;
  run.stop_after_steps = 1;
  trainer.run(run);  // warm-up
  run.stop_after_steps = std::min<int64_t>(a.steps, static_cast<int64_t>(trainer.train_set().batches_per_epoch()) - 1);
  auto summary = trainer.run(run);

  nlohmann::json python;
  const auto script = bench_script("train_reference.py");
  if (!device.is_cuda() && !script.empty())
    python = run_python(a.python, script, "--batch " + std::to_string(batch) + " --frames " + std::to_string(a.frames) +
                                              " --steps " + std::to_string(run.stop_after_steps) + " --threads " +
                                              std::to_string(torch::get_num_threads()));
  nlohmann::json result = {{"model", "ViT-B/32 (random weights), meanP"},
                           {"device", device.str()},
                           {"threads", torch::get_num_threads()},
                           {"batch", batch},
                           {"frames", a.frames},
                           {"steps", run.stop_after_steps},
                           {"videos_per_s", summary.videos_per_second},
                           {"data_wait_s", summary.data_wait_seconds},
                           {"seconds", summary.train_seconds},
                           {"python", python}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench train: ViT-B/32 shapes, %d frames, batch %d, device %s, %d threads, %lld steps\n", a.frames,
              batch, device.str().c_str(), torch::get_num_threads(), static_cast<long long>(run.stop_after_steps));
  print_ratio("training videos/s (with data loading)", summary.videos_per_second, python, "videos_per_s");
  std::printf("  %-34s %10.2f s of %.2f s\n", "trainer waited for data", summary.data_wait_seconds, summary.train_seconds);
  if (python.empty()) std::printf("  (python3-torch not found: no reference figures)\n");
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto* bench = app.add_subcommand("bench", "Throughput benchmarks (figures only), next to the Python reference path");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  auto common = [args](CLI::App* cmd) {
    add_device_option(cmd, args->device);
    cmd->add_option("--seconds", args->seconds, "measuring time per figure")->capture_default_str();
    cmd->add_option("--python", args->python, "Python with torch for the reference figures")->capture_default_str();
    cmd->add_flag("--json", args->json, "machine-readable output");
  };
  auto* clip = bench->add_subcommand("clip", "Image and text encoding throughput of a ViT-B/32-shaped CLIP");
  common(clip);
  clip->add_option("--batch", args->batch, "images per call")->capture_default_str();
  clip->add_option("--text-batch", args->text_batch, "prompts per call")->capture_default_str();
  clip->add_option("--prompt-tokens", args->prompt_tokens, "tokens per prompt incl. start/end")->capture_default_str();
  clip->add_option("--precision", args->precision, "fp32, or bf16 (autocast)")->capture_default_str();
  clip->callback([&action, args] { action = [args] { return bench_clip(*args); }; });

  auto* video = bench->add_subcommand("video", "Decoding, sampling and end-to-end classify throughput");
  common(video);
  video->add_option("--clips", args->clips, "benchmark clips to generate")->capture_default_str();
  video->add_option("--clip-seconds", args->clip_seconds, "length of each clip")->capture_default_str();
  video->add_option("--frames", args->frames, "frames sampled per video")->capture_default_str();
  video->add_option("--work-dir", args->work_dir, "where the clips are written (reused when present)");
  video->callback([&action, args] { action = [args] { return bench_video(*args); }; });

  auto* train = bench->add_subcommand("train", "Training throughput of a ViT-B/32-shaped ActionCLIP, data loading included");
  common(train);
  train->add_option("--frames", args->frames, "frames per video")->capture_default_str();
  train->add_option("--steps", args->steps, "optimizer steps measured")->capture_default_str();
  train->add_option("--bpe", args->bpe, "CLIP tokenizer file");
  train->add_option("--work-dir", args->work_dir, "where the clips are written (reused when present)");
  train->callback([&action, args] { action = [args] { return bench_train(*args); }; });
}

}  // namespace actionclip::cli
