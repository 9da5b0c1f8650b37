// Loading a model holds its weights once: the peak resident memory of a process that loads a
// model file is about the model's float32 weights, not the file's tensors beside them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "actionclip/build_paths.h"
#include "actionclip/io/checkpoint.h"
#include "actionclip/io/torch_file.h"
#include "actionclip/io/torch_save.h"
#include "actionclip/model/model_io.h"
#include "actionclip/system/child_process.h"
#include "shell.h"

namespace actionclip {
namespace {
namespace fs = std::filesystem;
using testing::read_bytes;

class LoadMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("actionclip-load-memory-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Peak resident memory of `actionclip info FILE` (which loads the model, no tokenizer).
  double info_peak_mb(const fs::path& file) {
    const auto run = run_child({ACTIONCLIP_CLI_PATH, "-t", "1", "info", file.string()});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return run.peak_rss_mb;
  }

  fs::path dir_;
};

double mib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

TEST_F(LoadMemory, PeakIsTheModelOnceForEachFileForm) {
  ASSERT_TRUE(fs::exists(ACTIONCLIP_CLI_PATH)) << "CLI not built at " << ACTIONCLIP_CLI_PATH;
  torch::manual_seed(0);
  // ViT-B/32's shapes with 3 blocks per encoder: 260 MB of float32 weights, a quarter of them
  // the token embedding (the largest tensor).
  auto config = ClipConfig::vit_b32();
  config.vision_layers = 3;
  config.text_layers = 3;
  ActionClipModel model(config, ActionClipOptions{PromptType::MeanP, 8, true});
  int64_t model_bytes = 0, largest_bytes = 0;
  for (const auto& p : model->parameters()) {
    model_bytes += p.nbytes();
    largest_bytes = std::max<int64_t>(largest_bytes, p.nbytes());
  }
  save_model((dir_ / "fp32.safetensors").string(), model);
  save_model((dir_ / "fp16.safetensors").string(), model, {}, torch::kFloat16);
  // As OpenAI's archives and ActionCLIP's checkpoints hold them: torch.save, float16.
  io::TensorMap half;
  for (const auto& p : model->clip->named_parameters()) half.emplace(p.key(), p.value().detach().to(torch::kFloat16));
  io::save_torch_state_dict((dir_ / "fp16-state-dict.pt").string(), half, "cuda:0");
  half.clear();
  // What the process needs besides the weights (libraries, the CLI): the same with a small model.
  auto small = ClipConfig::vit_b32();
  small.vision_layers = small.text_layers = 1;
  small.vision_width = small.text_width = small.embed_dim = 64;
  small.vision_heads = small.text_heads = 1;
  small.vocab_size = 1000;
  ActionClipModel small_model(small, ActionClipOptions{PromptType::MeanP, 8, true});
  save_model((dir_ / "small.safetensors").string(), small_model);
  const double baseline = info_peak_mb(dir_ / "small.safetensors");

  // Reading the file's tensors and then copying them into the model held both (2x the weights
  // for float32, 2.5x for float16, converted to float32 first). Now each tensor passes through
  // memory on its own: the model, plus at most the largest tensor, plus a margin.
  const double bound = mib(model_bytes) + mib(largest_bytes) + 48;
  for (const char* form : {"fp32.safetensors", "fp16.safetensors", "fp16-state-dict.pt"}) {
    const auto file = dir_ / form;
    const double added = info_peak_mb(file) - baseline;
    EXPECT_LT(added, bound) << form << " file of " << mib(static_cast<int64_t>(fs::file_size(file))) << " MiB: peak "
                            << added << " MiB over the process's own, the model is " << mib(model_bytes) << " MiB";
    EXPECT_GT(added, 0.8 * mib(model_bytes)) << form << ": the model's weights must be resident once";
  }
}

// Mapped tensors hold the file's values in its dtype, survive their pages being released, and
// writing to one never changes the file.
TEST_F(LoadMemory, MappedTensorsAreTheFilesValues) {
  torch::manual_seed(3);
  io::TensorMap tensors = {{"a", torch::randn({3, 1000})},
                           {"b", torch::randn({70001}).to(torch::kFloat16)},
                           {"c", torch::arange(5, torch::kInt64)}};
  const auto safetensors = (dir_ / "t.safetensors").string(), pt = (dir_ / "t.pt").string();
  io::save_safetensors(safetensors, tensors);
  io::save_torch_state_dict(pt, tensors);
  const auto original = read_bytes(safetensors);
  for (const auto& path : {safetensors, pt}) {
    auto read = io::read_checkpoint(path).clip;
    auto mapped = io::read_checkpoint(path, false, io::TensorData::Mapped).clip;
    ASSERT_EQ(mapped.size(), tensors.size()) << path;
    for (const auto& [key, expected] : tensors) {
      SCOPED_TRACE(path + " " + key);
      auto& m = mapped.at(key);
      EXPECT_EQ(m.scalar_type(), expected.scalar_type());  // as stored
      EXPECT_TRUE(torch::equal(m, expected));
      EXPECT_TRUE(torch::equal(read.at(key), expected.to(expected.is_floating_point() ? torch::kFloat32 : torch::kInt64)));
      io::release_mapped_pages(m);
      EXPECT_TRUE(torch::equal(m, expected)) << "after its pages were released";
      m.zero_();
      io::release_mapped_pages(m);
    }
  }
  EXPECT_EQ(read_bytes(safetensors), original) << "writing to a mapped tensor changed the file";
  // A tensor that is not mapped is left alone.
  auto plain = torch::ones({100000});
  io::release_mapped_pages(plain);
  EXPECT_EQ(plain.sum().item<float>(), 100000.0f);
}

}  // namespace
}  // namespace actionclip
