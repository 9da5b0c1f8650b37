// int8 inference (--precision int8): CLIP's projections on int8 weights with dynamically quantized
// activations stay close to float32 (cosine of embeddings, top-1 labels), files converted to int8
// load to the same model as quantizing at load, and the precision decision refuses what cannot run.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "actionclip/build_paths.h"
#include "actionclip/clip/int8_quantization.h"
#include "actionclip/data/synth_agreement.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/io/safetensors.h"
#include "actionclip/model/builtin_model.h"
#include "actionclip/model/model_io.h"
#include "actionclip/system/precision.h"
#include "actionclip/system/quantized_engines.h"
#include "actionclip/train/train_config.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "shell.h"
#include "temp_dir.h"

namespace {

using actionclip::testing::fixture;
namespace fs = std::filesystem;

constexpr double kMinCosine = 0.99;

bool has_int8_engine() {
  return !actionclip::preferred_int8_engine(actionclip::available_quantized_engines(), actionclip::cpu_features()).empty();
}

#define REQUIRE_INT8_ENGINE()                                                                     \
  do {                                                                                            \
    if (!has_int8_engine()) GTEST_SKIP() << "this libtorch has neither fbgemm nor qnnpack";       \
  } while (0)

actionclip::LoadedModel load(const std::string& path, bool int8, bool tokenizer = false,
                             actionclip::Int8Encoders encoders = actionclip::Int8Encoders::Image) {
  actionclip::LoadOptions options;
  options.load_tokenizer = tokenizer;
  options.int8 = int8;
  options.int8_encoders = encoders;
  return actionclip::load_model(path, options);
}

// Row-wise cosine similarity; the smallest over the rows.
double min_cosine(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return torch::cosine_similarity(a.flatten(1), b.flatten(1), 1).min().item<double>();
}

struct Embeddings {
  torch::Tensor images, texts, videos;
};

Embeddings reference_embeddings(actionclip::LoadedModel& loaded) {
  const auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  torch::NoGradGuard no_grad;
  const auto& pixels = expected.at("pixels");  // [2 videos, 4 frames, 3, 32, 32]
  return {loaded.model->clip->encode_image(pixels.flatten(0, 1)), loaded.model->clip->encode_text(expected.at("text_ids")),
          loaded.model->encode_video(pixels)};
}

TEST(Int8, ParityFixtureEmbeddingsStayWithinCosine099OfTheReference) {
  REQUIRE_FIXTURES();
  REQUIRE_INT8_ENGINE();
  const auto expected = actionclip::io::load_safetensors(fixture("reference/expected.safetensors"));
  auto int8 = load(fixture("reference/actionclip-tiny-transf.pt"), true, false, actionclip::Int8Encoders::ImageAndText);
  ASSERT_TRUE(actionclip::is_int8(*int8.model->clip));
  auto fp32 = load(fixture("reference/actionclip-tiny-transf.pt"), false);
  const auto q = reference_embeddings(int8);
  const auto f = reference_embeddings(fp32);
  // Against the reference implementation's float32 outputs, and against ours.
  EXPECT_GE(min_cosine(q.images, expected.at("image_features")), kMinCosine);
  EXPECT_GE(min_cosine(q.texts, expected.at("text_features")), kMinCosine);
  EXPECT_GE(min_cosine(q.videos, expected.at("video_features.Transf")), kMinCosine);
  EXPECT_GE(min_cosine(q.videos, f.videos), kMinCosine);
  // int8 differs from float32 at all (the quantized path ran), but by little.
  EXPECT_GT((q.images - f.images).abs().max().item<double>(), 1e-6);
  EXPECT_GT((q.texts - f.texts).abs().max().item<double>(), 1e-6);
  std::cout << "[ figures ] tiny fixture CLIP, int8 vs float32 cosine: images " << min_cosine(q.images, f.images)
            << ", texts " << min_cosine(q.texts, f.texts) << ", videos " << min_cosine(q.videos, f.videos) << "\n";
}

TEST(Int8, ResNetAttentionPoolIsQuantizedToo) {
  REQUIRE_FIXTURES();
  REQUIRE_INT8_ENGINE();
  auto int8 = load(fixture("reference/clip-tiny-rn-jit.pt"), true);
  const auto expected = actionclip::io::load_safetensors(fixture("reference/expected-rn.safetensors"));
  std::set<std::string> keys;
  for (const auto& p : actionclip::int8_projections(*int8.model->clip)) {
    keys.insert(p.weight_key);
    // The image encoder's projections are int8 and their float weights freed; the text encoder's stay.
    EXPECT_EQ(p.packed->defined(), p.in_image_encoder()) << p.weight_key;
    EXPECT_EQ(p.weight.numel() == 0, p.in_image_encoder()) << p.weight_key;
    EXPECT_EQ(p.in_image_encoder_body(), p.in_image_encoder()) << p.weight_key << ": a ResNet has no visual.proj";
  }
  EXPECT_TRUE(keys.count("visual.attnpool.q_proj.weight"));
  EXPECT_TRUE(keys.count("visual.attnpool.c_proj.weight"));
  torch::NoGradGuard no_grad;
  EXPECT_GE(min_cosine(int8.model->clip->encode_image(expected.at("pixels").flatten(0, 1)), expected.at("image_features")),
            kMinCosine);
}

// ViT-B/32's widths and depth (768 x 12 image, 512 x 12 text), random weights.
TEST(Int8, VitB32ShapedRandomModelStaysWithinCosine099) {
  REQUIRE_INT8_ENGINE();
  torch::manual_seed(3);
  actionclip::ActionClipModel model(actionclip::ClipConfig::vit_b32(),
                                    actionclip::ActionClipOptions{actionclip::PromptType::MeanP, 4, true});
  model->eval();
  torch::NoGradGuard no_grad;
  const auto frames = torch::randn({2, 4, 3, 224, 224});
  auto ids = torch::zeros({6, 77}, torch::kLong);
  ids.select(1, 0).fill_(49406);
  ids.slice(1, 1, 11).copy_(torch::randint(1, 49000, {6, 10}));
  ids.select(1, 11).fill_(49407);
  const auto videos = model->encode_video(frames);
  const auto texts = model->encode_text(ids);
  actionclip::quantize_for_inference(*model->clip, actionclip::Int8Encoders::ImageAndText);
  const auto int8_videos = model->encode_video(frames);
  const auto int8_texts = model->encode_text(ids);
  EXPECT_GE(min_cosine(int8_videos, videos), kMinCosine);
  EXPECT_GE(min_cosine(int8_texts, texts), kMinCosine);
  std::cout << "[ figures ] ViT-B/32-shaped random model, int8 vs float32 cosine: videos "
            << min_cosine(int8_videos, videos) << ", texts " << min_cosine(int8_texts, texts) << "\n";
}

// The built-in model (trained) on 300 new synthetic clips and 400 labels, most of them variants
// with words it never learnt, so many clips have near-tied labels. The default quantizes the
// image encoder only (label embeddings are computed once per label set) and picks float32's top
// label for at least 98% of the clips; with the text encoder int8 too, near ties flip more often
// (96-97% measured; bf16 autocast 70%; with one activation scale per tensor instead of per row, 93.5%).
TEST(Int8, TopLabelAgreesWithFloat32On98PercentOf300ClipsWith400Labels) {
  REQUIRE_INT8_ENGINE();
  const auto path = actionclip::builtin_model_path();
  auto fp32 = load(path, false, true);
  auto image_int8 = load(path, true, true);
  actionclip::LoadOptions both_options;
  both_options.int8 = true;
  both_options.int8_encoders = actionclip::Int8Encoders::ImageAndText;
  auto both_int8 = actionclip::load_model(path, both_options);
  const auto& card = fp32.metadata.at("builtin");
  actionclip::data::SynthOptions synth;
  synth.colors = card.at("colors").get<std::vector<std::string>>();
  synth.shapes = card.at("shapes").get<std::vector<std::string>>();
  synth.motions = card.at("motions").get<std::vector<std::string>>();
  synth.frames = card.at("frames").get<int>();
  synth.width = synth.height = card.at("frame_size").get<int>();
  synth.seed = 2024;  // clips training never saw
  const auto labels = actionclip::data::synth_label_set(synth.colors, synth.shapes, synth.motions, 400);
  const auto batch = actionclip::data::synth_clip_batch(synth, 300, static_cast<int>(fp32.model->options().num_frames),
                                                        static_cast<int>(fp32.model->clip->config().image_resolution));
  torch::NoGradGuard no_grad;
  auto top_labels = [&](actionclip::LoadedModel& loaded) {
    const auto embedded = actionclip::TextEmbedder(loaded.model, loaded.tokenizer).embed_labels(labels, loaded.templates);
    return actionclip::label_probabilities(loaded.model->encode_video(batch), embedded).argmax(1);
  };
  const auto fp32_top = top_labels(fp32);
  const double image_agreement = (top_labels(image_int8) == fp32_top).to(torch::kDouble).mean().item<double>();
  const double both_agreement = (top_labels(both_int8) == fp32_top).to(torch::kDouble).mean().item<double>();
  EXPECT_GE(image_agreement, 0.98);
  EXPECT_GE(both_agreement, 0.95);
  std::cout << "[ figures ] built-in model, 300 clips x 400 labels: int8 top-1 = float32 top-1 for "
            << 100 * image_agreement << "% of clips (image encoder int8), " << 100 * both_agreement
            << "% (both encoders)\n";
}

TEST(Int8, ConvertedFileIsSmallerAndLoadsToTheQuantizedAtLoadModel) {
  REQUIRE_FIXTURES();
  REQUIRE_INT8_ENGINE();
  actionclip::testing::TempDir dir("actionclip_int8_");
  const auto cli = actionclip::testing::quote(ACTIONCLIP_CLI_PATH);
  const auto source = actionclip::testing::quote(fixture("reference/clip-tiny-jit.pt"));
  const auto fp32_file = dir.path("fp32.safetensors"), int8_file = dir.path("int8.safetensors");
  for (const auto& [out, precision] : {std::pair{fp32_file, "fp32"}, std::pair{int8_file, "int8"}}) {
    const auto run = actionclip::testing::run_shell(cli + " convert " + source + " " +
                                                        actionclip::testing::quote(out) + " --precision " + precision,
                                                    dir.path("err"));
    ASSERT_EQ(run.code, 0) << run.err;
  }
  // The image encoder's projections hold most of its weights; stored as int8 they take a quarter
  // of the bytes. The text encoder's stay float32.
  int64_t projection_floats = 0;
  auto at_load = load(fixture("reference/clip-tiny-jit.pt"), true);
  for (const auto& p : actionclip::int8_projections(*load(fixture("reference/clip-tiny-jit.pt"), false).model->clip))
    if (p.in_image_encoder_body()) projection_floats += p.weight.numel();
  const auto stored = actionclip::io::load_safetensors(int8_file);
  EXPECT_EQ(stored.at("visual.transformer.resblocks.0.attn.in_proj_weight").scalar_type(), torch::kInt8);
  EXPECT_EQ(stored.at("transformer.resblocks.0.attn.in_proj_weight").scalar_type(), torch::kFloat32);
  EXPECT_EQ(stored.at("visual.proj").scalar_type(), torch::kFloat32);
  const auto saved = static_cast<double>(fs::file_size(fp32_file)) - static_cast<double>(fs::file_size(int8_file));
  EXPECT_NEAR(saved, 3.0 * static_cast<double>(projection_floats), 0.02 * 3.0 * static_cast<double>(projection_floats))
      << fs::file_size(fp32_file) << " vs " << fs::file_size(int8_file);

  auto from_file = load(int8_file, false);  // an int8 file is int8 whatever the options say
  ASSERT_TRUE(actionclip::is_int8(*from_file.model->clip));
  const auto a = reference_embeddings(from_file);
  const auto b = reference_embeddings(at_load);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.texts, b.texts));
  EXPECT_TRUE(torch::equal(a.videos, b.videos));
  EXPECT_TRUE(from_file.unused_keys.empty()) << from_file.unused_keys.front();

  // Both encoders quantized, as earlier versions always wrote: the file says so, and loads so.
  actionclip::LoadOptions both;
  both.load_tokenizer = false;
  both.int8 = true;
  both.int8_encoders = actionclip::Int8Encoders::ImageAndText;
  auto both_at_load = actionclip::load_model(fixture("reference/clip-tiny-jit.pt"), both);
  const auto both_file = dir.path("both.safetensors");
  actionclip::save_model(both_file, both_at_load.model);
  auto both_from_file = load(both_file, false);
  for (const auto& p : actionclip::int8_projections(*both_from_file.model->clip)) EXPECT_TRUE(p.packed->defined()) << p.weight_key;
  EXPECT_TRUE(torch::equal(reference_embeddings(both_from_file).texts, reference_embeddings(both_at_load).texts));
}

std::string load_error(const std::string& path) {
  try {
    load(path, false);
  } catch (const actionclip::FileError& e) {
    EXPECT_EQ(e.path(), path);
    return e.what();
  }
  ADD_FAILURE() << path << " loaded";
  return "";
}

TEST(Int8, BrokenInt8FilesAreFileErrorsNamingTheKey) {
  REQUIRE_FIXTURES();
  REQUIRE_INT8_ENGINE();
  actionclip::testing::TempDir dir("actionclip_int8_");
  auto model = load(fixture("reference/clip-tiny-jit.pt"), true);
  const auto good = dir.path("good.safetensors");
  actionclip::save_model(good, model.model);
  actionclip::io::Metadata metadata;
  const auto tensors = actionclip::io::load_safetensors(good, &metadata);
  const std::string key = "visual.transformer.resblocks.1.mlp.c_fc.weight";
  ASSERT_EQ(tensors.at(key).scalar_type(), torch::kInt8);

  auto write = [&](const std::string& name, const std::function<void(actionclip::io::TensorMap&)>& edit) {
    auto copy = tensors;
    edit(copy);
    const auto path = dir.path(name);
    actionclip::io::save_safetensors(path, copy, metadata);
    return path;
  };
  const auto no_scale = write("no-scale.safetensors", [&](auto& t) { t.erase(key + ".scale"); });
  EXPECT_NE(load_error(no_scale).find("'" + key + ".scale'"), std::string::npos) << load_error(no_scale);
  const auto float_values = write("float.safetensors", [&](auto& t) { t[key] = t[key].to(torch::kFloat32); });
  EXPECT_NE(load_error(float_values).find("'" + key + "' is Float, expected int8"), std::string::npos)
      << load_error(float_values);
  const auto wrong_shape = write("shape.safetensors", [&](auto& t) { t[key] = t[key].slice(0, 0, 8).contiguous(); });
  EXPECT_NE(load_error(wrong_shape).find("'" + key + "' has shape [8, 128]"), std::string::npos) << load_error(wrong_shape);
  auto unknown = metadata;
  auto listed = nlohmann::json::parse(unknown.at("actionclip"));
  listed["int8"]["weights"].push_back("visual.no_such.weight");
  unknown["actionclip"] = listed.dump();
  const auto unknown_key = dir.path("unknown.safetensors");
  actionclip::io::save_safetensors(unknown_key, tensors, unknown);
  EXPECT_NE(load_error(unknown_key).find("'visual.no_such.weight' is not a projection"), std::string::npos)
      << load_error(unknown_key);
  const auto bad_scales = write("scales.safetensors", [&](auto& t) { t[key + ".scale"] = -t[key + ".scale"]; });
  EXPECT_NE(load_error(bad_scales).find("not positive"), std::string::npos) << load_error(bad_scales);
}

TEST(Int8, PrecisionDecisionRefusesGpusAndBuildsWithoutAnInt8Engine) {
  actionclip::CpuFeatures zen3;
  zen3.model = "AMD EPYC 7B13";
  zen3.avx2 = zen3.fma = true;
  const c10::Device cpu(c10::kCPU);
  const auto qnnpack = actionclip::decide_precision(actionclip::Precision::Int8, cpu, zen3, {"qnnpack", "onednn"});
  EXPECT_EQ(qnnpack.used, actionclip::Precision::Int8);
  EXPECT_EQ(qnnpack.int8_engine, "qnnpack");
  // On x86, QNNPACK (an ARM engine) is slower than float32: said in one line.
  EXPECT_NE(qnnpack.notice.find("not time"), std::string::npos) << qnnpack.notice;
  EXPECT_EQ(qnnpack.notice.find('\n'), std::string::npos);
  const auto fbgemm = actionclip::decide_precision(actionclip::Precision::Int8, cpu, zen3, {"qnnpack", "fbgemm"});
  EXPECT_EQ(fbgemm.int8_engine, "fbgemm");
  EXPECT_TRUE(fbgemm.notice.empty()) << fbgemm.notice;
  auto refusal = [&](const c10::Device& device, const std::vector<std::string>& engines) -> std::string {
    try {
      actionclip::decide_precision(actionclip::Precision::Int8, device, zen3, engines);
    } catch (const actionclip::Error& e) {
      return e.what();
    }
    return "";
  };
  const auto on_gpu = refusal(c10::Device(c10::kCUDA, 0), {"fbgemm"});
  EXPECT_NE(on_gpu.find("CPUs only"), std::string::npos) << on_gpu;
  EXPECT_NE(on_gpu.find("cuda:0"), std::string::npos) << on_gpu;
  EXPECT_NE(refusal(cpu, {}).find("has none"), std::string::npos) << refusal(cpu, {});
  // oneDNN's int8 kernels are fast only with VNNI's dot products: chosen over QNNPACK there, and
  // without them used only when nothing else is, with the same one-line word.
  auto emerald_rapids = zen3;
  emerald_rapids.model = "Intel(R) Xeon(R) Processor";
  emerald_rapids.avx512f = emerald_rapids.avx512bw = emerald_rapids.avx512_vnni = true;
  const auto vnni = actionclip::decide_precision(actionclip::Precision::Int8, cpu, emerald_rapids, {"qnnpack", "onednn"});
  EXPECT_EQ(vnni.int8_engine, "onednn");
  EXPECT_TRUE(vnni.notice.empty()) << vnni.notice;
  auto alder_lake = zen3;
  alder_lake.avx_vnni = true;
  EXPECT_EQ(actionclip::decide_precision(actionclip::Precision::Int8, cpu, alder_lake, {"qnnpack", "onednn"}).int8_engine,
            "onednn");
  EXPECT_EQ(actionclip::decide_precision(actionclip::Precision::Int8, cpu, emerald_rapids, {"fbgemm", "onednn"}).int8_engine,
            "fbgemm");
  const auto onednn_without_vnni = actionclip::decide_precision(actionclip::Precision::Int8, cpu, zen3, {"onednn"});
  EXPECT_EQ(onednn_without_vnni.int8_engine, "onednn");
  EXPECT_NE(onednn_without_vnni.notice.find("no int8 dot-product unit"), std::string::npos) << onednn_without_vnni.notice;
  EXPECT_NE(onednn_without_vnni.notice.find("AMD EPYC 7B13"), std::string::npos) << onednn_without_vnni.notice;
  EXPECT_EQ(actionclip::precision_from_name("int8"), actionclip::Precision::Int8);
  EXPECT_STREQ(actionclip::precision_name(actionclip::Precision::Int8), "int8");
}

TEST(Int8, TrainingAndGpusRefuseInt8) {
  REQUIRE_FIXTURES();
  actionclip::testing::TempDir dir("actionclip_int8_");
  try {
    actionclip::TrainConfig::parse("data:\n  label_list: labels.csv\nsolver:\n  precision: int8\n", dir.path(""),
                                   "int8.yaml");
    FAIL() << "solver.precision int8 accepted";
  } catch (const actionclip::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("inference only"), std::string::npos) << e.what();
  }
  actionclip::LoadOptions options;
  options.load_tokenizer = false;
  options.int8 = true;
  options.device = torch::Device(torch::kCUDA, 0);  // refused before anything is moved there
  try {
    actionclip::load_model(fixture("reference/clip-tiny-jit.pt"), options);
    FAIL() << "int8 on cuda accepted";
  } catch (const actionclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("CPUs only"), std::string::npos) << e.what();
  }
}

}  // namespace
