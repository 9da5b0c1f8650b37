// actionclip bench int8: what int8 inference costs in accuracy and gains in GEMM speed here.
// Accuracy: cosine of int8 to float32 embeddings and top-1 agreement over 400 labels, on a
// ViT-B/32-shaped random model and on the trained built-in model, with synthetic clips; for the
// default (image encoder int8) and with the text encoder int8 too.
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstdio>

#include "actionclip/clip/int8_quantization.h"
#include "actionclip/data/synth_agreement.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/model/builtin_model.h"
#include "actionclip/model/model_io.h"
#include "actionclip/system/precision.h"
#include "bench.h"
#include "bench_roofline.h"
#include "common.h"

namespace actionclip::cli {
namespace {

constexpr int64_t kLabels = 400;

struct Agreement {
  double video_cosine_min = 0, video_cosine_mean = 0, text_cosine_min = 0, text_cosine_mean = 0;
  double top1_agreement = 0;              // image encoder int8 (the default)
  double top1_agreement_both_encoders = 0;  // text encoder int8 too: the text cosines are its
  double float32_seconds = 0, int8_seconds = 0;  // encoding the clips

  nlohmann::json to_json() const {
    return {{"video_cosine_min", video_cosine_min}, {"video_cosine_mean", video_cosine_mean},
            {"text_cosine_min", text_cosine_min},   {"text_cosine_mean", text_cosine_mean},
            {"top1_agreement", top1_agreement},     {"top1_agreement_both_encoders", top1_agreement_both_encoders},
            {"float32_encode_seconds", float32_seconds},
            {"int8_encode_seconds", int8_seconds}};
  }
};

// Unit-length video embeddings of `clips` [N, T, 3, H, W], a few clips per call.
torch::Tensor encode_clips(ActionClipModel& model, const torch::Tensor& clips, double& seconds) {
  const double start = now_seconds();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < clips.size(0); i += 4) out.push_back(model->encode_video(clips.slice(0, i, i + 4)));
  seconds = now_seconds() - start;
  return l2_normalize(torch::cat(out));
}

double agreement(const torch::Tensor& a, const torch::Tensor& b) { return (a == b).to(torch::kDouble).mean().item<double>(); }

void compare_embeddings(const torch::Tensor& fp32_videos, const torch::Tensor& int8_videos, const torch::Tensor& fp32_texts,
                        const torch::Tensor& int8_texts, Agreement& a) {
  const auto videos = torch::cosine_similarity(fp32_videos, int8_videos, 1);
  const auto texts = torch::cosine_similarity(fp32_texts.flatten(0, -2), int8_texts.flatten(0, -2), 1);
  a.video_cosine_min = videos.min().item<double>();
  a.video_cosine_mean = videos.mean().item<double>();
  a.text_cosine_min = texts.min().item<double>();
  a.text_cosine_mean = texts.mean().item<double>();
}

// 400 prompts of random tokens (a random model has no words to tell apart).
torch::Tensor random_prompts() {
  auto ids = torch::zeros({kLabels, 77}, torch::kLong);
  for (int64_t i = 0; i < kLabels; ++i) {
    const auto length = 6 + i % 10;
    ids[i][0].fill_(49406);
    ids[i].slice(0, 1, length - 1).copy_(torch::randint(1, 49000, {length - 2}));
    ids[i][length - 1].fill_(49407);
  }
  return ids;
}

Agreement vit_b32_agreement(const BenchArgs& a) {
  torch::manual_seed(0);
  ActionClipModel model(ClipConfig::vit_b32(), ActionClipOptions{PromptType::MeanP, a.frames, true});
  model->eval();
  data::SynthOptions synth;
  synth.frames = 16;
  synth.width = synth.height = 224;
  synth.seed = 5;
  const auto clips = data::synth_clip_batch(synth, a.accuracy_clips, a.frames, 224);
  const auto prompts = random_prompts();
  Agreement out;
  auto run = [&](double& seconds) {
    c10::InferenceMode inference;
    auto videos = encode_clips(model, clips, seconds);
    auto texts = l2_normalize(model->encode_text(prompts));
    return std::pair{videos, texts};
  };
  const auto [fp32_videos, fp32_texts] = run(out.float32_seconds);
  quantize_for_inference(*model->clip);
  const auto [int8_videos, float_texts] = run(out.int8_seconds);
  quantize_for_inference(*model->clip, Int8Encoders::ImageAndText);
  const auto int8_texts = [&] {
    c10::InferenceMode inference;
    return l2_normalize(model->encode_text(prompts));
  }();
  compare_embeddings(fp32_videos, int8_videos, fp32_texts, int8_texts, out);
  const auto fp32_top = fp32_videos.matmul(fp32_texts.t()).argmax(1);
  out.top1_agreement = agreement(fp32_top, int8_videos.matmul(float_texts.t()).argmax(1));
  out.top1_agreement_both_encoders = agreement(fp32_top, int8_videos.matmul(int8_texts.t()).argmax(1));
  return out;
}

Agreement builtin_agreement(int clips_count) {
  LoadOptions options;
  auto fp32 = load_model(builtin_model_path(), options);
  options.int8 = true;
  auto int8 = load_model(builtin_model_path(), options);
  options.int8_encoders = Int8Encoders::ImageAndText;
  auto both = load_model(builtin_model_path(), options);
  const auto& card = fp32.metadata.at("builtin");
  data::SynthOptions synth;
  synth.colors = card.at("colors").get<std::vector<std::string>>();
  synth.shapes = card.at("shapes").get<std::vector<std::string>>();
  synth.motions = card.at("motions").get<std::vector<std::string>>();
  synth.frames = card.at("frames").get<int>();
  synth.width = synth.height = card.at("frame_size").get<int>();
  synth.seed = 99;  // clips training never saw
  const auto labels = data::synth_label_set(synth.colors, synth.shapes, synth.motions, kLabels);
  const auto clips = data::synth_clip_batch(synth, clips_count, static_cast<int>(fp32.model->options().num_frames),
                                            static_cast<int>(fp32.model->clip->config().image_resolution));
  Agreement out;
  auto run = [&](LoadedModel& loaded, double& seconds) {
    c10::InferenceMode inference;
    auto texts = TextEmbedder(loaded.model, loaded.tokenizer).embed_labels(labels, loaded.templates);
    auto videos = encode_clips(loaded.model, clips, seconds);
    return std::pair{videos, texts};
  };
  const auto [fp32_videos, fp32_texts] = run(fp32, out.float32_seconds);
  const auto [int8_videos, float_texts] = run(int8, out.int8_seconds);
  const auto int8_texts = [&] {
    c10::InferenceMode inference;
    return TextEmbedder(both.model, both.tokenizer).embed_labels(labels, both.templates);
  }();
  compare_embeddings(fp32_videos, int8_videos, fp32_texts.features, int8_texts.features, out);
  const auto fp32_top = label_probabilities(fp32_videos, fp32_texts).argmax(1);
  out.top1_agreement = agreement(fp32_top, label_probabilities(int8_videos, float_texts).argmax(1));
  out.top1_agreement_both_encoders = agreement(fp32_top, label_probabilities(int8_videos, int8_texts).argmax(1));
  return out;
}

void print_agreement(const char* model, int clips, const Agreement& a) {
  std::printf("  %s, %d synthetic clips x %lld labels:\n", model, clips, static_cast<long long>(kLabels));
  std::printf("    %-40s min %.5f   mean %.5f\n", "cosine to float32, video embeddings", a.video_cosine_min,
              a.video_cosine_mean);
  std::printf("    %-40s min %.5f   mean %.5f\n", "cosine to float32, text embeddings (int8)", a.text_cosine_min,
              a.text_cosine_mean);
  std::printf("    %-40s %.1f%% image encoder int8 (default), %.1f%% both encoders\n", "top-1 label = float32's",
              100 * a.top1_agreement, 100 * a.top1_agreement_both_encoders);
  std::printf("    %-40s %.2f s float32, %.2f s int8 (%.2fx)\n", "encoding the clips", a.float32_seconds, a.int8_seconds,
              a.float32_seconds / a.int8_seconds);
}

}  // namespace

int bench_int8(const BenchArgs& a) {
  const auto decision = decide_precision(Precision::Int8, torch::Device(torch::kCPU));
  // ViT-B/32's GEMMs for a batch of 16 images.
  const auto shapes = vit_encoder_gemms(ClipConfig::vit_b32(), 16);
  const double seconds_per_shape = std::max(0.25, a.seconds / 10);
  const auto float32 = measure_roofline(shapes, float32_layer, seconds_per_shape);
  const auto int8 = measure_roofline(shapes, int8_layer, seconds_per_shape);
  const auto peak = measure_instruction_peak(cpu_features());
  const auto vit = vit_b32_agreement(a);
  const int builtin_clips = 5 * a.accuracy_clips;
  const auto builtin = builtin_agreement(builtin_clips);
  nlohmann::json result = {{"machine", machine_json()},
                           {"int8_engine", decision.int8_engine},
                           {"gemm",
                            {{"float32_gflops", float32.gflops},
                             {"int8_gops", int8.gflops},
                             {"int8_over_float32", int8.gflops / float32.gflops},
                             {"float32_shapes", float32.per_shape},
                             {"int8_shapes", int8.per_shape}}},
                           {"vector_peak", instruction_peak_json(peak)},
                           {"vit_b32_random", vit.to_json()},
                           {"builtin_model", builtin.to_json()},
                           {"clips", {{"vit_b32_random", a.accuracy_clips}, {"builtin_model", builtin_clips}}},
                           {"labels", kLabels}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench int8: %s engine, %d threads\n", decision.int8_engine.c_str(), torch::get_num_threads());
  std::printf("  GEMM at ViT-B/32's shapes, batch 16: float32 %.1f GFLOP/s, int8 %.1f GOP/s (%.2fx)\n", float32.gflops,
              int8.gflops, int8.gflops / float32.gflops);
  print_instruction_peak(peak);
  print_agreement("ViT-B/32 shape, random weights, random-token labels", a.accuracy_clips, vit);
  print_agreement("built-in model (trained), labels in its world's words", builtin_clips, builtin);
  return 0;
}

}  // namespace actionclip::cli
