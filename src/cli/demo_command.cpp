// actionclip demo: the main job end to end with nothing downloaded. It renders a few new
// synthetic clips (some of colour/shape/motion combinations the built-in model never saw) and
// classifies them with the built-in model, whose labels are text: the held-out combinations are
// recognised from their words alone.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>

#include "actionclip/data/synth.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/model/builtin_model.h"
#include "actionclip/util/error.h"
#include "actionclip/video/video_writer.h"
#include "commands.h"

namespace actionclip::cli {
namespace fs = std::filesystem;

namespace {

struct DemoArgs {
  std::string out;
  uint64_t seed = 2026;
  int clips_per_kind = 2;  // seen and held-out combinations each
  int k = 3;
};

// The built-in model's record of its training data (builtin_model.h).
struct TrainingCard {
  std::string trained_on;
  data::SynthOptions synth;
  std::set<std::string> held_out;
};

TrainingCard read_card(const LoadedModel& loaded) {
  const auto& meta = loaded.metadata;
  if (!meta.contains("builtin") || !meta.contains("labels"))
    throw FileError(loaded.path, "has no 'builtin' training record in its metadata: not the built-in model");
  const auto& card = meta.at("builtin");
  TrainingCard out;
  out.trained_on = card.value("trained_on", std::string());
  out.synth.colors = card.at("colors").get<std::vector<std::string>>();
  out.synth.shapes = card.at("shapes").get<std::vector<std::string>>();
  out.synth.motions = card.at("motions").get<std::vector<std::string>>();
  out.synth.frames = card.at("frames").get<int>();
  out.synth.width = out.synth.height = card.at("frame_size").get<int>();
  for (const auto& label : card.at("held_out")) out.held_out.insert(label.get<std::string>());
  return out;
}

// `count` of `classes` spread over the list, so the demo shows different colours and shapes.
std::vector<data::SynthClass> spread(const std::vector<data::SynthClass>& classes, int count) {
  std::vector<data::SynthClass> picked;
  const size_t n = std::min(classes.size(), static_cast<size_t>(count));
  for (size_t i = 0; i < n; ++i) picked.push_back(classes[(i * classes.size() / n + i) % classes.size()]);
  return picked;
}

std::string make_output_folder(const std::string& requested) {
  if (!requested.empty()) {
    fs::create_directories(requested);
    return requested;
  }
  std::string pattern = (fs::temp_directory_path() / "actionclip-demo-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw FileError(pattern, "cannot create a temporary folder");
  return pattern;
}

int run_demo(const DemoArgs& args) {
  LoadOptions load_options;
  auto loaded = load_model(builtin_model_path(), load_options);
  TrainingCard card = read_card(loaded);
  const auto labels = loaded.metadata.at("labels").get<std::vector<std::string>>();

  // New videos: a seed the training data did not use.
  card.synth.seed = args.seed;
  card.synth.out_dir = make_output_folder(args.out);
  std::vector<data::SynthClass> seen, held_out;
  for (const auto& cls : data::synth_classes(card.synth)) (card.held_out.count(cls.name) ? held_out : seen).push_back(cls);
  std::vector<data::SynthClass> clips = spread(seen, args.clips_per_kind);
  for (const auto& cls : spread(held_out, args.clips_per_kind)) clips.push_back(cls);

  std::vector<std::string> paths;
  const video::VideoWriterOptions writer_options{video::VideoCodec::Auto, 1};
  for (const auto& cls : clips) {
    paths.push_back((fs::path(card.synth.out_dir) / (cls.slug + ".avi")).string());
    video::VideoWriter writer(paths.back(), card.synth.width, card.synth.height, card.synth.fps, writer_options);
    for (const auto& frame : data::render_synth_video(card.synth, cls, 0)) writer.write(frame);
    writer.close();
  }

  std::cout << "actionclip demo: the built-in model (" << loaded.path << ")\n"
            << "  " << card.trained_on << "\n"
            << "  " << labels.size() - card.held_out.size() << " of the " << labels.size()
            << " labels were trained on; the other " << card.held_out.size()
            << " (marked \"held out\") it knows only from their words.\n\n";

  TextEmbedder embedder(loaded.model, loaded.tokenizer);
  const auto label_embeddings = embedder.embed_labels(labels, loaded.templates);
  ModelArgs model_args;
  VideoEncoder encoder(loaded.model, video_encoder_options(loaded, "1x1", 8, 2, model_args));
  int correct = 0, correct_held_out = 0, failed = 0;
  const auto mark = [&card](const std::string& label) { return card.held_out.count(label) ? "  (held out)" : ""; };
  encoder.encode(paths, [&](EncodedVideo& video) {
    const auto& truth = clips[video.index].name;
    std::cout << video.path << "\n  true label: " << truth << mark(truth) << "\n";
    if (!video.error.empty()) {
      std::cout << "  failed: " << video.error << "\n\n";
      ++failed;
      return;
    }
    const auto ranked = top_k(video_label_probabilities(video.view_features, label_embeddings), labels, args.k);
    for (const auto& [label, probability] : ranked)
      std::cout << "  " << std::fixed << std::setprecision(4) << probability << "  " << label << mark(label) << "\n";
    if (ranked.front().first == truth) {
      ++correct;
      if (card.held_out.count(truth)) ++correct_held_out;
    }
    std::cout << "\n";
  });

  const auto held_out_clips = std::count_if(clips.begin(), clips.end(), [&](const auto& c) { return card.held_out.count(c.name); });
  std::cout << correct << " of " << clips.size() << " clips ranked their true label first (" << correct_held_out
            << " of the " << held_out_clips << " held-out ones); chance is 1 in " << labels.size() << ".\n"
            << "The clips are in " << card.synth.out_dir << "\n\n"
            << "Next: real videos need a real CLIP, such as OpenAI's ViT-B/32 (README, Weights):\n"
            << "  actionclip classify --model ViT-B/32 --labels \"surfing,cooking,juggling\" your_video.mp4\n";
  return failed ? 2 : 0;
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "demo", "Classify a few new synthetic clips with the built-in model (no download): the main job in seconds");
  auto args = std::make_shared<DemoArgs>();
  cmd->add_option("--out", args->out, "folder for the clips (default: a new temporary folder)");
  cmd->add_option("--seed", args->seed, "seed of the clips")->capture_default_str();
  cmd->add_option("-k,--top-k", args->k, "labels to show per clip")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->callback([&action, args] { action = [args] { return run_demo(*args); }; });
}

}  // namespace actionclip::cli
