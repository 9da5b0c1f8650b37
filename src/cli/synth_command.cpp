// actionclip synth
#include <iostream>

#include "actionclip/data/synth.h"
#include "actionclip/data/labels.h"
#include "actionclip/util/progress.h"
#include "commands.h"

namespace actionclip::cli {

void add_synth_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("synth", "Generate a seeded synthetic video dataset (moving shapes, natural-language labels)");
  auto options = std::make_shared<data::SynthOptions>();
  auto colors = std::make_shared<std::string>();
  auto shapes = std::make_shared<std::string>();
  auto motions = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("-o,--out", options->out_dir, "output folder")->required();
  cmd->add_option("-n,--videos-per-class", options->videos_per_class, "videos per class")->capture_default_str();
  cmd->add_option("--frames", options->frames, "frames per video")->capture_default_str();
  cmd->add_option("--width", options->width, "frame width (even)")->capture_default_str();
  cmd->add_option("--height", options->height, "frame height (even)")->capture_default_str();
  cmd->add_option("--fps", options->fps, "frame rate")->capture_default_str();
  cmd->add_option("--seed", options->seed, "random seed (same seed, same files)")->capture_default_str();
  cmd->add_option("--container", options->container, "avi (MPEG-4), mp4 (H.264) or webm (VP9)")->capture_default_str();
  cmd->add_option("--keyframe-interval", options->keyframe_interval, "GOP size (1 = intra only)")->capture_default_str();
  cmd->add_option("--val-fraction", options->val_fraction, "share of each class held out in val.txt")->capture_default_str();
  cmd->add_option("--colors", *colors, "comma-separated subset of: red, green, blue, ...");
  cmd->add_option("--shapes", *shapes, "comma-separated subset of: square, circle, triangle");
  cmd->add_option("--motions", *motions, "comma-separated subset of: left, right, up, down, clockwise, anticlockwise, growing, shrinking");
  cmd->add_flag("--json", *json, "print the summary as JSON");
  cmd->callback([&action, options, colors, shapes, motions, json] {
    action = [options, colors, shapes, motions, json] {
      if (!colors->empty()) options->colors = data::parse_label_list(*colors);
      if (!shapes->empty()) options->shapes = data::parse_label_list(*shapes);
      if (!motions->empty()) options->motions = data::parse_label_list(*motions);
      Progress progress("synth", 0, !*json);
      auto summary = data::generate_synth_dataset(*options, [&](int, int total) {
        progress.set_total(total);
        progress.advance(1);
      });
      progress.finish();
      if (*json) {
        nlohmann::json classes = nlohmann::json::array();
        for (const auto& c : summary.classes) classes.push_back({{"id", c.id}, {"name", c.name}, {"reversed_id", c.reversed_id}});
        print_json({{"out", options->out_dir}, {"classes", classes}, {"videos", summary.videos},
                    {"train", summary.train_videos}, {"val", summary.val_videos}, {"encoder", summary.encoder}});
      } else {
        std::cout << "wrote " << summary.videos << " videos (" << summary.train_videos << " train, " << summary.val_videos
                  << " val) of " << summary.classes.size() << " classes to " << options->out_dir << " with "
                  << summary.encoder << "\n";
      }
      return 0;
    };
  });
}

}  // namespace actionclip::cli
