// actionclip bench clip: image and text encoding throughput of a CLIP shape (ViT-B/32 by default).
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "actionclip/clip/clip_model.h"
#include "actionclip/clip/int8_quantization.h"
#include "actionclip/clip/linear.h"
#include "actionclip/train/trainer.h"
#include "actionclip/system/precision.h"
#include "actionclip/util/autocast.h"
#include "bench.h"
#include "bench_roofline.h"
#include "common.h"

namespace actionclip::cli {

int bench_clip(const BenchArgs& a) {
  const auto device = parse_device(a.device);
  torch::manual_seed(0);
  const auto config = clip_config_for_arch(a.arch);
  ClipModel model(config);
  model->eval();
  model->to(device);
  const auto precision = decide_precision(precision_from_name(a.precision), device);
  if (!precision.notice.empty()) std::fprintf(stderr, "actionclip: %s\n", precision.notice.c_str());
  const auto resolution = config.image_resolution;
  auto images = torch::randn({a.batch, 3, resolution, resolution}, device);
  // Another precision is held against float32 measured in the same run, on the same model: on a
  // shared machine two runs can differ by more than the gain.
  double float32_images_per_s = 0;
  if (precision.used != Precision::Float32) {
    c10::InferenceMode inference;
    float32_images_per_s = throughput([&] { model->encode_image(images); }, a.batch, a.seconds, device);
  }
  if (precision.used == Precision::Int8) quantize_for_inference(*model);
  c10::InferenceMode inference;
  AutocastScope autocast(precision.used == Precision::BFloat16, device);

  const double images_per_s = throughput([&] { model->encode_image(images); }, a.batch, a.seconds, device);
  // The roofline: float32 GEMM throughput at the encoder's own shapes, and the encoder's share of it.
  nlohmann::json roofline;
  InstructionPeak peak;
  if (!config.resnet() && device.is_cpu()) {
    const auto gemm = measure_roofline(vit_encoder_gemms(config, a.batch), float32_layer, std::max(0.25, a.seconds / 10));
    const double achieved = vit_image_flops(config) * images_per_s / 1e9;
    peak = measure_instruction_peak(cpu_features());
    roofline = {{"image_gflop", vit_image_flops(config) / 1e9},
                {"encoder_gflops", achieved},
                {"fp32_gemm_gflops", gemm.gflops},
                {"share_of_fp32_gemm", achieved / gemm.gflops},
                {"fp32_gemm_shapes", gemm.per_shape},
                {"vector_peak", instruction_peak_json(peak)}};
    if (peak.measured()) roofline["share_of_fp32_vector_peak"] = achieved / (torch::get_num_threads() * peak.float32_gflops);
    // An int8 encoder is also held against the int8 layer's own GEMM at the same shapes.
    if (precision.used == Precision::Int8) {
      const auto int8 = measure_roofline(vit_encoder_gemms(config, a.batch), int8_layer, std::max(0.25, a.seconds / 10));
      roofline["int8_gemm_gops"] = int8.gflops;
      roofline["share_of_int8_gemm"] = achieved / int8.gflops;
      roofline["int8_gemm_shapes"] = int8.per_shape;
    }
  }

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
        project(x.index({torch::arange(x.size(0), ids.options()), eot}), model->text_projection,
                model->text_projection_int8);
      },
      a.text_batch, a.seconds, device);

  nlohmann::json python;
  const auto script = bench_script("clip_reference.py");
  // The Python path builds ViT-B/32 only.
  if (!device.is_cuda() && !script.empty() && a.arch == "ViT-B/32")
    python = run_python(a.python, script,
                        "--batch " + std::to_string(a.batch) + " --text-batch " + std::to_string(a.text_batch) +
                            " --prompt-tokens " + std::to_string(a.prompt_tokens) + " --threads " +
                            std::to_string(torch::get_num_threads()) + " --seconds " + std::to_string(a.seconds));
  nlohmann::json result = {{"model", a.arch + " (random weights)"},
                           {"image_encoder", config.describe_image_encoder()},
                           {"device", device.str()},
                           {"threads", torch::get_num_threads()},
                           {"image_batch", a.batch},
                           {"text_batch", a.text_batch},
                           {"prompt_tokens", a.prompt_tokens},
                           {"images_per_s", images_per_s},
                           {"float32_images_per_s_same_run", float32_images_per_s > 0 ? nlohmann::json(float32_images_per_s) : nlohmann::json()},
                           {"texts_per_s", texts_per_s},
                           {"texts_all_77_positions_per_s", texts_full_per_s},
                           {"peak_memory_mb", peak_mb},
                           {"precision", a.precision},
                           {"precision_used", precision_name(precision.used)},
                           {"machine", machine_json()},
                           {"roofline", roofline},
                           {"python", python}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench clip: %s shapes, random weights, device %s, %d threads, %s\n", a.arch.c_str(),
              device.str().c_str(), torch::get_num_threads(), precision_name(precision.used));
  std::printf("  image batch %d, text batch %d, prompts of %d tokens\n", a.batch, a.text_batch, a.prompt_tokens);
  print_ratio("images/s", images_per_s, python, "images_per_s");
  if (float32_images_per_s > 0)
    std::printf("  %-34s %10.1f   %s %.2fx float32\n", "images/s, float32, same run", float32_images_per_s,
                precision_name(precision.used), images_per_s / float32_images_per_s);
  if (!roofline.empty())
    std::printf("  %-34s %10.1f GFLOP/s (%.2f GFLOP per image) = %.0f%% of float32 GEMM at its shapes, %.1f GFLOP/s\n",
                "roofline: image encoder", roofline["encoder_gflops"].get<double>(), roofline["image_gflop"].get<double>(),
                100 * roofline["share_of_fp32_gemm"].get<double>(), roofline["fp32_gemm_gflops"].get<double>());
  if (roofline.contains("share_of_int8_gemm"))
    std::printf("  %-34s %.0f%% of int8 GEMM at its shapes, %.1f GOP/s\n", "roofline: image encoder",
                100 * roofline["share_of_int8_gemm"].get<double>(), roofline["int8_gemm_gops"].get<double>());
  if (peak.measured()) {
    print_instruction_peak(peak);
    std::printf("  %-34s %.0f%% of %d cores' float32 vector peak\n", "roofline: image encoder",
                100 * roofline["share_of_fp32_vector_peak"].get<double>(), torch::get_num_threads());
  }
  print_ratio("text prompts/s", texts_per_s, python, "texts_per_s");
  std::printf("  %-34s %10.1f   (end-token cut: %.1fx)\n", "text prompts/s, all 77 positions", texts_full_per_s,
              texts_per_s / texts_full_per_s);
  std::printf("  %-34s %10.0f MB\n", "peak resident memory (inference)", peak_mb);
  if (python.empty())
    std::printf("  (%s)\n", a.arch == "ViT-B/32" ? "python3-torch not found: no reference figures"
                                                : "the Python reference path builds ViT-B/32 only");
  return 0;
}

}  // namespace actionclip::cli
