// The serving library's parts on their own: dynamic batching, the label-set LRU, metrics,
// request checks, path policy, uploads.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "actionclip/serve/api_error.h"
#include "actionclip/serve/dynamic_batcher.h"
#include "actionclip/serve/label_cache.h"
#include "actionclip/serve/metrics.h"
#include "actionclip/serve/request_fields.h"
#include "actionclip/serve/upload_file.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace actionclip;
using namespace actionclip::serve;
using namespace std::chrono_literals;

namespace {

// A stand-in for the model: each view's feature is its mean and its first element.
torch::Tensor fake_encode(const torch::Tensor& views) {
  auto flat = views.reshape({views.size(0), -1});
  return torch::stack({flat.mean(1), flat.select(1, 0)}, 1);
}

torch::Tensor fake_video(float value, int64_t views = 2, int64_t frames = 3) {
  return torch::full({views, frames, 3, 4, 4}, value);
}

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.status();
  }
  return 0;
}

}  // namespace

TEST(ServeBatcher, FillsABatchUpToMaxBatchThenRunsWithoutWaitingForTheDelay) {
  std::vector<size_t> batches;
  DynamicBatcher batcher(fake_encode, {4, std::chrono::microseconds(10s), 64},
                         [&](size_t videos, double) { batches.push_back(videos); });
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::future<torch::Tensor>> results;
  for (int i = 0; i < 4; ++i) results.push_back(batcher.submit(fake_video(static_cast<float>(i))));
  for (int i = 0; i < 4; ++i) {
    auto features = results[static_cast<size_t>(i)].get();
    ASSERT_EQ(features.sizes(), (std::vector<int64_t>{2, 2}));
    EXPECT_FLOAT_EQ(features[0][0].item<float>(), static_cast<float>(i));  // each video gets its own rows back
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // a full batch does not wait out the delay
  EXPECT_EQ(batches, std::vector<size_t>{4});
}

TEST(ServeBatcher, WaitsAtMostTheDelayForMoreVideos) {
  std::vector<size_t> batches;
  DynamicBatcher batcher(fake_encode, {8, std::chrono::microseconds(150ms), 64},
                         [&](size_t videos, double) { batches.push_back(videos); });
  const auto start = std::chrono::steady_clock::now();
  auto first = batcher.submit(fake_video(1));
  std::this_thread::sleep_for(30ms);
  auto second = batcher.submit(fake_video(2));  // joins the first one's batch
  first.get();
  second.get();
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 2s);
  EXPECT_EQ(batches, std::vector<size_t>{2});
}

TEST(ServeBatcher, SplitsAtMaxBatchAndKeepsShapesApart) {
  std::vector<size_t> batches;
  DynamicBatcher batcher(fake_encode, {3, std::chrono::microseconds(100ms), 64},
                         [&](size_t videos, double) { batches.push_back(videos); });
  std::vector<std::future<torch::Tensor>> results;
  for (int i = 0; i < 4; ++i) results.push_back(batcher.submit(fake_video(static_cast<float>(i))));
  auto other_shape = batcher.submit(fake_video(9, 2, 5));  // 5 frames cannot share a call with 3
  for (auto& r : results) r.get();
  EXPECT_FLOAT_EQ(other_shape.get()[1][1].item<float>(), 9.0f);
  std::sort(batches.begin(), batches.end());
  EXPECT_EQ(batches, (std::vector<size_t>{1, 1, 3}));
}

TEST(ServeBatcher, RefusesVideosBeyondTheQueueAndPassesEncoderErrorsOn) {
  std::atomic<bool> release{false};
  DynamicBatcher batcher(
      [&](const torch::Tensor& views) {
        while (!release) std::this_thread::sleep_for(1ms);
        if (views.size(1) == 7) throw Error("model failed");
        return fake_encode(views);
      },
      {1, std::chrono::microseconds(0), 2});
  auto running = batcher.submit(fake_video(0));
  while (batcher.queue_depth() > 0) std::this_thread::sleep_for(1ms);  // taken by the encoder, which blocks
  auto queued1 = batcher.submit(fake_video(1));
  auto queued2 = batcher.submit(fake_video(2, 2, 7));
  EXPECT_THROW(batcher.submit(fake_video(3)), QueueFullError);
  release = true;
  running.get();
  queued1.get();
  EXPECT_THROW(queued2.get(), Error);
}

TEST(ServeLabelCache, KeepsTheMostRecentSetsAndEmbedsEachOnce) {
  std::atomic<int> embedded{0};
  LabelEmbeddingCache cache(
      [&](const std::vector<std::string>& labels, const TemplateSet& templates) {
        ++embedded;
        return LabelEmbeddings{labels, templates, torch::zeros({1, static_cast<int64_t>(labels.size()), 4})};
      },
      2);
  const auto templates = builtin_templates("none");
  bool hit = true;
  cache.get({"a"}, templates, &hit);
  EXPECT_FALSE(hit);
  cache.get({"b"}, templates);
  cache.get({"a"}, templates, &hit);  // a is now the most recent
  EXPECT_TRUE(hit);
  cache.get({"c"}, templates);        // evicts b
  cache.get({"a"}, templates, &hit);
  EXPECT_TRUE(hit);
  cache.get({"b"}, templates, &hit);
  EXPECT_FALSE(hit);
  EXPECT_EQ(embedded, 4);
  EXPECT_EQ(cache.size(), 2u);
  cache.get({"b"}, builtin_templates("default"), &hit);  // the templates are part of the key
  EXPECT_FALSE(hit);

  // Concurrent requests for a new set embed it once.
  embedded = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { cache.get({"x", "y"}, templates); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(embedded, 1);
}

TEST(ServeMetrics, RendersPrometheusTextFormat) {
  MetricsRegistry metrics;
  metrics.declare_counter("requests_total", "requests");
  metrics.declare_gauge("depth", "queue depth");
  metrics.declare_histogram("latency_seconds", "latency", {0.1, 1});
  metrics.increment("requests_total", {{"endpoint", "/v1/classify"}, {"status", "200"}});
  metrics.increment("requests_total", {{"endpoint", "/v1/classify"}, {"status", "200"}});
  metrics.increment("requests_total", {{"endpoint", "a\"b\\c\n"}, {"status", "400"}});
  metrics.set("depth", 3);
  metrics.observe("latency_seconds", 0.05);
  metrics.observe("latency_seconds", 0.5);
  metrics.observe("latency_seconds", 5);
  const auto text = metrics.render();
  EXPECT_NE(text.find("# TYPE requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("requests_total{endpoint=\"/v1/classify\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("requests_total{endpoint=\"a\\\"b\\\\c\\n\",status=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("depth 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count 3\n"), std::string::npos);
  EXPECT_THROW(metrics.increment("undeclared"), std::logic_error);
}

TEST(ServeRequests, ChecksUtf8) {
  EXPECT_TRUE(is_valid_utf8("surfing"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe6\xb8\xb8\xe6\xb3\xb3 \xf0\x9f\x8f\x84"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("caf\xc3"));          // truncated sequence
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));     // UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST(ServeRequests, ParsesAndChecksClassifyFields) {
  auto request = classify_request_from_form({{"labels", "surfing, \"cooking, outdoors\""}, {"top_k", "3"}, {"views", "3x2"}}, "/v.mp4");
  EXPECT_EQ(request.labels, (std::vector<std::string>{"surfing", "cooking, outdoors"}));
  EXPECT_EQ(request.top_k, 3);
  EXPECT_EQ(request.video.views, "3x2");
  EXPECT_EQ(request.video.path, "/v.mp4");
  EXPECT_EQ(classify_request_from_form({{"labels", "[\"a\", \"b,c\"]"}}, "x").labels, (std::vector<std::string>{"a", "b,c"}));
  EXPECT_EQ(classify_request_from_form({{"label_set", "hmdb51"}}, "x").labels.size(), 51u);
  EXPECT_EQ(classify_request_from_form({{"label_set", "kinetics400"}}, "x").labels.size(), 400u);
  EXPECT_EQ(classify_request_from_form({{"label_set", "ucf101"}}, "x").labels.front(), "apply eye makeup");

  EXPECT_EQ(status_of([] { classify_request_from_form({{"labels", "a"}, {"colour", "red"}}, "x"); }), 400);
  EXPECT_EQ(status_of([] { classify_request_from_form({{"labels", ""}}, "x"); }), 400);
  EXPECT_EQ(status_of([] { classify_request_from_form({{"labels", "caf\xc3"}}, "x"); }), 400);
  EXPECT_EQ(status_of([] { classify_request_from_form({{"labels", "a"}, {"top_k", "3x"}}, "x"); }), 400);
  EXPECT_EQ(status_of([] { classify_request_from_form({{"labels", "a"}, {"label_set", "ucf101"}}, "x"); }), 400);
  EXPECT_EQ(status_of([] { classify_request_from_form({{"label_set", "imagenet"}}, "x"); }), 400);
  EXPECT_EQ(status_of([] { classify_request_from_form({{"labels", "[1, 2]"}}, "x"); }), 400);
  EXPECT_EQ(status_of([] { parse_json_object("{\"labels\": "); }), 400);
  EXPECT_EQ(status_of([] { parse_json_object("[1]"); }), 400);
  EXPECT_EQ(status_of([] { embedding_inputs(nlohmann::json{{"input", {1, 2, 3}}}); }), 400);
  EXPECT_EQ(embedding_inputs(nlohmann::json{{"input", "a dog"}}), std::vector<std::string>{"a dog"});
}

TEST(ServeRequests, ServerSidePathsStayInsideTheAllowedFolder) {
  actionclip::testing::TempDir dir;
  const auto allowed = dir.path() / "videos";
  fs::create_directories(allowed / "sub");
  dir.write("videos/sub/a.mp4", "x");
  dir.write("secret.mp4", "x");
  fs::create_symlink(dir.path() / "secret.mp4", allowed / "link.mp4");
  fs::create_symlink(allowed / "sub" / "a.mp4", allowed / "inside.mp4");

  EXPECT_EQ(resolve_allowed_path("sub/a.mp4", allowed.string()), fs::canonical(allowed / "sub/a.mp4").string());
  EXPECT_EQ(resolve_allowed_path((allowed / "inside.mp4").string(), allowed.string()),
            fs::canonical(allowed / "sub/a.mp4").string());
  EXPECT_EQ(status_of([&] { resolve_allowed_path("sub/../../secret.mp4", allowed.string()); }), 403);
  EXPECT_EQ(status_of([&] { resolve_allowed_path((dir.path() / "secret.mp4").string(), allowed.string()); }), 403);
  EXPECT_EQ(status_of([&] { resolve_allowed_path("link.mp4", allowed.string()); }), 403);  // symlink out
  EXPECT_EQ(status_of([&] { resolve_allowed_path("missing.mp4", allowed.string()); }), 404);
  EXPECT_EQ(status_of([&] { resolve_allowed_path("sub", allowed.string()); }), 400);
  EXPECT_EQ(status_of([&] { resolve_allowed_path("sub/a.mp4", ""); }), 403);  // no --allow-path
  // A folder whose name starts like the allowed one's is not inside it.
  fs::create_directories(dir.path() / "videos2");
  dir.write("videos2/b.mp4", "x");
  EXPECT_EQ(status_of([&] { resolve_allowed_path((dir.path() / "videos2/b.mp4").string(), allowed.string()); }), 403);
}

TEST(ServeUploads, PrivateFilesAreRemovedWithTheRequest) {
  actionclip::testing::TempDir dir;
  std::string folder_path, file_path;
  {
    PrivateFolder folder(dir.path().string());
    folder_path = folder.path();
    EXPECT_EQ(fs::status(folder_path).permissions() & fs::perms::all, fs::perms::owner_all);
    {
      UploadFile upload(folder.path(), safe_extension("clip.MP4"));
      file_path = upload.path();
      upload.append("abc", 3);
      upload.finish();
      EXPECT_EQ(fs::path(file_path).extension(), ".mp4");
      EXPECT_EQ(fs::file_size(file_path), 3u);
      EXPECT_EQ(fs::status(file_path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    }
    EXPECT_FALSE(fs::exists(file_path));
  }
  EXPECT_FALSE(fs::exists(folder_path));
  EXPECT_EQ(safe_extension("../../etc/passwd"), "");
  EXPECT_EQ(safe_extension("a.m/p4"), "");
  EXPECT_EQ(safe_extension("video.webm"), ".webm");
}
