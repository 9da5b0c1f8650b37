// actionclip: video action recognition as video-text matching, in one native binary.
#include <iostream>

extern "C" {
#include <libavutil/log.h>
}

#include "actionclip/system/openblas_core.h"
#include "actionclip/util/error.h"
#include "commands.h"

int main(int argc, char** argv) {
  // On a CPU newer than OpenBLAS its kernels are generic SSE3 ones, 3x slower: start again with the
  // right ones named (Python references that benchmarks run inherit them).
  actionclip::restart_with_vectorized_openblas(argv);
  CLI::App app{"actionclip: ActionCLIP video action recognition (video-text matching) in C++"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command name
  app.set_help_all_flag("--help-all", "Show help for every command");
  int threads = 0;
  app.add_option("-t,--threads", threads, "CPU threads for the model (default: all cores)");

  av_log_set_level(AV_LOG_ERROR);  // encoder statistics and codec notes are not for users

  actionclip::cli::Action action;
  actionclip::cli::add_model_commands(app, action);
  actionclip::cli::add_models_command(app, action);
  actionclip::cli::add_embed_commands(app, action);
  actionclip::cli::add_classify_commands(app, action);
  actionclip::cli::add_synth_command(app, action);
  actionclip::cli::add_train_commands(app, action);
  actionclip::cli::add_bench_command(app, action);
  actionclip::cli::add_demo_command(app, action);
  actionclip::cli::add_serve_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError with code 0; every other one is a usage error (sysexits' EX_USAGE),
    // kept apart from 1 (the run failed) and 2 (some inputs failed).
    constexpr int kUsageError = 64;
    return app.exit(e) == 0 ? 0 : kUsageError;
  }
  try {
    actionclip::cli::configure_threads(threads);
    return action ? action() : 0;
  } catch (const std::exception& e) {
    std::cerr << "actionclip: error: " << e.what() << std::endl;
    return 1;
  }
}
