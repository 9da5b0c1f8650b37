// Clients nobody here wrote, against an in-process `actionclip serve`: OpenAI's npm SDK
// (embeddings.create with baseURL) and the web page in headless Chromium (playwright-core).
// Skipped, saying why, without node, the npm packages (scripts/setup.sh installs them into
// tests/node) or /usr/bin/chromium.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "actionclip/inference/text_embedder.h"
#include "serve_harness.h"
#include "shell.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace actionclip;
using namespace actionclip::testing;
using nlohmann::json;

namespace {

const fs::path kNodeDir = fs::path(ACTIONCLIP_SOURCE_DIR) / "tests" / "node";

// Empty when the node package NAME can run; else why not.
std::string node_missing(const std::string& package) {
  if (std::system("node --version > /dev/null 2>&1") != 0) return "node is not installed";
  if (!fs::exists(kNodeDir / "node_modules" / package))
    return "the npm package " + package + " is not installed (npm ci --prefix tests/node; scripts/setup.sh does it)";
  return "";
}

json run_node(const std::string& script, const std::vector<std::string>& args) {
  std::string command = "node " + quote((kNodeDir / script).string());
  for (const auto& a : args) command += " " + quote(a);
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << command << "\n" << out;
  return status == 0 ? json::parse(out) : json();
}

}  // namespace

TEST(ServeClients, OpenAISdkEmbeddingsCreate) {
  REQUIRE_FIXTURES();
  if (auto why = node_missing("openai"); !why.empty()) GTEST_SKIP() << why;
  serve::HttpOptions http;
  http.api_key = "sk-test";
  ServeHarness serve(http);
  const auto out = run_node("openai_embeddings.mjs", {"http://127.0.0.1:" + std::to_string(serve.port()) + "/v1", "sk-test"});
  ASSERT_TRUE(out.contains("single"));
  EXPECT_EQ(out["single"]["object"], "list");
  EXPECT_EQ(out["single"]["model"], "actionclip-tiny-transf");
  EXPECT_GT(out["single"]["usage"]["prompt_tokens"].get<int>(), 2);

  auto loaded = load_tiny_model();
  TextEmbedder embedder(loaded.model, loaded.tokenizer);
  const auto check = [](const json& row, const torch::Tensor& expected) {
    const auto values = row["embedding"].get<std::vector<double>>();
    ASSERT_EQ(static_cast<int64_t>(values.size()), expected.numel());
    for (size_t d = 0; d < values.size(); ++d)
      EXPECT_EQ(static_cast<float>(values[d]), expected[static_cast<int64_t>(d)].item<float>());  // exact, via base64 too
  };
  check(out["single"]["data"][0], embedder.embed({"a person surfing"})[0]);
  const auto batch = embedder.embed({"a dog", "juggling"});
  ASSERT_EQ(out["batch"]["data"].size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_EQ(out["batch"]["data"][static_cast<size_t>(i)]["index"], i);
    check(out["batch"]["data"][static_cast<size_t>(i)], batch[i]);
  }
  // The SDK sees the error body as OpenAI's.
  EXPECT_EQ(out["refused"]["status"], 400);
  EXPECT_EQ(out["refused"]["code"], "invalid_dimensions");
  EXPECT_EQ(out["refused"]["type"], "invalid_request_error");
}

TEST(ServeClients, WebPageInHeadlessChromium) {
  REQUIRE_FIXTURES();
  if (auto why = node_missing("playwright-core"); !why.empty()) GTEST_SKIP() << why;
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium is not installed (Debian's chromium)";
  TempDir dir;
  const auto index_path = dir.path("index.safetensors");
  const auto embed = quote(ACTIONCLIP_CLI_PATH) + " embed-video -m " + quote(tiny_model_path()) + " " + quote(fixture_video()) +
                     " -o " + quote(index_path) + " 2>/dev/null";
  ASSERT_EQ(std::system(embed.c_str()), 0);
  ServeHarness serve({}, {}, true, load_video_index(index_path));
  const auto expected = json::parse(
      serve.client().Post("/v1/classify", video_form(fixture_video(), {{"labels", "surfing, cooking, juggling"}, {"top_k", "3"}}))->body);

  const auto screenshot = (fs::path(ACTIONCLIP_CLI_PATH).parent_path() / "serve-page.png").string();
  const auto out = run_node("browser_page.mjs", {"http://127.0.0.1:" + std::to_string(serve.port()) + "/", fixture_video(),
                                                 screenshot, dir.path("chromium-profile")});
  ASSERT_TRUE(out.contains("typed")) << out.dump();
  ASSERT_EQ(out["typed"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out["typed"][i]["label"], expected["predictions"][i]["label"]);
    char percent[32];
    std::snprintf(percent, sizeof percent, "%.1f%%", 100 * expected["predictions"][i]["probability"].get<double>());
    EXPECT_EQ(out["typed"][i]["percent"], percent);
  }
  EXPECT_EQ(out["typed"][0]["width"], "100%");  // the best label's bar is the longest
  EXPECT_TRUE(out["videoShown"].get<bool>());
  EXPECT_EQ(out["ucf"].size(), 5u);  // the built-in UCF-101 list
  ASSERT_EQ(out["hits"].size(), 1u);
  EXPECT_NE(out["hits"][0].get<std::string>().find("clip_h264.mp4"), std::string::npos);
  EXPECT_TRUE(out["outside"].empty()) << "the page fetched from elsewhere: " << out["outside"].dump();
  EXPECT_TRUE(fs::file_size(screenshot) > 1000) << screenshot;
}
