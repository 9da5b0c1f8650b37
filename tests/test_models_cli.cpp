// The CLI by model name: `actionclip models`, -m ViT-B/32 fetched from a mirror (ACTIONCLIP_MODEL_BASE_URL)
// and checked against OpenAI's hash, offline use, and cached files used without the network.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actionclip/build_paths.h"
#include "actionclip/download/model_download.h"
#include "actionclip/download/sha256.h"
#include "fixtures.h"
#include "loopback_mirror.h"
#include "shell.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using actionclip::testing::LoopbackMirror;
using actionclip::testing::quote;
using actionclip::testing::read_bytes;
using json = nlohmann::json;

using CliRun = actionclip::testing::ShellRun;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class ModelsCli : public ::testing::Test {
 protected:
  // `actionclip ARGS` with its caches in this test's folder, quick download settings and ENV
  // ("NAME=value ...") in its environment.
  CliRun run(const std::string& args, const std::string& env = "") const {
    const auto err_file = dir_.path("stderr.txt");
    const std::string command = "env -u ACTIONCLIP_OFFLINE -u ACTIONCLIP_MODEL_BASE_URL -u ACTIONCLIP_BPE ACTIONCLIP_CACHE=" +
                                quote(dir_.path("cache")) + " HOME=" + quote(dir_.path("home")) +
                                " ACTIONCLIP_DOWNLOAD_RETRIES=1 ACTIONCLIP_DOWNLOAD_RETRY_DELAY=0.01 " + env + " " +
                                quote(ACTIONCLIP_CLI_PATH) + " " + args;
    return actionclip::testing::run_shell(command, err_file);
  }

  const actionclip::ReleasedModel& vit_ = *actionclip::find_released_model_by_name("ViT-B/32");
  actionclip::testing::TempDir dir_{"actionclip_models_cli_"};
};

}  // namespace

TEST_F(ModelsCli, ListsEveryNameWithItsCacheStateSizeAndPath) {
  const auto stand_in = dir_.write("cache/models/ViT-B-16.pt", "not OpenAI's weights");
  const auto listed = run("models --json", "ACTIONCLIP_MODEL_BASE_URL=http://mirror.example/base");
  ASSERT_EQ(listed.code, 0) << listed.err;
  const auto report = json::parse(listed.out);
  EXPECT_EQ(report.at("cache_dir"), dir_.path("cache/models"));
  const auto& models = report.at("models");
  ASSERT_EQ(models.size(), actionclip::released_models().size());
  for (size_t i = 0; i < models.size(); ++i) {
    const auto& model = actionclip::released_models()[i];
    const auto& entry = models[i];
    EXPECT_EQ(entry.at("name"), model.name);
    EXPECT_EQ(entry.at("sha256"), model.sha256);
    EXPECT_EQ(entry.at("url"), "http://mirror.example/base/clip/models/" + model.sha256 + "/" + model.file_name);
    const bool is_stand_in = model.name == "ViT-B/16";
    EXPECT_EQ(entry.at("cached"), is_stand_in) << model.name;
    EXPECT_EQ(entry.at("path"), dir_.path("cache/models/" + model.file_name));
    if (is_stand_in) {
      EXPECT_EQ(entry.at("size_bytes"), fs::file_size(stand_in));
    } else {
      EXPECT_TRUE(entry.at("size_bytes").is_null());
    }
  }
  const auto table = run("models");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, "ViT-B/16        yes     20 B       " + stand_in)) << table.out;
  EXPECT_TRUE(contains(table.out, "ViT-L/14@336px  no      -          " + dir_.path("cache/models/ViT-L-14-336px.pt")))
      << table.out;
  // --verify hashes what is cached: the stand-in is not OpenAI's file.
  const auto verified = run("models --verify --json");
  EXPECT_EQ(verified.code, 2) << verified.err;
  EXPECT_EQ(json::parse(verified.out).at("models")[6].at("sha256_matches"), false);
}

TEST_F(ModelsCli, ANameFetchedFromAMirrorIsCheckedAgainstOpenAIsHash) {
  LoopbackMirror mirror;
  const std::string served = "these are not the weights OpenAI published";
  mirror.publish("/clip/models/" + vit_.sha256 + "/ViT-B-32.pt", served);
  const auto& tokenizer = actionclip::released_tokenizer();
  // A cached tokenizer is not fetched again; the model is.
  dir_.write("cache/models/" + tokenizer.file_name, "tokenizer stand-in");
  const auto mirror_env = "ACTIONCLIP_MODEL_BASE_URL=" + quote(mirror.base_url());
  for (const auto& args : {"embed-text -m ViT-B/32 'a person surfing'", "models --download ViT-B-32"}) {
    const auto result = run(args, mirror_env);
    EXPECT_EQ(result.code, 1) << args << "\n" << result.err;
    EXPECT_TRUE(contains(result.err, "CLIP model ViT-B/32")) << result.err;
    EXPECT_TRUE(contains(result.err, mirror.base_url() + "/clip/models/" + vit_.sha256 + "/ViT-B-32.pt")) << result.err;
    EXPECT_TRUE(contains(result.err, "SHA-256 is " + [&] {
                  actionclip::Sha256 hash;
                  hash.update(served.data(), served.size());
                  return hash.finish_hex();
                }())) << result.err;
    EXPECT_TRUE(contains(result.err, vit_.sha256 + " was expected")) << result.err;
    EXPECT_FALSE(fs::exists(dir_.path("cache/models/ViT-B-32.pt")));
    EXPECT_FALSE(fs::exists(dir_.path("cache/models/ViT-B-32.pt.part")));
  }
  EXPECT_EQ(mirror.requests(), 2u);
  const auto unknown = run("models --download ViT-B/64", mirror_env);
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(contains(unknown.err, "'ViT-B/64' is no released CLIP model (RN50, RN101")) << unknown.err;
}

TEST_F(ModelsCli, OfflineTheErrorNamesTheUrlAndWhereToPutTheFile) {
  LoopbackMirror mirror;
  mirror.publish("/clip/models/" + vit_.sha256 + "/ViT-B-32.pt", "bytes");
  for (const std::string& env :
       std::vector<std::string>{"ACTIONCLIP_OFFLINE=1", "ACTIONCLIP_OFFLINE=1 ACTIONCLIP_MODEL_BASE_URL=" + mirror.base_url()}) {
    const auto result = run("embed-text -m ViT-B-32 hello", env);
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_TRUE(contains(result.err, "ACTIONCLIP_OFFLINE is set")) << result.err;
    // Both files it needs: the tokenizer, and the model.
    const auto base = contains(env, "BASE_URL") ? mirror.base_url() : std::string();
    const auto& tokenizer = actionclip::released_tokenizer();
    EXPECT_TRUE(contains(result.err, "download " + (base.empty() ? tokenizer.url : base + "/openai/CLIP/main/clip/" +
                                                                                        tokenizer.file_name) +
                                         " by other means and put it at " + dir_.path("cache/models/" + tokenizer.file_name)))
        << result.err;
    EXPECT_TRUE(contains(result.err, (base.empty() ? vit_.url : base + "/clip/models/" + vit_.sha256 + "/ViT-B-32.pt") +
                                         " at " + dir_.path("cache/models/ViT-B-32.pt")))
        << result.err;
  }
  EXPECT_EQ(mirror.requests(), 0u);
  // A host that cannot be reached says the same, after trying.
  mirror.stop();
  const auto unreachable = run("embed-text -m ViT-B-32 hello", "ACTIONCLIP_MODEL_BASE_URL=" + mirror.base_url());
  EXPECT_EQ(unreachable.code, 1);
  EXPECT_TRUE(contains(unreachable.err, "cannot connect to 127.0.0.1")) << unreachable.err;
  EXPECT_TRUE(contains(unreachable.err, "put it at " + dir_.path("cache/models/"))) << unreachable.err;
}

// A cached file under a released name is used as it is, with no network (the server is gone).
TEST_F(ModelsCli, ACachedNameNeedsNoNetwork) {
  REQUIRE_FIXTURES();
  fs::create_directories(dir_.path("cache/models"));
  fs::copy_file(actionclip::testing::fixture("reference/clip-tiny-jit.pt"), dir_.path("cache/models/ViT-B-32.pt"));
  const auto bpe = (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string();
  const auto result = run("embed-text -m ViT-B/32 --bpe " + quote(bpe) + " hello", "ACTIONCLIP_MODEL_BASE_URL=http://127.0.0.1:9");
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(json::parse(result.out).at("embeddings").size(), 1u);
}
