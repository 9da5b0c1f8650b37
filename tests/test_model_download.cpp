// Verified downloads against a loopback mirror (no internet): resume, retries, timeouts, hash
// mismatches, offline use, concurrent processes, and the released models' names and URLs.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "actionclip/download/http_download.h"
#include "actionclip/download/model_download.h"
#include "actionclip/download/sha256.h"
#include "fixtures.h"
#include "loopback_mirror.h"
#include "scoped_env.h"
#include "shell.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using actionclip::DownloadError;
using actionclip::testing::LoopbackMirror;
using actionclip::testing::read_bytes;
using actionclip::testing::ScopedEnvironment;
using actionclip::testing::TempDir;

std::string seeded_bytes(size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random() & 0xff);
  return bytes;
}

std::string sha256_of(const std::string& bytes) {
  actionclip::Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.finish_hex();
}

// Short timeouts and back-off so that every failure path takes well under a second or two.
actionclip::DownloadOptions quick(int retries = 0) {
  actionclip::DownloadOptions options;
  options.retries = retries;
  options.retry_delay_seconds = 0.01;
  options.connect_timeout_seconds = 2;
  options.stall_timeout_seconds = 1;
  options.progress = false;
  return options;
}

DownloadError::Kind failure_kind(const std::function<void()>& download, std::string& message) {
  try {
    download();
  } catch (const DownloadError& e) {
    message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "the download succeeded";
  return DownloadError::Kind::Transfer;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class ModelDownload : public ::testing::Test {
 protected:
  // 1 MiB of seeded bytes, published under the mirror layout of OpenAI's URLs.
  const std::string body_ = seeded_bytes(1 << 20, 11);
  const std::string sha_ = sha256_of(body_);
  const std::string path_ = "/clip/models/" + sha_ + "/tiny.pt";
  TempDir dir_{"actionclip_download_"};
  const std::string destination_ = dir_.path("cache/models/tiny.pt");
  ScopedEnvironment online_{"ACTIONCLIP_OFFLINE", std::nullopt};

  std::string url(const LoopbackMirror& mirror) const { return mirror.base_url() + path_; }
};

}  // namespace

TEST(Sha256, MatchesTheStandardVectors) {
  EXPECT_EQ(sha256_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  actionclip::Sha256 million;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(thousand.data(), thousand.size());
  EXPECT_EQ(million.finish_hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  TempDir dir;
  EXPECT_EQ(actionclip::sha256_file(dir.write("abc.txt", "abc")), sha256_of("abc"));
}

TEST_F(ModelDownload, DownloadsVerifiesAndMovesTheFileIntoPlace) {
  LoopbackMirror mirror;
  mirror.publish(path_, body_);
  actionclip::download_verified(url(mirror), destination_, sha_, quick());
  EXPECT_EQ(read_bytes(destination_), body_);
  EXPECT_FALSE(fs::exists(destination_ + ".part"));
  EXPECT_EQ(mirror.requests(), 1u);
  // There and whole: with the server gone, asking again needs no network.
  mirror.stop();
  actionclip::download_verified(url(mirror), destination_, sha_, quick());
  EXPECT_EQ(read_bytes(destination_), body_);
}

TEST_F(ModelDownload, AHashMismatchRemovesTheFileAndNamesBothHashes) {
  LoopbackMirror mirror;
  auto corrupt = body_;
  corrupt[corrupt.size() / 3] ^= 0x20;
  mirror.publish(path_, corrupt);
  std::string message;
  EXPECT_EQ(failure_kind([&] { actionclip::download_verified(url(mirror), destination_, sha_, quick(3)); }, message),
            DownloadError::Kind::Mismatch);
  EXPECT_TRUE(contains(message, sha_)) << message;
  EXPECT_TRUE(contains(message, sha256_of(corrupt))) << message;
  EXPECT_TRUE(contains(message, "removed")) << message;
  EXPECT_FALSE(fs::exists(destination_));
  EXPECT_FALSE(fs::exists(destination_ + ".part"));
  EXPECT_EQ(mirror.requests(), 1u);  // the bytes arrived: trying again would not change them
}

TEST_F(ModelDownload, AnInterruptedTransferIsResumedWithARangeRequest) {
  LoopbackMirror mirror(LoopbackMirror::Behaviour::CutFirstResponse);
  mirror.publish(path_, body_);
  actionclip::download_verified(url(mirror), destination_, sha_, quick(1));
  EXPECT_EQ(read_bytes(destination_), body_);
  const auto ranges = mirror.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  const auto resumed_at = std::stoull(ranges[1].substr(ranges[1].find('=') + 1));
  EXPECT_EQ(ranges[1], "bytes=" + std::to_string(resumed_at) + "-");
  EXPECT_GE(resumed_at, body_.size() / 2);
  EXPECT_LT(resumed_at, body_.size());
}

TEST_F(ModelDownload, APartialFileFromAnEarlierRunIsResumed) {
  {
    LoopbackMirror cutting(LoopbackMirror::Behaviour::CutFirstResponse);
    cutting.publish(path_, body_);
    std::string message;
    EXPECT_EQ(failure_kind([&] { actionclip::download_verified(url(cutting), destination_, sha_, quick(0)); }, message),
              DownloadError::Kind::Transfer);
    EXPECT_TRUE(contains(message, destination_ + ".part")) << message;  // kept, and said so
  }
  const auto kept = fs::file_size(destination_ + ".part");
  ASSERT_GT(kept, 0u);
  LoopbackMirror mirror;
  mirror.publish(path_, body_);
  actionclip::download_verified(url(mirror), destination_, sha_, quick());
  EXPECT_EQ(read_bytes(destination_), body_);
  EXPECT_EQ(mirror.ranges(), std::vector<std::string>{"bytes=" + std::to_string(kept) + "-"});
}

TEST_F(ModelDownload, AServerThatIgnoresTheRangeReplacesThePartialFile) {
  // Bytes that are not the file's start: appending the whole file to them could never verify.
  dir_.write("cache/models/tiny.pt.part", seeded_bytes(5000, 12));
  LoopbackMirror mirror(LoopbackMirror::Behaviour::IgnoreRange);
  mirror.publish(path_, body_);
  actionclip::download_verified(url(mirror), destination_, sha_, quick());
  EXPECT_EQ(read_bytes(destination_), body_);
  EXPECT_EQ(mirror.ranges(), std::vector<std::string>{"bytes=5000-"});
}

TEST_F(ModelDownload, NotFoundFailsAtOnceWithoutRetrying) {
  LoopbackMirror mirror;
  std::string message;
  const auto start = std::chrono::steady_clock::now();
  auto options = quick(4);
  options.retry_delay_seconds = 1;
  EXPECT_EQ(failure_kind([&] { actionclip::download_verified(url(mirror), destination_, sha_, options); }, message),
            DownloadError::Kind::HttpStatus);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_TRUE(contains(message, "404")) << message;
  EXPECT_TRUE(contains(message, url(mirror))) << message;
  EXPECT_EQ(mirror.requests(), 1u);
  EXPECT_FALSE(fs::exists(destination_));
}

TEST_F(ModelDownload, AStalledServerTimesOutAndIsRetried) {
  LoopbackMirror mirror(LoopbackMirror::Behaviour::Stall);
  mirror.publish(path_, body_);
  std::string message;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(failure_kind([&] { actionclip::download_verified(url(mirror), destination_, sha_, quick(1)); }, message),
            DownloadError::Kind::Transfer);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_TRUE(contains(message, "stalled")) << message;
  const auto ranges = mirror.ranges();
  ASSERT_EQ(ranges.size(), 2u);  // the retry resumed after the bytes that did arrive
  EXPECT_NE(ranges[1], "");
  EXPECT_FALSE(fs::exists(destination_));
}

TEST_F(ModelDownload, AnUnreachableServerSaysWhereToPutTheFile) {
  LoopbackMirror mirror;
  mirror.stop();  // its port now refuses connections
  std::string message;
  EXPECT_EQ(failure_kind([&] { actionclip::download_verified(url(mirror), destination_, sha_, quick(3)); }, message),
            DownloadError::Kind::Unreachable);
  EXPECT_TRUE(contains(message, url(mirror))) << message;
  EXPECT_TRUE(contains(message, "put it at " + destination_)) << message;
}

TEST_F(ModelDownload, OfflineModeNeverConnects) {
  LoopbackMirror mirror;
  mirror.publish(path_, body_);
  ScopedEnvironment offline("ACTIONCLIP_OFFLINE", "1");
  std::string message;
  EXPECT_EQ(failure_kind([&] { actionclip::download_verified(url(mirror), destination_, sha_, quick()); }, message),
            DownloadError::Kind::Offline);
  EXPECT_EQ(mirror.requests(), 0u);
  EXPECT_TRUE(contains(message, url(mirror))) << message;
  EXPECT_TRUE(contains(message, destination_)) << message;
}

TEST_F(ModelDownload, ConcurrentDownloadsOfOneFileTakeTurns) {
  LoopbackMirror mirror(LoopbackMirror::Behaviour::Slow);  // about 0.3 s, so the two overlap
  mirror.publish(path_, body_);
  std::vector<std::thread> downloads;
  std::vector<std::string> errors(3);
  for (size_t i = 0; i < errors.size(); ++i)
    downloads.emplace_back([&, i] {
      try {
        actionclip::download_verified(url(mirror), destination_, sha_, quick());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& thread : downloads) thread.join();
  for (const auto& error : errors) EXPECT_EQ(error, "");
  EXPECT_EQ(read_bytes(destination_), body_);
  EXPECT_EQ(mirror.requests(), 1u);  // the others waited, then found the file whole
}

TEST(ReleasedModels, CarryOpenAIsPublishedUrlsAndHashes) {
  const auto& models = actionclip::released_models();
  ASSERT_EQ(models.size(), 9u);
  for (const auto& model : models) {
    EXPECT_EQ(model.url, "https://openaipublic.azureedge.net/clip/models/" + model.sha256 + "/" + model.file_name);
    EXPECT_EQ(model.sha256.size(), 64u);
    EXPECT_EQ(model.sha256.find_first_not_of("0123456789abcdef"), std::string::npos) << model.name;
  }
  const auto* vit = actionclip::find_released_model_by_name("ViT-B/32");
  ASSERT_NE(vit, nullptr);
  EXPECT_EQ(vit->sha256, "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af");
  // The dashed spellings (the files' stems) name the same models; a file name is a path.
  EXPECT_EQ(actionclip::find_released_model_by_name("ViT-B-32"), vit);
  EXPECT_EQ(actionclip::find_released_model_by_name("ViT-L-14-336px")->name, "ViT-L/14@336px");
  EXPECT_EQ(actionclip::find_released_model_by_name("RN50x4")->file_name, "RN50x4.pt");
  EXPECT_EQ(actionclip::find_released_model_by_name("ViT-B-32.pt"), nullptr);
  EXPECT_EQ(actionclip::find_released_model_by_name("vit-b/32"), nullptr);
}

TEST(ReleasedModels, AMirrorBaseKeepsThePublishedPath) {
  const auto& vit = *actionclip::find_released_model_by_name("ViT-B/32");
  {
    ScopedEnvironment published("ACTIONCLIP_MODEL_BASE_URL", std::nullopt);
    EXPECT_EQ(actionclip::released_model_url(vit), vit.url);
  }
  ScopedEnvironment mirror("ACTIONCLIP_MODEL_BASE_URL", "http://mirror.example:8080/openai/");
  EXPECT_EQ(actionclip::released_model_url(vit), "http://mirror.example:8080/openai/clip/models/" + vit.sha256 + "/ViT-B-32.pt");
}

// By name: a missing model is fetched from the mirror with CLIP's tokenizer and checked against
// OpenAI's hashes, which a stand-in for the model cannot match (the tokenizer is the real file);
// a cached file is used without the network.
TEST_F(ModelDownload, ANameIsFetchedFromTheMirrorAndCheckedAgainstOpenAIsHash) {
  const auto tokenizer_file = (actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string();
  if (!fs::exists(tokenizer_file)) GTEST_SKIP() << "CLIP's tokenizer not found at " << tokenizer_file;
  const auto& vit = *actionclip::find_released_model_by_name("ViT-B/32");
  const auto& tokenizer = actionclip::released_tokenizer();
  ScopedEnvironment cache("ACTIONCLIP_CACHE", dir_.path("cache"));
  ScopedEnvironment home("HOME", dir_.path("home"));
  LoopbackMirror mirror;
  mirror.publish("/clip/models/" + vit.sha256 + "/ViT-B-32.pt", body_);
  mirror.publish("/openai/CLIP/main/clip/" + tokenizer.file_name, read_bytes(tokenizer_file));
  ScopedEnvironment base("ACTIONCLIP_MODEL_BASE_URL", mirror.base_url() + "/");
  ScopedEnvironment retries("ACTIONCLIP_DOWNLOAD_RETRIES", "0");
  ScopedEnvironment no_tokenizer("ACTIONCLIP_BPE", std::nullopt);
  const auto cached = dir_.path("cache/models/ViT-B-32.pt");
  std::string message;
  EXPECT_EQ(failure_kind([] { actionclip::resolve_model_name("ViT-B-32"); }, message), DownloadError::Kind::Mismatch);
  EXPECT_TRUE(contains(message, "ViT-B/32")) << message;
  EXPECT_TRUE(contains(message, vit.sha256)) << message;
  EXPECT_TRUE(contains(message, sha256_of(body_))) << message;
  EXPECT_FALSE(fs::exists(cached));
  EXPECT_EQ(read_bytes(dir_.path("cache/models/" + tokenizer.file_name)), read_bytes(tokenizer_file));
  EXPECT_EQ(mirror.requests(), 2u);

  mirror.stop();
  dir_.write("cache/models/ViT-B-32.pt", body_);
  EXPECT_EQ(actionclip::resolve_model_name("ViT-B/32"), cached);
  EXPECT_EQ(actionclip::find_released_model("ViT-B-32"), cached);
  EXPECT_EQ(actionclip::resolve_model_name("weights/ViT-B-32.pt"), "weights/ViT-B-32.pt");
}
