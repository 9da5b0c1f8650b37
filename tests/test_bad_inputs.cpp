// What the model loader does with files users get wrong: every bad input is a FileError whose
// message names the file (and the key at fault), never a crash or a bare library exception.
// Also the .npy writer's round trip and its compliance with NumPy's header rules.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actionclip/io/checkpoint.h"
#include "actionclip/io/npy.h"
#include "actionclip/io/safetensors.h"
#include "actionclip/model/model_io.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using actionclip::FileError;
using actionclip::testing::fixture;

// Each test's scratch folder.
class TempDir : public actionclip::testing::TempDir {
 public:
  TempDir() : actionclip::testing::TempDir("actionclip_bad_") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Safetensors framing around an arbitrary header text: little-endian length, header, data.
std::string safetensors_bytes(uint64_t declared_length, const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((declared_length >> (8 * i)) & 0xff));
  return out + header + data;
}

// The message of the FileError `fn` throws. Any other exception fails the test with its
// message; throwing nothing fails it too.
std::string file_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const FileError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a FileError, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected a FileError, nothing was thrown";
  return {};
}

actionclip::LoadedModel load(const std::string& path, actionclip::LoadOptions options = {}) {
  options.load_tokenizer = false;
  return actionclip::load_model(path, options);
}

// Both entry points (the format reader and the full loader) reject `path` with a FileError
// naming it and containing every one of `needles`.
void expect_rejected(const std::string& path, const std::vector<std::string>& needles = {}) {
  for (const auto& [name, fn] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"read_checkpoint", [&] { actionclip::io::read_checkpoint(path); }}, {"load_model", [&] { load(path); }}}) {
    SCOPED_TRACE(name);
    const auto message = file_error(fn);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const auto& needle : needles) EXPECT_NE(message.find(needle), std::string::npos) << message;
  }
}

// A project .safetensors written by save_model from the fixture ActionCLIP checkpoint.
std::string write_project_file(const TempDir& dir, const std::string& name) {
  auto loaded = load(fixture("reference/actionclip-tiny-transf.pt"));
  const auto path = dir.path(name);
  actionclip::save_model(path, loaded.model);
  return path;
}

// Sets an environment variable for one scope and restores the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

// ---- files that are not model files at all ------------------------------------------------

TEST(BadInputs, MissingPath) {
  TempDir dir;
  const auto path = dir.path("does-not-exist.pt");
  expect_rejected(path, {"no such file"});
  EXPECT_NE(file_error([&] { actionclip::io::load_safetensors(path); }).find(path), std::string::npos);
}

TEST(BadInputs, EmptyFile) {
  TempDir dir;
  const auto path = dir.write("empty.safetensors", "");
  expect_rejected(path, {"empty"});
  EXPECT_NE(file_error([&] { actionclip::io::load_safetensors(path); }).find(path), std::string::npos);
}

TEST(BadInputs, RandomBytes) {
  TempDir dir;
  std::mt19937 rng(1234);
  std::string bytes(4096, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
  const auto path = dir.write("random.pt", bytes);
  expect_rejected(path);
  EXPECT_NE(file_error([&] { actionclip::io::load_safetensors(path); }).find(path), std::string::npos);
}

// ---- truncated downloads ----------------------------------------------------------------------

TEST(BadInputs, TruncatedTorchScriptArchive) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto full = read_bytes(fixture("reference/clip-tiny-jit.pt"));
  expect_rejected(dir.write("clip-tiny-jit.pt", full.substr(0, full.size() / 2)));
}

TEST(BadInputs, TruncatedActionClipCheckpoint) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto full = read_bytes(fixture("reference/actionclip-tiny-transf.pt"));
  expect_rejected(dir.write("actionclip-tiny-transf.pt", full.substr(0, full.size() / 2)));
}

TEST(BadInputs, TruncatedProjectSafetensors) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto full = read_bytes(write_project_file(dir, "full.safetensors"));
  // The header survives the cut, so the reader must notice tensor data past the end.
  const auto path = dir.write("cut.safetensors", full.substr(0, full.size() / 2));
  expect_rejected(path, {"truncated"});
  EXPECT_NE(file_error([&] { actionclip::io::load_safetensors(path); }).find(path), std::string::npos);
}

// ---- well-formed files with the wrong content -------------------------------------------------

TEST(BadInputs, MissingKeyIsNamed) {
  REQUIRE_FIXTURES();
  TempDir dir;
  actionclip::io::Metadata metadata;
  auto tensors = actionclip::io::load_safetensors(write_project_file(dir, "full.safetensors"), &metadata);
  ASSERT_EQ(tensors.erase("visual.proj"), 1u);
  const auto path = dir.path("no-proj.safetensors");
  actionclip::io::save_safetensors(path, tensors, metadata);
  const auto message = file_error([&] { load(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("missing key 'visual.proj'"), std::string::npos) << message;
}

TEST(BadInputs, WrongShapeNamesKeyAndBothShapes) {
  REQUIRE_FIXTURES();
  TempDir dir;
  actionclip::io::Metadata metadata;
  auto tensors = actionclip::io::load_safetensors(write_project_file(dir, "full.safetensors"), &metadata);
  ASSERT_EQ(tensors.at("visual.proj").sizes(), torch::IntArrayRef({128, 128}));
  tensors["visual.proj"] = torch::zeros({64, 128});
  const auto path = dir.path("bad-proj.safetensors");
  actionclip::io::save_safetensors(path, tensors, metadata);
  const auto message = file_error([&] { load(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("'visual.proj'"), std::string::npos) << message;
  EXPECT_NE(message.find("[64, 128]"), std::string::npos) << message;
  EXPECT_NE(message.find("[128, 128]"), std::string::npos) << message;
}

TEST(BadInputs, HuggingFaceFolderWithoutWeights) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto folder = dir.path("clip-tiny");
  fs::create_directories(folder);
  for (const auto& entry : fs::directory_iterator(fixture("hf/clip-tiny")))
    if (entry.path().filename() != "model.safetensors") fs::copy_file(entry.path(), fs::path(folder) / entry.path().filename());
  expect_rejected(folder, {"model.safetensors"});
}

TEST(BadInputs, HuggingFaceFolderWithInvalidConfig) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto folder = dir.path("clip-tiny");
  fs::create_directories(folder);
  for (const auto& entry : fs::directory_iterator(fixture("hf/clip-tiny")))
    if (entry.path().filename() != "config.json") fs::copy_file(entry.path(), fs::path(folder) / entry.path().filename());
  dir.write("clip-tiny/config.json", "{\"text_config\": {\"hidden_act\": ");
  // The message names config.json by its full path, which contains the folder's.
  expect_rejected(folder, {"config.json", "invalid JSON"});
}

TEST(BadInputs, SafetensorsHeaderThatIsNotJson) {
  TempDir dir;
  // Starts with '{' so format detection takes it for safetensors and the JSON parser must object.
  const std::string header = "{not json at all}       ";
  const auto path = dir.write("bad-header.safetensors", safetensors_bytes(header.size(), header, std::string(16, '\0')));
  expect_rejected(path, {"not valid JSON"});
  const auto message = file_error([&] { actionclip::io::load_safetensors(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
}

TEST(BadInputs, SafetensorsHeaderLongerThanTheFile) {
  TempDir dir;
  const std::string header = "{\"__metadata__\": {}}";
  const auto path = dir.write("long-header.safetensors", safetensors_bytes(1'000'000, header, ""));
  expect_rejected(path, {"exceeds the file size"});
  const auto message = file_error([&] { actionclip::io::load_safetensors(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("1000000"), std::string::npos) << message;
}

// A corrupt header can declare any shape. The reader must compare the declared shape with the
// bytes it has before allocating, or a negative or enormous shape escapes as a c10::Error (or
// an attempt to allocate terabytes) instead of a FileError naming the tensor.
TEST(BadInputs, SafetensorsShapeThatDoesNotMatchItsBytes) {
  TempDir dir;
  for (const std::string shape : {"[-1]", "[1000000, 1000000]"}) {
    SCOPED_TRACE(shape);
    std::string header = "{\"w\": {\"dtype\": \"F32\", \"shape\": " + shape + ", \"data_offsets\": [0, 16]}}";
    header.append((8 - header.size() % 8) % 8, ' ');
    const auto path = dir.write("bad-shape.safetensors", safetensors_bytes(header.size(), header, std::string(16, '\0')));
    const auto message = file_error([&] { actionclip::io::load_safetensors(path); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("'w'"), std::string::npos) << message;
  }
}

// A single Hugging Face model.safetensors given as the model file (not its folder), with a
// weight missing: the error must still be a FileError naming the file and the key.
TEST(BadInputs, HuggingFaceSafetensorsFileWithAMissingKey) {
  REQUIRE_FIXTURES();
  TempDir dir;
  auto tensors = actionclip::io::load_safetensors(fixture("hf/clip-tiny/model.safetensors"));
  ASSERT_EQ(tensors.erase("visual_projection.weight"), 1u);
  const auto path = dir.path("hf-model.safetensors");
  actionclip::io::save_safetensors(path, tensors);
  expect_rejected(path, {"missing key 'visual_projection.weight'"});
}

TEST(BadInputs, PromptTheWeightsDoNotHave) {
  REQUIRE_FIXTURES();
  const auto path = fixture("reference/actionclip-tiny-transf.pt");
  actionclip::LoadOptions options;
  options.prompt = actionclip::PromptType::TransfCls;
  const auto message = file_error([&] { load(path, options); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("visual prompt: missing key '"), std::string::npos) << message;
}

// ---- the tokenizer file -----------------------------------------------------------------------

TEST(BadInputs, ExplicitTokenizerPathThatDoesNotExist) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const auto bpe = dir.path("missing_bpe.txt.gz");
  actionclip::LoadOptions options;
  options.bpe_path = bpe;
  const auto message = file_error([&] { actionclip::load_model(fixture("reference/actionclip-tiny-transf.pt"), options); });
  EXPECT_NE(message.find(bpe), std::string::npos) << message;
}

TEST(BadInputs, TokenizerNotFoundAnywhereSuggestsBpeOption) {
  REQUIRE_FIXTURES();
  if (fs::exists(fs::path(ACTIONCLIP_DATA_DIR) / "bpe_simple_vocab_16e6.txt.gz"))
    GTEST_SKIP() << "an installed tokenizer in " << ACTIONCLIP_DATA_DIR << " would be found";
  TempDir dir;
  // A model alone in a fresh folder, and no $ACTIONCLIP_BPE: no candidate exists.
  const auto model = write_project_file(dir, "model.safetensors");
  ScopedEnv no_env("ACTIONCLIP_BPE", nullptr);
  try {
    actionclip::load_model(model);
    ADD_FAILURE() << "loading without a tokenizer file succeeded";
  } catch (const actionclip::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("--bpe"), std::string::npos) << message;
    EXPECT_NE(message.find("bpe_simple_vocab_16e6.txt.gz"), std::string::npos) << message;
  }
}

// ---- .npy -----------------------------------------------------------------------------------

namespace {

// The header text of a version 1.0 .npy file, with its declared length checked against the file.
std::string npy_header(const std::string& path, size_t data_bytes) {
  const auto bytes = read_bytes(path);
  EXPECT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  // NumPy aligns the data: magic + length + header is a multiple of 64 and the header ends in '\n'.
  EXPECT_EQ((10 + length) % 64, 0u);
  EXPECT_EQ(bytes.size(), 10 + length + data_bytes);
  const auto header = bytes.substr(10, length);
  EXPECT_EQ(header.back(), '\n');
  return header;
}

}  // namespace

TEST(Npy, FloatMatrixRoundTrip) {
  TempDir dir;
  const auto path = dir.path("m.npy");
  const auto tensor = torch::arange(12, torch::kFloat32).reshape({3, 4}) / 7.0;
  actionclip::io::save_npy(path, tensor);
  const auto header = npy_header(path, 12 * 4);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (3, 4)"), std::string::npos) << header;
  const auto back = actionclip::io::load_npy(path);
  EXPECT_EQ(back.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(back, tensor));
}

TEST(Npy, Int64VectorRoundTripWritesAPythonOneTuple) {
  TempDir dir;
  const auto path = dir.path("v.npy");
  const auto tensor = torch::tensor(std::vector<int64_t>{-3, 0, 1, int64_t{1} << 40, 7});
  actionclip::io::save_npy(path, tensor);
  const auto header = npy_header(path, 5 * 8);
  EXPECT_NE(header.find("'descr': '<i8'"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (5,)"), std::string::npos) << header;
  const auto back = actionclip::io::load_npy(path);
  EXPECT_EQ(back.scalar_type(), torch::kInt64);
  EXPECT_EQ(back.sizes(), torch::IntArrayRef({5}));
  EXPECT_TRUE(torch::equal(back, tensor));
}
