#pragma once
// Each group of subcommands registers itself on the application; the chosen one stores its
// work in `action`.
#include <CLI/CLI.hpp>

#include "common.h"

namespace actionclip::cli {

void add_model_commands(CLI::App& app, Action& action);     // info, convert
void add_embed_commands(CLI::App& app, Action& action);     // embed-text, embed-image, embed-video, search
void add_classify_commands(CLI::App& app, Action& action);  // zero-shot-image, classify
void add_synth_command(CLI::App& app, Action& action);      // synth
void add_bench_command(CLI::App& app, Action& action);      // bench
void add_demo_command(CLI::App& app, Action& action);       // demo
void add_train_commands(CLI::App& app, Action& action);     // train, eval
void add_models_command(CLI::App& app, Action& action);     // models
void add_serve_command(CLI::App& app, Action& action);      // serve

}  // namespace actionclip::cli
