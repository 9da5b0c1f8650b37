// actionclip: video action recognition as video-text matching, in one native binary.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

extern "C" {
#include <libavutil/log.h>
}

#include "actionclip/system/openblas_core.h"
#include "actionclip/util/error.h"
#include "commands.h"

namespace {

// OpenBLAS chose its kernels when it loaded, and on a CPU newer than it they are generic SSE3 ones,
// 3x slower (actionclip/system/openblas_core.h): start again with the right ones named. Python
// references that benchmarks run inherit them, so both sides are measured on the same kernels.
void restart_with_vectorized_openblas(char** argv) {
  if (const char* named = std::getenv("OPENBLAS_CORETYPE"); named && *named) return;
  const auto& cpu = actionclip::cpu_features();
  if (!actionclip::openblas_core_is_fallback(actionclip::openblas_core(), cpu)) return;
  ::setenv("OPENBLAS_CORETYPE", actionclip::openblas_core_for(cpu).c_str(), 1);
  ::execv("/proc/self/exe", argv);  // only returns on failure: then run on as loaded
}

}  // namespace

int main(int argc, char** argv) {
  restart_with_vectorized_openblas(argv);
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
