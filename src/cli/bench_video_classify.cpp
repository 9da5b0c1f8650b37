// bench video's end-to-end classify figures, one per precision. The model is built once from a
// fixed seed; int8 quantizes it in place, so int8 runs after the float precisions.
#include "bench_video_classify.h"

#include <algorithm>
#include <cstdio>

#include "actionclip/clip/int8_quantization.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/system/precision.h"
#include "actionclip/util/error.h"

namespace actionclip::cli {

namespace {

constexpr Precision kRunOrder[] = {Precision::Float32, Precision::BFloat16, Precision::Int8};

bool requested(const BenchArgs& a, Precision precision) {
  for (const auto& name : a.video_precisions)
    if (precision_from_name(name) == precision) return true;
  return false;
}

}  // namespace

nlohmann::json measure_classify_precisions(const BenchArgs& a, const std::vector<std::string>& paths,
                                           const torch::Device& device) {
  torch::manual_seed(0);
  ActionClipModel model(ClipConfig::vit_b32(), ActionClipOptions{PromptType::MeanP, a.frames, true});
  model->eval();
  model->to(device);
  VideoEncoderOptions options;
  options.views.frames = a.frames;
  options.batch_size = 8;
  options.decode_threads = 2;
  options.device = device;

  nlohmann::json figures = nlohmann::json::object();
  for (const auto precision : kRunOrder) {
    if (!requested(a, precision)) continue;
    const std::string name = precision_name(precision);
    PrecisionDecision decision;
    try {
      decision = decide_precision(precision, device);
    } catch (const Error& e) {
      figures[name] = {{"skipped", e.what()}};
      continue;
    }
    const std::string used = precision_name(decision.used);
    nlohmann::json figure;
    // A precision decided into one already measured is the same configuration: not run twice.
    const auto same = std::find_if(figures.begin(), figures.end(), [&](const nlohmann::json& f) {
      return f.value("used", "") == used && !f.contains("same_run_as");
    });
    if (same != figures.end()) {
      figure = *same;
      figure["same_run_as"] = same.key();
    } else {
      if (decision.used == Precision::Int8) quantize_for_inference(*model->clip);
      options.bfloat16 = decision.used == Precision::BFloat16;
      VideoEncoder encoder(model, options);
      encoder.encode(paths, [](EncodedVideo&) {});  // warm-up
      const auto stats = encoder.encode(paths, [](EncodedVideo&) {});
      figure = {{"used", used},
                {"videos_per_s", static_cast<double>(paths.size()) / stats.seconds},
                {"data_wait_s", stats.data_wait_seconds}};
    }
    if (!decision.notice.empty()) figure["notice"] = decision.notice;
    figures[name] = figure;
  }
  return figures;
}

void print_classify_precisions(const nlohmann::json& classify, const nlohmann::json& python) {
  for (const auto precision : kRunOrder) {
    const std::string name = precision_name(precision);
    if (!classify.contains(name)) continue;
    const auto& figure = classify[name];
    if (figure.contains("skipped")) {
      std::printf("  classify, %s: skipped (%s)\n", name.c_str(), figure["skipped"].get<std::string>().c_str());
      continue;
    }
    const auto used = figure["used"].get<std::string>();
    const auto what = (used == name ? name : name + " -> " + used) + ", videos/s";
    print_ratio(what.c_str(), figure["videos_per_s"].get<double>(), python, "videos_per_s");
    if (figure.contains("same_run_as"))
      std::printf("    (the %s run's figure: the same configuration)\n", figure["same_run_as"].get<std::string>().c_str());
    else
      std::printf("  %-34s %10.2f s\n", "  model waited for data", figure["data_wait_s"].get<double>());
    if (figure.contains("notice")) std::printf("    %s: %s\n", name.c_str(), figure["notice"].get<std::string>().c_str());
  }
}

}  // namespace actionclip::cli
