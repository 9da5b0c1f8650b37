// `actionclip serve` over HTTP, in process: answers equal `actionclip classify`'s, the OpenAI
// embeddings shape, search, health and metrics, and a clear 4xx for every bad request.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "actionclip/inference/text_embedder.h"
#include "actionclip/serve/api_handlers.h"
#include "serve_harness.h"
#include "shell.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace actionclip;
using namespace actionclip::testing;
using nlohmann::json;

namespace {

json body_of(const httplib::Result& result) {
  EXPECT_TRUE(result) << "no response";
  return result ? json::parse(result->body) : json();
}

// An error answer: the status, and the {"error": {"code", "type", "message"}} body.
void expect_error(const httplib::Result& result, int status, const std::string& code) {
  ASSERT_TRUE(result) << "no response";
  EXPECT_EQ(result->status, status) << result->body;
  const auto body = json::parse(result->body);
  ASSERT_TRUE(body.contains("error")) << result->body;
  EXPECT_EQ(body["error"]["code"], code) << result->body;
  EXPECT_TRUE(body["error"]["type"].is_string());
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
}

json run_cli_json(const std::string& arguments, const std::string& cache) {
  const std::string command = "ACTIONCLIP_CACHE=" + quote(cache) + " " + quote(ACTIONCLIP_CLI_PATH) + " " + arguments;
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << command;
  return json::parse(out);
}

}  // namespace

TEST(ServeHttp, HealthIsUnavailableUntilTheModelHasLoaded) {
  REQUIRE_FIXTURES();
  ServeHarness serve({}, {}, /*ready=*/false);
  auto client = serve.client();
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(body_of(health)["status"], "loading");
  auto models = client.Get("/v1/models");
  expect_error(models, 503, "loading");
  EXPECT_EQ(models->get_header_value("Retry-After"), "1");

  serve.make_ready();
  health = client.Get("/health");
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(body_of(health)["status"], "ok");
  const auto listed = body_of(client.Get("/v1/models"));
  EXPECT_EQ(listed["object"], "list");
  EXPECT_EQ(listed["data"][0]["id"], "actionclip-tiny-transf");
  EXPECT_EQ(listed["data"][0]["meta"]["visual_prompt"], "Transf");
}

TEST(ServeHttp, AnUploadIsAnsweredExactlyAsTheClassifyCommandAnswers) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto cli = run_cli_json("classify -q --json -m " + quote(tiny_model_path()) + " --bpe " + quote(bpe_path()) +
                                    " --labels 'surfing,cooking,a red square,juggling' -k 4 " + quote(fixture_video()),
                                dir.path("cache"));
  const auto& expected = cli["results"][0];

  ServeHarness serve;
  auto client = serve.client();
  auto result = client.Post("/v1/classify", video_form(fixture_video(), {{"labels", "surfing,cooking,a red square,juggling"},
                                                                         {"top_k", "4"}}));
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const auto answer = json::parse(result->body);
  EXPECT_EQ(answer["model"], "actionclip-tiny-transf");
  ASSERT_EQ(answer["predictions"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(answer["predictions"][i]["label"], expected["predictions"][i]["label"]);
    // Byte for byte: the same double, not merely close.
    EXPECT_EQ(answer["predictions"][i]["probability"].get<double>(), expected["predictions"][i]["probability"].get<double>());
  }
  EXPECT_EQ(answer["views"][0]["frames"], expected["views"][0]["frames"]);
  EXPECT_GT(answer["timings"]["decode_seconds"].get<double>(), 0);
  EXPECT_GT(answer["timings"]["model_seconds"].get<double>(), 0);
  EXPECT_FALSE(answer["text_cache_hit"].get<bool>());

  // The same label set again comes from the in-memory cache, with the same answer.
  auto again = json::parse(client.Post("/v1/classify", video_form(fixture_video(), {{"labels", "surfing,cooking,a red square,juggling"},
                                                                                    {"top_k", "4"}}))->body);
  EXPECT_TRUE(again["text_cache_hit"].get<bool>());
  EXPECT_EQ(again["predictions"], answer["predictions"]);
  EXPECT_EQ(files_in(serve.server().upload_folder()), 0u);  // uploads are removed
}

TEST(ServeHttp, ConcurrentRequestsShareModelCalls) {
  REQUIRE_FIXTURES();
  serve::ServiceOptions options;
  options.max_batch = 4;
  options.batch_delay = std::chrono::milliseconds(2000);
  ServeHarness serve({}, options);
  const auto single = json::parse(serve.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "a,b,c"}}))->body);
  const auto calls_before = serve.metrics().histogram_count("actionclip_batch_size");
  std::vector<std::future<json>> answers;
  for (int i = 0; i < 4; ++i)
    answers.push_back(std::async(std::launch::async, [&] {
      return json::parse(serve.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "a,b,c"}}))->body);
    }));
  for (auto& a : answers) {
    const auto answer = a.get();
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(answer["predictions"][i]["probability"].get<double>(), single["predictions"][i]["probability"].get<double>(),
                  1e-6);
  }
  // Four videos, one model call (a full batch does not wait out the 2 s delay).
  EXPECT_EQ(serve.metrics().histogram_count("actionclip_batch_size") - calls_before, 1);
  EXPECT_NE(serve.metrics().render().find("actionclip_batch_size_bucket{le=\"4\"} 2"), std::string::npos);
}

TEST(ServeHttp, JsonRequestsNameVideosOnlyInsideTheAllowedFolder) {
  REQUIRE_FIXTURES();
  TempDir dir;
  fs::create_directories(dir.path() / "videos");
  fs::copy_file(fixture_video(), dir.path() / "videos" / "clip.mp4");
  fs::create_symlink(fixture_video(), dir.path() / "videos" / "outside.mp4");
  serve::HttpOptions http;
  http.allow_path = dir.path("videos");
  ServeHarness serve(http);
  auto client = serve.client();
  auto ok = client.Post("/v1/classify", json{{"path", "clip.mp4"}, {"labels", {"a", "b"}}}.dump(), "application/json");
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(body_of(ok)["predictions"].size(), 2u);
  expect_error(client.Post("/v1/classify", json{{"path", "../videos/clip.mp4"}, {"labels", "a"}}.dump(), "application/json"), 403,
               "path_not_allowed");
  expect_error(client.Post("/v1/classify", json{{"path", "outside.mp4"}, {"labels", "a"}}.dump(), "application/json"), 403,
               "path_not_allowed");
  expect_error(client.Post("/v1/classify", json{{"path", fixture_video()}, {"labels", "a"}}.dump(), "application/json"), 403,
               "path_not_allowed");

  ServeHarness closed;  // no --allow-path
  expect_error(closed.client().Post("/v1/classify", json{{"path", fixture_video()}, {"labels", "a"}}.dump(), "application/json"),
               403, "path_not_allowed");
}

TEST(ServeHttp, BadRequestsGetAClear4xx) {
  REQUIRE_FIXTURES();
  ServeHarness serve;
  auto client = serve.client();
  const auto form = [&](std::vector<std::pair<std::string, std::string>> fields) {
    return client.Post("/v1/classify", video_form(fixture_video(), fields));
  };
  expect_error(client.Post("/v1/classify", "labels=a", "application/x-www-form-urlencoded"), 415, "unsupported_media_type");
  expect_error(client.Post("/v1/classify", "{\"path\": ", "application/json"), 400, "invalid_json");
  expect_error(client.Post("/v1/classify", "{\"labels\": [\"a\"]}", "application/json"), 400, "missing_path");
  expect_error(form({{"labels", "a"}, {"colour", "red"}}), 400, "unknown_field");
  expect_error(form({{"labels", ""}}), 400, "invalid_labels");
  expect_error(form({{"labels", "caf\xc3\x28"}}), 400, "invalid_labels");
  std::string many;
  for (int i = 0; i < 10000; ++i) many += (i ? "," : "") + std::string("label ") + std::to_string(i);
  expect_error(form({{"labels", many}}), 400, "too_many_labels");
  expect_error(form({{"labels", "a"}, {"views", "2x2"}}), 400, "invalid_views");
  expect_error(form({{"labels", "a"}, {"frames", "1000"}}), 400, "invalid_frames");
  expect_error(form({{"labels", "a"}, {"top_k", "0"}}), 400, "invalid_top_k");
  expect_error(form({{"labels", "a"}, {"templates", "/etc/passwd"}}), 400, "invalid_templates");
  expect_error(client.Post("/v1/classify", httplib::MultipartFormDataItems{{"labels", "a", "", ""}}), 400, "missing_file");
  httplib::MultipartFormDataItems not_a_video = {{"file", "this is not a video", "clip.mp4", "video/mp4"}, {"labels", "a", "", ""}};
  expect_error(client.Post("/v1/classify", not_a_video), 400, "invalid_video");
  expect_error(client.Post("/v1/classify", "--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
                           "multipart/form-data; boundary=xyz"),
               400, "invalid_multipart");
  expect_error(client.Post("/v1/classify", "abc", "multipart/form-data"), 400, "invalid_multipart");  // no boundary
  expect_error(client.Post("/v1/embeddings", json{{"input", "a"}, {"temperature", 1}}.dump(), "application/json"), 400,
               "unknown_field");
  expect_error(client.Post("/v1/embeddings", json{{"input", {1, 2}}}.dump(), "application/json"), 400, "invalid_input");
  expect_error(client.Post("/v1/embeddings", json{{"input", "a"}, {"dimensions", 7}}.dump(), "application/json"), 400,
               "invalid_dimensions");
  expect_error(client.Post("/v1/search", json{{"query", "a dog"}}.dump(), "application/json"), 404, "no_index");
  expect_error(client.Get("/v1/nothing"), 404, "not_found");
  EXPECT_EQ(files_in(serve.server().upload_folder()), 0u);
  EXPECT_EQ(client.Get("/health")->status, 200);  // still serving
}

TEST(ServeHttp, LimitsAnswer413AndQueueOverflow503) {
  REQUIRE_FIXTURES();
  serve::HttpOptions http;
  http.max_upload_bytes = 1u << 20;
  serve::ServiceOptions options;
  options.max_queue = 1;
  options.batch_delay = std::chrono::milliseconds(1500);  // keeps the first request in the queue
  options.max_video_frames = 1000;
  ServeHarness serve(http, options);
  if (std::system("curl --version > /dev/null 2>&1") == 0) {
    // curl asks before sending a large body (Expect: 100-continue) and hears 413 at once.
    TempDir dir;
    const auto big = dir.write("big.mp4", std::string(3u << 20, 'x'));
    const auto command = "curl -s -o " + quote(dir.path("answer.json")) + " -w '%{http_code}' -F file=@" + quote(big) +
                         " -F labels=a http://127.0.0.1:" + std::to_string(serve.port()) + "/v1/classify";
    FILE* pipe = popen(command.c_str(), "r");
    char code[8] = {};
    EXPECT_EQ(fread(code, 1, 3, pipe), 3u);
    pclose(pipe);
    EXPECT_STREQ(code, "413");
    EXPECT_EQ(json::parse(read_bytes(dir.path("answer.json")))["error"]["code"], "upload_too_large");
  }
  // A body over the limit with no Content-Length (chunked) is cut off while it streams in.
  httplib::Client chunked("127.0.0.1", serve.port());
  auto streamed = chunked.Post(
      "/v1/classify",
      [sent = size_t{0}](size_t, httplib::DataSink& sink) mutable {
        static const std::string head = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.mp4\"\r\n\r\n";
        if (sent == 0) sink.write(head.data(), head.size());
        const std::string chunk(64u << 10, 'x');
        if (sent < (3u << 20) && sink.is_writable()) {
          sink.write(chunk.data(), chunk.size());
          sent += chunk.size();
        } else {
          sink.done();
        }
        return true;
      },
      "multipart/form-data; boundary=b");
  if (streamed) {
    EXPECT_EQ(streamed->status, 413);  // or the connection was cut before the answer could be read
  }
  EXPECT_EQ(files_in(serve.server().upload_folder()), 0u);

  auto slow = std::async(std::launch::async, [&] {
    return serve.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "a,b"}}));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto refused = serve.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "a,b"}}));
  expect_error(refused, 503, "queue_full");
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_EQ(slow.get()->status, 200);

  serve::ServiceOptions short_videos;
  short_videos.max_video_frames = 50;  // the fixture has 100
  ServeHarness strict({}, short_videos);
  expect_error(strict.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "a"}})), 413, "video_too_long");
  short_videos.max_video_frames = 100000;
  short_videos.max_duration_seconds = 1.5;  // the fixture lasts 4 s
  ServeHarness brief({}, short_videos);
  expect_error(brief.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "a"}})), 413, "video_too_long");
}

TEST(ServeHttp, AnApiKeyGuardsEverythingButHealthAndThePage) {
  REQUIRE_FIXTURES();
  serve::HttpOptions http;
  http.api_key = "s3cret";
  ServeHarness serve(http);
  auto client = serve.client();
  EXPECT_EQ(client.Get("/health")->status, 200);
  EXPECT_EQ(client.Get("/")->status, 200);
  expect_error(client.Get("/v1/models"), 401, "invalid_api_key");
  expect_error(client.Get("/metrics"), 401, "invalid_api_key");
  client.set_bearer_token_auth("wrong");
  expect_error(client.Post("/v1/embeddings", json{{"input", "a"}}.dump(), "application/json"), 401, "invalid_api_key");
  client.set_bearer_token_auth("s3cret");
  EXPECT_EQ(client.Get("/v1/models")->status, 200);
  EXPECT_EQ(client.Post("/v1/embeddings", json{{"input", "a"}}.dump(), "application/json")->status, 200);
}

TEST(ServeHttp, EmbeddingsHaveOpenAIsShape) {
  REQUIRE_FIXTURES();
  ServeHarness serve;
  auto client = serve.client();
  const auto answer = body_of(client.Post("/v1/embeddings", json{{"model", "any"}, {"input", {"a dog", "surfing"}}}.dump(),
                                          "application/json"));
  EXPECT_EQ(answer["object"], "list");
  EXPECT_EQ(answer["model"], "actionclip-tiny-transf");
  ASSERT_EQ(answer["data"].size(), 2u);
  EXPECT_GT(answer["usage"]["prompt_tokens"].get<int>(), 4);
  auto loaded = load_tiny_model();
  const auto expected = TextEmbedder(loaded.model, loaded.tokenizer).embed({"a dog", "surfing"});
  for (int64_t i = 0; i < 2; ++i) {
    const auto& item = answer["data"][static_cast<size_t>(i)];
    EXPECT_EQ(item["object"], "embedding");
    EXPECT_EQ(item["index"], i);
    const auto values = item["embedding"].get<std::vector<float>>();
    ASSERT_EQ(static_cast<int64_t>(values.size()), expected.size(1));
    for (size_t d = 0; d < values.size(); ++d) EXPECT_EQ(values[d], expected[i][static_cast<int64_t>(d)].item<float>());
  }
  // encoding_format base64: the same float32 values, little-endian.
  const auto encoded = body_of(client.Post("/v1/embeddings", json{{"input", "a dog"}, {"encoding_format", "base64"}}.dump(),
                                           "application/json"));
  const auto text = encoded["data"][0]["embedding"].get<std::string>();
  EXPECT_EQ(text, serve::base64_encode(expected[0].contiguous().data_ptr<float>(), static_cast<size_t>(expected.size(1)) * 4));
  EXPECT_EQ(serve::base64_encode("Man", 3) + serve::base64_encode("Ma", 2) + serve::base64_encode("M", 1), "TWFuTWE=TQ==");

  // A video upload: its index embedding (unit length).
  const auto video = body_of(client.Post("/v1/embeddings", video_form(fixture_video(), {})));
  const auto row = video["data"][0]["embedding"].get<std::vector<float>>();
  double norm = 0;
  for (float v : row) norm += double(v) * v;
  EXPECT_NEAR(norm, 1.0, 1e-5);
}

TEST(ServeHttp, SearchRanksTheIndexEmbedVideoWrote) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto index_path = dir.path("index.safetensors");
  const auto command = quote(ACTIONCLIP_CLI_PATH) + " embed-video -m " + quote(tiny_model_path()) + " " +
                       quote(fixture_video()) + " " + quote(fixture("video/clip_vp9.webm")) + " -o " + quote(index_path) +
                       " 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const auto expected = run_cli_json("search --json -m " + quote(tiny_model_path()) + " --bpe " + quote(bpe_path()) +
                                         " --index " + quote(index_path) + " 'a person surfing'",
                                     dir.path("cache"));
  ServeHarness serve({}, {}, true, load_video_index(index_path));
  const auto answer =
      body_of(serve.client().Post("/v1/search", json{{"query", "a person surfing"}, {"top_k", 5}}.dump(), "application/json"));
  ASSERT_EQ(answer["results"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(answer["results"][i]["path"], expected[0]["results"][i]["path"]);
    EXPECT_NEAR(answer["results"][i]["score"].get<double>(), expected[0]["results"][i]["score"].get<double>(), 1e-6);
  }
}

TEST(ServeHttp, MetricsAndThePageAreServed) {
  REQUIRE_FIXTURES();
  ServeHarness serve;
  auto client = serve.client();
  client.Post("/v1/classify", video_form(fixture_video(), {{"labels", "a,b"}}));
  client.Post("/v1/classify", video_form(fixture_video(), {{"labels", ""}}));
  auto metrics = client.Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  const auto& text = metrics->body;
  for (const char* expected : {"actionclip_requests_total{endpoint=\"/v1/classify\",status=\"200\"} 1",
                               "actionclip_requests_total{endpoint=\"/v1/classify\",status=\"400\"} 1",
                               "actionclip_request_duration_seconds_count{endpoint=\"/v1/classify\"} 2",
                               "actionclip_batch_size_count 1", "actionclip_decode_seconds_count 1",
                               "actionclip_model_seconds_count 1", "actionclip_text_cache_misses_total 1",
                               "actionclip_queue_depth 0", "actionclip_ready 1"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;

  auto page = client.Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script src=\"/app.js\">"), std::string::npos);
  EXPECT_EQ(page->body.find("http"), std::string::npos);  // nothing from elsewhere (no CDN)
  EXPECT_EQ(client.Get("/app.js")->status, 200);
  EXPECT_EQ(client.Get("/style.css")->status, 200);
  const auto sets = body_of(client.Get("/v1/label-sets"));
  EXPECT_EQ(sets["data"].size(), 3u);
  EXPECT_EQ(body_of(client.Get("/v1/label-sets/ucf101"))["labels"].size(), 101u);
}
