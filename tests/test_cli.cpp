// The built `actionclip` binary end to end, as a user runs it: exit codes, JSON output, error
// reports that name the bad input, and the files it writes. Uses the tiny reference ActionCLIP
// checkpoint (Transf prompt, resolution 32) and the fixture videos.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "actionclip/build_paths.h"
#include "actionclip/io/npy.h"
#include "fixtures.h"
#include "shell.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using actionclip::testing::fixture;
using nlohmann::json;

using actionclip::testing::quote;
using actionclip::testing::read_bytes;

struct CliRun {
  int code = -1;
  std::string out;  // stdout (with stderr appended when the run merged them)
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(actionclip::testing::fixtures_dir()))
      GTEST_SKIP() << "fixtures not found at " << actionclip::testing::fixtures_dir() << " (set ACTIONCLIP_FIXTURES)";
    ASSERT_TRUE(fs::exists(ACTIONCLIP_CLI_PATH)) << "CLI not built at " << ACTIONCLIP_CLI_PATH;
    dir_.emplace("actionclip_cli_");
  }
  void TearDown() override { dir_.reset(); }

  std::string path(const std::string& name) const { return dir_->path(name); }
  std::string write(const std::string& name, const std::string& bytes) const { return dir_->write(name, bytes); }

  // Runs `actionclip ARGS`. The text-embedding cache goes to this test's folder, never $HOME.
  CliRun run(const std::string& args, bool merge_stderr = false) const {
    const auto err_file = path("stderr.txt");
    const std::string command = "ACTIONCLIP_CACHE=" + quote(path("cache")) + " " + quote(ACTIONCLIP_CLI_PATH) + " " +
                                args + (merge_stderr ? " 2>&1" : " 2>" + quote(err_file));
    CliRun result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) {
      ADD_FAILURE() << "popen failed for " << command;
      return result;
    }
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.out.append(buffer, n);
    const int status = ::pclose(pipe);
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (!merge_stderr) result.err = read_bytes(err_file);
    return result;
  }

  // Runs and parses stdout as JSON, failing the test on a non-JSON output.
  json run_json(const std::string& args, int expected_code = 0) const {
    const auto r = run(args);
    EXPECT_EQ(r.code, expected_code) << args << "\nstderr: " << r.err;
    try {
      return json::parse(r.out);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << r.out << "\nstderr: " << r.err;
      return json::object();
    }
  }

  static std::string bpe() {
    return quote((actionclip::testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string());
  }
  static std::string model() { return quote(fixture("reference/actionclip-tiny-transf.pt")); }
  static std::string video() { return fixture("video/clip_h264.mp4"); }
  static std::vector<std::string> fixture_videos() {
    return {fixture("video/clip_h264.mp4"), fixture("video/clip_vp9.webm"), fixture("video/clip_xvid.avi")};
  }
  // A video list giving video i label i.
  std::string labelled_list(const std::vector<std::string>& videos) const {
    std::string text;
    for (size_t i = 0; i < videos.size(); ++i) text += videos[i] + " " + std::to_string(i) + "\n";
    return write("list.txt", text);
  }

 private:
  std::optional<actionclip::testing::TempDir> dir_;  // empty when SetUp skipped
};

// The predictions of a classify result: label -> probability, in the printed order.
std::vector<std::pair<std::string, double>> predictions(const json& result) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& p : result.at("predictions")) out.emplace_back(p.at("label"), p.at("probability"));
  return out;
}

void expect_distribution(const std::vector<std::pair<std::string, double>>& top) {
  double sum = 0;
  for (size_t i = 0; i < top.size(); ++i) {
    sum += top[i].second;
    if (i > 0) {
      EXPECT_GE(top[i - 1].second, top[i].second) << "not sorted at " << i;
    }
  }
  EXPECT_NEAR(sum, 1.0, 1e-4);
}

}  // namespace

TEST_F(CliTest, ClassifyIsDeterministicAndSingleViewByDefault) {
  const auto base = "classify -q --json -m " + model() + " --bpe " + bpe() + " --labels 'a,b,c,d' -k 4 " + quote(video());
  const auto first = run_json(base);
  ASSERT_EQ(first.at("results").size(), 1u) << first.dump();
  const auto top = predictions(first["results"][0]);
  ASSERT_EQ(top.size(), 4u);
  expect_distribution(top);
  std::set<std::string> labels;
  for (const auto& [label, _] : top) labels.insert(label);
  EXPECT_EQ(labels, (std::set<std::string>{"a", "b", "c", "d"}));

  // A second run (now reading the text cache) and an explicit --views 1x1 give the same scores.
  for (const auto& args : {base, base + " --views 1x1"}) {
    const auto again = predictions(run_json(args).at("results").at(0));
    ASSERT_EQ(again.size(), top.size()) << args;
    for (size_t i = 0; i < top.size(); ++i) {
      EXPECT_EQ(again[i].first, top[i].first) << args;
      EXPECT_NEAR(again[i].second, top[i].second, 1e-6) << args;
    }
  }

  const auto multi = run_json(base + " --views 3x2");
  EXPECT_EQ(multi.at("views"), "3x2");
  const auto multi_top = predictions(multi.at("results").at(0));
  EXPECT_EQ(multi_top.size(), 4u);
  expect_distribution(multi_top);
}

// classify --json reports, per view, which frames the model saw: the reference's indices by
// default (clip_h264.mp4: 100 frames at 25 fps), mmaction2's with --sampling mmaction.
TEST_F(CliTest, ClassifyReportsTheFramesEachViewSaw) {
  const auto base = "classify -q --json -m " + model() + " --bpe " + bpe() + " --labels 'a,b' " + quote(video());
  const auto reference = run_json(base);
  EXPECT_EQ(reference.at("sampling"), "actionclip");
  const auto views = reference.at("results").at(0).at("views");
  ASSERT_EQ(views.size(), 1u) << reference.dump();
  const std::vector<int64_t> frames = views[0].at("frames");
  EXPECT_EQ(frames, (std::vector<int64_t>{5, 18, 30, 43, 55, 68, 80, 93}));
  const std::vector<double> seconds = views[0].at("seconds");
  ASSERT_EQ(seconds.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_NEAR(seconds[i], frames[i] / 25.0, 1e-9);

  const auto mmaction = run_json(base + " --sampling mmaction");
  EXPECT_EQ(mmaction.at("sampling"), "mmaction");
  EXPECT_EQ(mmaction.at("results").at(0).at("views").at(0).at("frames").get<std::vector<int64_t>>(),
            (std::vector<int64_t>{6, 18, 31, 43, 56, 68, 81, 93}));

  const auto multi = run_json(base + " --views 3x2").at("results").at(0).at("views");
  ASSERT_EQ(multi.size(), 6u);
  EXPECT_EQ(multi[0].at("frames"), multi[2].at("frames"));  // three crops of one clip
  EXPECT_NE(multi[0].at("frames"), multi[3].at("frames"));  // the next clip
  EXPECT_EQ(run(base + " --sampling tsn").code, 64);
}

TEST_F(CliTest, ClassifyReportsEveryBadVideoAndStillClassifiesTheGoodOne) {
  fs::create_directories(path("videos"));
  const auto original = read_bytes(video());
  write("videos/good.mp4", original);
  write("videos/empty.mp4", "");
  std::mt19937 rng(99);
  std::string random(20000, '\0');
  for (auto& b : random) b = static_cast<char>(rng() & 0xff);
  write("videos/random.mp4", random);
  write("videos/truncated.mp4", original.substr(0, original.size() * 3 / 10));
  // A valid 8 kHz mono 16-bit WAV with 800 samples: a real media file with no video stream.
  // Folder expansion only picks video extensions, so it is passed explicitly.
  std::string wav = "RIFF";
  auto u32 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  auto u16 = [](uint16_t v) { return std::string{char(v), char(v >> 8)}; };
  const uint32_t data_bytes = 800 * 2;
  wav += u32(36 + data_bytes) + "WAVEfmt " + u32(16) + u16(1) + u16(1) + u32(8000) + u32(16000) + u16(2) + u16(16) +
         "data" + u32(data_bytes) + std::string(data_bytes, '\x10');
  const auto audio = write("audio.wav", wav);
  const auto missing = path("no-such-video.mp4");

  const auto doc = run_json("classify -q --json -m " + model() + " --bpe " + bpe() + " --labels 'a,b' " +
                                quote(path("videos")) + " " + quote(audio) + " " + quote(missing),
                            2);
  EXPECT_EQ(doc.at("videos"), 6);
  EXPECT_EQ(doc.at("failed"), 5);
  std::set<std::string> failed;
  for (const auto& r : doc.at("results")) {
    const std::string p = r.at("path");
    if (fs::path(p).filename() == "good.mp4") {
      EXPECT_FALSE(r.contains("error")) << r.dump();
      expect_distribution(predictions(r));
      continue;
    }
    ASSERT_TRUE(r.contains("error")) << r.dump();
    EXPECT_NE(r["error"].get<std::string>().find(fs::path(p).filename().string()), std::string::npos) << r.dump();
    failed.insert(fs::path(p).filename().string());
  }
  EXPECT_EQ(failed, (std::set<std::string>{"empty.mp4", "random.mp4", "truncated.mp4", "audio.wav", "no-such-video.mp4"}));
}

TEST_F(CliTest, ClassifyWithTheHmdbLabelFile) {
  const auto csv = actionclip::testing::shared_data_dir() / "actionclip-labels" / "hmdb51_labels.csv";
  // The file has CRLF line ends and an "id,name" header; the expected names come straight from it.
  std::set<std::string> expected;
  std::istringstream lines(read_bytes(csv.string()));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) expected.insert(line.substr(line.find(',') + 1));
  }
  ASSERT_EQ(expected.size(), 51u);

  const auto doc = run_json("classify -q --json -m " + model() + " --bpe " + bpe() + " --labels-file " +
                            quote(csv.string()) + " -k 51 " + quote(video()));
  const auto top = predictions(doc.at("results").at(0));
  std::set<std::string> labels;
  for (const auto& [label, _] : top) labels.insert(label);
  EXPECT_EQ(labels, expected);
  expect_distribution(top);
}

TEST_F(CliTest, InfoOnGarbageFailsNamingTheFile) {
  const auto garbage = write("garbage.bin", std::string(1000, '\x07'));
  const auto r = run("info " + quote(garbage), true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(garbage), std::string::npos) << r.out;
}

TEST_F(CliTest, ConvertStoresLabelsThatClassifyUses) {
  const auto converted = path("model.safetensors");
  const auto c = run("convert " + model() + " " + quote(converted) + " --labels 'x,y'");
  ASSERT_EQ(c.code, 0) << c.err;

  const auto info = run_json("info --json " + quote(converted));
  EXPECT_EQ(info.at("format"), "actionclip-safetensors");
  EXPECT_EQ(info.at("visual_prompt"), "Transf");
  EXPECT_EQ(info.at("labels"), 2);

  const auto doc = run_json("classify -q --json -m " + quote(converted) + " --bpe " + bpe() + " " + quote(video()));
  const auto top = predictions(doc.at("results").at(0));
  std::set<std::string> labels;
  for (const auto& [label, _] : top) labels.insert(label);
  EXPECT_EQ(labels, (std::set<std::string>{"x", "y"}));
  expect_distribution(top);
}

TEST_F(CliTest, EmbedTextAsJsonAndNpy) {
  const std::string texts = "'a person jumping' 'a dog' 'riding a bike'";
  const auto doc = run_json("embed-text -m " + model() + " --bpe " + bpe() + " " + texts);
  EXPECT_EQ(doc.at("texts").get<std::vector<std::string>>(),
            (std::vector<std::string>{"a person jumping", "a dog", "riding a bike"}));
  const auto& rows = doc.at("embeddings");
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 128u);
    double norm = 0;
    for (const auto& v : row) norm += v.get<double>() * v.get<double>();
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-4);
  }

  const auto npy = path("texts.npy");
  const auto r = run("embed-text -m " + model() + " --bpe " + bpe() + " -o " + quote(npy) + " " + texts);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto array = actionclip::io::load_npy(npy);
  ASSERT_EQ(array.sizes(), torch::IntArrayRef({3, 128}));
  // The same vectors either way.
  auto from_json = torch::empty({3, 128});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 128; ++j) from_json[i][j] = rows[i][j].get<float>();
  EXPECT_TRUE(torch::allclose(array, from_json, 0, 1e-6));
}

TEST_F(CliTest, ZeroShotImageOnAPpm) {
  // A 40x30 binary PPM with a red/green split, which FFmpeg's image demuxer reads.
  std::string ppm = "P6\n40 30\n255\n";
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) ppm += x < 20 ? std::string("\xff\x00\x00", 3) : std::string("\x00\xff\x00", 3);
  const auto image = write("split.ppm", ppm);
  const auto doc =
      run_json("zero-shot-image -m " + model() + " --bpe " + bpe() + " --labels 'red,green' --json " + quote(image));
  ASSERT_EQ(doc.size(), 1u) << doc.dump();
  EXPECT_EQ(doc[0].at("path"), image);
  const auto top = predictions(doc[0]);
  ASSERT_EQ(top.size(), 2u);
  expect_distribution(top);
}

TEST_F(CliTest, EmbedVideoThenSearch) {
  const std::vector<std::string> videos = {fixture("video/clip_h264.mp4"), fixture("video/clip_xvid.avi"),
                                           fixture("video/clip_vp9.webm")};
  const auto index = path("index.safetensors");
  std::string args = "embed-video -m " + model() + " -o " + quote(index);
  for (const auto& v : videos) args += " " + quote(v);
  const auto e = run(args);
  ASSERT_EQ(e.code, 0) << e.err;

  const auto doc = run_json("search -m " + model() + " --bpe " + bpe() + " --index " + quote(index) +
                            " 'a query' --json -k 3");
  ASSERT_EQ(doc.size(), 1u) << doc.dump();
  EXPECT_EQ(doc[0].at("query"), "a query");
  const auto& hits = doc[0].at("results");
  ASSERT_EQ(hits.size(), 3u);
  std::set<std::string> paths;
  for (size_t i = 0; i < hits.size(); ++i) {
    paths.insert(hits[i].at("path").get<std::string>());
    if (i > 0) {
      EXPECT_GE(hits[i - 1].at("score").get<double>(), hits[i].at("score").get<double>());
    }
  }
  EXPECT_EQ(paths, std::set<std::string>(videos.begin(), videos.end()));
}

// `eval` on a labelled list: its top-1 agrees with classify's rankings, the confusion matrix and
// the score matrix are written, multi-view works, and a multi-label list gives mAP.
TEST_F(CliTest, EvalAgreesWithClassifyAndWritesItsOutputs) {
  const auto videos = fixture_videos();
  const std::string labels = "running,surfing,cooking";
  const auto list = labelled_list(videos);
  const auto common = " -q --json -m " + model() + " --bpe " + bpe() + " --labels " + labels;

  const auto result = run_json("eval" + common + " --list " + quote(list) + " --confusion " + quote(path("c.csv")) +
                               " --scores " + quote(path("s.npy")));
  ASSERT_EQ(result.at("videos"), 3);
  int right = 0;
  for (size_t i = 0; i < videos.size(); ++i) {
    const auto classified = run_json("classify" + common + " -k 1 " + quote(videos[i]));
    const std::vector<std::string> names = {"running", "surfing", "cooking"};
    right += predictions(classified.at("results").at(0)).at(0).first == names[i];
  }
  EXPECT_NEAR(result.at("top1").get<double>(), right / 3.0, 1e-9);
  EXPECT_DOUBLE_EQ(result.at("top5").get<double>(), 1.0);  // three classes
  EXPECT_TRUE(result.contains("mean_class_accuracy"));

  std::ifstream csv(path("c.csv"));
  std::string line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 4);  // header + one row per class
  EXPECT_TRUE(fs::exists(path("s.npy")));
  // Beside the scores: per row, the video and the frames of each view (what the reference's
  // _get_val_indices gives for the 100-, 60- and 90-frame clips, with their times).
  const auto frames = json::parse(std::ifstream(path("s.frames.json")));
  EXPECT_EQ(frames.at("views"), "1x1");
  EXPECT_EQ(frames.at("sampling"), "actionclip");
  ASSERT_EQ(frames.at("videos").size(), videos.size());
  const std::vector<std::vector<int64_t>> expected = {
      {5, 18, 30, 43, 55, 68, 80, 93}, {3, 10, 18, 25, 33, 40, 48, 55}, {5, 16, 27, 38, 50, 61, 72, 83}};
  for (size_t i = 0; i < videos.size(); ++i) {
    const auto& row = frames["videos"][i];
    EXPECT_EQ(row.at("path"), videos[i]);
    ASSERT_EQ(row.at("views").size(), 1u);
    EXPECT_EQ(row["views"][0].at("frames").get<std::vector<int64_t>>(), expected[i]) << videos[i];
    EXPECT_EQ(row["views"][0].at("seconds").size(), 8u);
  }

  const auto multi_view = run_json("eval" + common + " --list " + quote(list) + " --views 3x2");
  EXPECT_EQ(multi_view.at("videos"), 3);

  const auto multi_label = write("multi.txt", videos[0] + " 0 1\n" + videos[1] + " 1\n" + videos[2] + " 2 0\n");
  const auto map = run_json("eval" + common + " --list " + quote(multi_label));
  ASSERT_TRUE(map.contains("mAP")) << map.dump();
  EXPECT_FALSE(map.contains("top1"));
  EXPECT_GT(map.at("mAP").get<double>(), 0.0);
  EXPECT_LE(map.at("mAP").get<double>(), 1.0);
}

// The few-shot protocol fine-tunes on K videos per class drawn by seed, then evaluates; the same
// seed gives the same scores.
TEST_F(CliTest, EvalFewShotIsReproducible) {
  const auto list = labelled_list(fixture_videos());
  const auto label_file = write("labels.csv", "id,name\n0,running\n1,surfing\n2,cooking\n");
  const auto config = write("few.yaml", "seed: 2\ndata:\n  num_segments: 8\n  batch_size: 3\n  workers: 1\n"
                                        "  input_size: 32\n  train_list: " + list + "\n  label_list: " + label_file +
                                        "\nnetwork:\n  sim_header: Transf\nsolver:\n  epochs: 1\n  lr: 1.e-5\n"
                                        "  lr_warmup_step: 0\nlogging:\n  output_dir: " + path("run") + "\n");
  auto few_shot = [&](const std::string& scores) {
    return run("eval -q --json -m " + model() + " --bpe " + bpe() + " --labels-file " + quote(label_file) + " --list " +
               quote(list) + " --shots 1 --seed 7 --config " + quote(config) + " --scores " + quote(path(scores)));
  };
  const auto first = few_shot("a.npy");
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.err.find("fine-tuning on 1 videos per class"), std::string::npos) << first.err;
  EXPECT_EQ(json::parse(first.out).at("videos"), 3);
  const auto second = few_shot("b.npy");
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(read_bytes(path("a.npy")), read_bytes(path("b.npy")));
}

TEST_F(CliTest, UsageErrorsExitWith64NamingTheOption) {
  const auto bad_value = run("classify -m x --labels a --precision fp16 v.mp4", true);
  EXPECT_EQ(bad_value.code, 64);
  EXPECT_NE(bad_value.out.find("--precision"), std::string::npos) << bad_value.out;
  // --model is optional (the built-in model); train's --config is not.
  const auto missing = run("train", true);
  EXPECT_EQ(missing.code, 64);
  EXPECT_NE(missing.out.find("--config"), std::string::npos) << missing.out;
}

TEST_F(CliTest, HelpWorksForEverySubcommand) {
  const auto top = run("--help", true);
  ASSERT_EQ(top.code, 0) << top.out;
  // CLI11 lists subcommands under "Subcommands:", one per line, name first.
  std::vector<std::string> commands;
  std::istringstream lines(top.out.substr(std::min(top.out.find("Subcommands:"), top.out.size())));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line) && !line.empty()) {
    std::istringstream words(line);
    std::string name;
    if (words >> name) commands.push_back(name);
  }
  for (const char* known : {"info", "convert", "embed-text", "embed-video", "search", "zero-shot-image", "classify"})
    EXPECT_NE(std::find(commands.begin(), commands.end(), known), commands.end()) << known << " missing in:\n" << top.out;
  for (const auto& command : commands) {
    const auto r = run(command + " --help", true);
    EXPECT_EQ(r.code, 0) << command << ":\n" << r.out;
    EXPECT_NE(r.out.find(command), std::string::npos) << command << ":\n" << r.out;
  }
}

// A ResNet CLIP (the RN50 layout, OpenAI's TorchScript archive) through the commands.
class CliResnetTest : public CliTest {
 protected:
  static std::string rn_model() { return quote(fixture("reference/clip-tiny-rn-jit.pt")); }
  // A 40x30 binary PPM, red left and green right.
  std::string split_image() const {
    std::string ppm = "P6\n40 30\n255\n";
    for (int y = 0; y < 30; ++y)
      for (int x = 0; x < 40; ++x) ppm += x < 20 ? std::string("\xff\x00\x00", 3) : std::string("\x00\xff\x00", 3);
    return write("split.ppm", ppm);
  }
};

TEST_F(CliResnetTest, InfoReportsTheResnetArchitecture) {
  const auto info = run_json("info --json " + rn_model());
  const auto& architecture = info.at("architecture");
  EXPECT_EQ(architecture.at("vision_kind"), "resnet");
  EXPECT_EQ(architecture.at("vision_stage_layers").get<std::vector<int>>(), (std::vector<int>{1, 1, 1, 1}));
  EXPECT_EQ(architecture.at("vision_width"), 16);
  EXPECT_EQ(architecture.at("image_resolution"), 64);
  EXPECT_EQ(info.at("unused_keys").size(), 0u);
  const auto text = run("info " + rn_model());
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("ResNet, blocks 1-1-1-1, width 16, 8 heads"), std::string::npos) << text.out;
}

TEST_F(CliResnetTest, ConvertedModelGivesTheSameEmbeddings) {
  const auto converted = path("rn.safetensors");
  const auto c = run("convert " + rn_model() + " " + quote(converted));
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(run_json("info --json " + quote(converted)).at("architecture").at("vision_kind"), "resnet");
  for (const auto& command : {std::string("embed-text --bpe ") + bpe() + " 'a dog' 'surfing'",
                              "embed-image " + quote(split_image())}) {
    const auto original = run_json(command + " -m " + rn_model());
    const auto reloaded = run_json(command + " -m " + quote(converted));
    ASSERT_EQ(original.at("embeddings").size(), reloaded.at("embeddings").size()) << command;
    EXPECT_EQ(original.at("embeddings"), reloaded.at("embeddings")) << command;
  }
}

TEST_F(CliResnetTest, ClassifyEvalEmbedVideoAndZeroShotImage) {
  const auto common = " -q --json -m " + rn_model() + " --bpe " + bpe() + " --labels 'running,surfing,cooking'";
  const auto classified = run_json("classify" + common + " -k 3 " + quote(video()));
  const auto top = predictions(classified.at("results").at(0));
  ASSERT_EQ(top.size(), 3u);
  expect_distribution(top);

  const auto list = labelled_list(fixture_videos());
  EXPECT_EQ(run_json("eval" + common + " --list " + quote(list)).at("videos"), 3);

  const auto index = path("index.safetensors");
  const auto e = run("embed-video -m " + rn_model() + " -o " + quote(index) + " " + quote(video()));
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(fs::exists(index));

  const auto images = run_json("zero-shot-image -m " + rn_model() + " --bpe " + bpe() + " --labels 'red,green' --json " +
                               quote(split_image()));
  ASSERT_EQ(images.size(), 1u) << images.dump();
  expect_distribution(predictions(images[0]));
}

TEST_F(CliResnetTest, BenchClipBuildsResnetShapes) {
  const auto result = run_json("bench clip --arch tiny-rn --json --seconds 0.05 --batch 2 --text-batch 4");
  EXPECT_EQ(result.at("model"), "tiny-rn (random weights)");
  EXPECT_GT(result.at("images_per_s").get<double>(), 0.0);
  EXPECT_TRUE(result.at("float32_images_per_s_same_run").is_null());  // float32 is the run itself
  // int8 is held against float32 timed in the same run, on the same model.
  const auto int8 = run_json("bench clip --arch tiny-rn --json --seconds 0.05 --batch 2 --text-batch 4 --precision int8");
  EXPECT_EQ(int8.at("precision_used"), "int8");
  EXPECT_GT(int8.at("float32_images_per_s_same_run").get<double>(), 0.0);
}

TEST_F(CliTest, InfoNamesTheFormatOfEveryFileUsersHold) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"reference/actionclip-tiny-transf-as-released.pt", "actionclip-checkpoint"},
      {"reference/clip-tiny-jit.pt", "openai-torchscript"},
      {"hf/clip-tiny-bin", "huggingface"},
      {"hf/clip-tiny", "huggingface"}};
  for (const auto& [file, format] : files) {
    const auto info = run_json("info --json " + quote(fixture(file)));
    EXPECT_EQ(info.value("format", ""), format) << file;
    EXPECT_EQ(info.at("unused_keys").size(), 0u) << file;
  }
  // A refused file: exit 1, the file and the global named, nothing run.
  fs::remove("/tmp/actionclip-pickle-ran");
  const auto r = run("info " + quote(fixture("reference/malicious-checkpoint.pt")));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("malicious-checkpoint.pt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("posix.system"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists("/tmp/actionclip-pickle-ran"));
  // --verify checks the tensor data against the archive's CRC-32s.
  auto bytes = read_bytes(fixture("reference/actionclip-tiny-transf-as-released.pt"));
  bytes[bytes.size() / 3] ^= 0x10;
  const auto corrupt = write("corrupt.pt", bytes);
  EXPECT_EQ(run("info " + quote(corrupt)).code, 0);
  const auto verified = run("info --verify " + quote(corrupt));
  EXPECT_EQ(verified.code, 1);
  EXPECT_NE(verified.err.find("CRC-32"), std::string::npos) << verified.err;
}
