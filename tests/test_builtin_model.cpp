// The built-in model and what makes it self-contained: a vocabulary cut to the words it uses,
// carried in the model file, and fp16 storage. The committed model itself must load with no
// tokenizer file anywhere and recognise combinations it was never trained on, from their words.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "actionclip/data/synth.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/model/builtin_model.h"
#include "actionclip/model/compact_vocabulary.h"
#include "actionclip/train/trainer.h"
#include "actionclip/video/video_writer.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace {

std::string clip_bpe() {
  return (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string();
}

const std::vector<std::string> kLabels = {"a red square moving left", "a blue circle rotating anticlockwise",
                                          "a yellow triangle growing"};
const std::vector<std::string> kTemplates = {"{}", "a video of {}", "{}, an action!"};

std::vector<std::string> prompts() {
  std::vector<std::string> out;
  for (const auto& label : kLabels)
    for (const auto& templ : kTemplates) out.push_back(actionclip::apply_template(templ, label));
  return out;
}

}  // namespace

TEST(CompactVocabulary, SubsetEncodesItsTextsAsTheFullVocabularyDoes) {
  if (!fs::exists(clip_bpe())) GTEST_SKIP() << "CLIP tokenizer file not found: " << clip_bpe();
  const auto full = actionclip::Tokenizer::from_openai_bpe(clip_bpe());
  const auto subset = full.subset_for(prompts());
  const auto small = actionclip::Tokenizer::from_hf_text(subset.vocab_json, subset.merges_txt, "vocab", "merges");
  // 512 byte tokens, the two specials, and the merges of a dozen words.
  EXPECT_LT(small.vocab_size(), 700);
  EXPECT_EQ(small.vocab_size(), static_cast<int64_t>(subset.kept_ids.size()));
  for (const auto& text : prompts()) {
    const auto ids = small.tokenize(text);
    const auto reference = full.tokenize(text);
    ASSERT_EQ(ids.size(), reference.size());
    for (size_t i = 0; i < ids.size(); ++i)
      EXPECT_EQ(subset.kept_ids.at(static_cast<size_t>(ids[i])), reference[i]) << text << ", token " << i;
  }
  // Words it never saw fall back to bytes and the merges it kept.
  for (const auto id : small.encode("a purple hexagon jumping")) EXPECT_LT(id, small.vocab_size());
}

TEST(CompactVocabulary, ModelEmbedsItsPromptsAsBeforeAndLoadsWithoutATokenizerFile) {
  if (!fs::exists(clip_bpe())) GTEST_SKIP() << "CLIP tokenizer file not found: " << clip_bpe();
  torch::manual_seed(4);
  actionclip::LoadedModel loaded;
  loaded.model = actionclip::ActionClipModel(actionclip::clip_config_for_arch("tiny"), actionclip::ActionClipOptions{});
  loaded.model->eval();
  loaded.tokenizer = std::make_shared<const actionclip::Tokenizer>(actionclip::Tokenizer::from_openai_bpe(clip_bpe()));
  loaded.path = "tiny";
  torch::NoGradGuard no_grad;
  const auto before = actionclip::TextEmbedder(loaded.model, loaded.tokenizer).embed(prompts());

  actionclip::compact_vocabulary(loaded, kLabels, kTemplates);
  EXPECT_LT(loaded.model->clip->config().vocab_size, 700);
  const auto after = actionclip::TextEmbedder(loaded.model, loaded.tokenizer).embed(prompts());
  EXPECT_LT((after - before).abs().max().item<double>(), 1e-6);

  actionclip::testing::TempDir dir;
  const auto path = dir.path("compact.safetensors");
  actionclip::save_model(path, loaded.model, loaded.metadata, torch::kFloat16);
  actionclip::LoadOptions options;
  options.bpe_path = dir.path("no-such-tokenizer.txt.gz");  // would fail if it were looked for
  const auto reloaded = actionclip::load_model(path, options);
  const auto from_file = actionclip::TextEmbedder(reloaded.model, reloaded.tokenizer).embed(prompts());
  // fp16 storage: about three significant digits per weight.
  EXPECT_GT((from_file * after).sum(-1).min().item<double>(), 0.999);
}

// The committed model, as a fresh machine has it: no tokenizer file, no fixtures.
TEST(BuiltinModel, RecognisesHeldOutCombinationsFromTheirWords) {
  actionclip::LoadOptions options;
  options.bpe_path = "/nonexistent/bpe_simple_vocab_16e6.txt.gz";
  const auto path = actionclip::builtin_model_path();
  EXPECT_LT(fs::file_size(path), 4u << 20) << path;
  const auto loaded = actionclip::load_model(path, options);
  const auto& card = loaded.metadata.at("builtin");
  const auto labels = loaded.metadata.at("labels").get<std::vector<std::string>>();
  const auto held_out = card.at("held_out").get<std::vector<std::string>>();
  ASSERT_FALSE(held_out.empty());
  for (const auto& label : held_out) EXPECT_NE(std::find(labels.begin(), labels.end(), label), labels.end()) << label;

  // One new clip (a seed training did not use) of every held-out combination.
  actionclip::data::SynthOptions synth;
  synth.colors = card.at("colors").get<std::vector<std::string>>();
  synth.shapes = card.at("shapes").get<std::vector<std::string>>();
  synth.motions = card.at("motions").get<std::vector<std::string>>();
  synth.frames = card.at("frames").get<int>();
  synth.width = synth.height = card.at("frame_size").get<int>();
  synth.seed = 77;
  actionclip::testing::TempDir dir;
  std::vector<std::string> paths, truths;
  for (const auto& cls : actionclip::data::synth_classes(synth)) {
    if (std::find(held_out.begin(), held_out.end(), cls.name) == held_out.end()) continue;
    paths.push_back(dir.path(cls.slug + ".avi"));
    truths.push_back(cls.name);
    actionclip::video::VideoWriter writer(paths.back(), synth.width, synth.height, synth.fps, {actionclip::video::VideoCodec::Auto, 1});
    for (const auto& frame : actionclip::data::render_synth_video(synth, cls, 0)) writer.write(frame);
    writer.close();
  }
  ASSERT_EQ(paths.size(), held_out.size());

  // Zero-shot among the held-out labels, as the model card reports it.
  actionclip::TextEmbedder embedder(loaded.model, loaded.tokenizer);
  const auto label_embeddings = embedder.embed_labels(held_out, loaded.templates);
  actionclip::VideoEncoderOptions encoder_options;
  encoder_options.views = actionclip::ViewOptions::parse("1x1", static_cast<int>(loaded.model->options().num_frames),
                                                         static_cast<int>(loaded.model->clip->config().image_resolution));
  actionclip::VideoEncoder encoder(loaded.model, encoder_options);
  int correct = 0;
  encoder.encode(paths, [&](actionclip::EncodedVideo& video) {
    ASSERT_TRUE(video.error.empty()) << video.error;
    const auto best = actionclip::video_label_probabilities(video.view_features, label_embeddings).argmax().item<int64_t>();
    correct += held_out[static_cast<size_t>(best)] == truths[video.index];
  });
  const double chance = 1.0 / static_cast<double>(held_out.size());
  EXPECT_GE(correct / static_cast<double>(paths.size()), 2 * chance)
      << correct << " of " << paths.size() << " held-out clips right";
}
