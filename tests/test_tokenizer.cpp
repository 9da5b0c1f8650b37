// The tokenizer against OpenAI's and Hugging Face's ids, and on files it must refuse.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actionclip/clip/tokenizer.h"
#include "actionclip/util/error.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace actionclip {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int64_t>;

std::string openai_bpe_path() {
  return (testing::shared_data_dir() / "clip" / "bpe_simple_vocab_16e6.txt.gz").string();
}

// Loading takes a moment; every test shares one instance, as the pipeline will.
const Tokenizer& openai() {
  static const Tokenizer tokenizer = Tokenizer::from_openai_bpe(openai_bpe_path());
  return tokenizer;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

#define REQUIRE_OPENAI_BPE()                                                             \
  do {                                                                                   \
    REQUIRE_FIXTURES();                                                                  \
    if (!fs::exists(openai_bpe_path())) GTEST_SKIP() << "missing " << openai_bpe_path(); \
  } while (0)

// Each test's scratch folder.
class TempDir : public actionclip::testing::TempDir {
 public:
  TempDir() : actionclip::testing::TempDir("actionclip_tokenizer_") {}
};

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

void write_gzip(const std::string& path, const std::string& content) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, content.data(), static_cast<unsigned>(content.size())), static_cast<int>(content.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The FileError a load throws, or nullopt when it loads.
template <typename Load>
std::optional<FileError> load_error(Load load) {
  try {
    load();
  } catch (const FileError& e) {
    return e;
  }
  return std::nullopt;
}

void expect_file_error(const std::optional<FileError>& error, const std::string& path, const std::string& phrase) {
  ASSERT_TRUE(error.has_value()) << "loading " << path << " should fail";
  EXPECT_EQ(error->path(), path);
  EXPECT_NE(std::string(error->what()).find(path), std::string::npos) << error->what();
  EXPECT_NE(std::string(error->what()).find(phrase), std::string::npos) << error->what();
}

TEST(Tokenizer, MatchesOpenAIOnAllReferenceCases) {
  REQUIRE_OPENAI_BPE();
  const nlohmann::json reference = read_json(testing::fixture("reference/tokenizer_cases.json"));
  const Tokenizer& tokenizer = openai();
  EXPECT_EQ(tokenizer.sot_token(), reference.at("sot").get<int64_t>());
  EXPECT_EQ(tokenizer.eot_token(), reference.at("eot").get<int64_t>());
  EXPECT_EQ(tokenizer.vocab_size(), 49408);

  const auto& cases = reference.at("cases");
  ASSERT_EQ(cases.size(), 2226u);
  const auto start = std::chrono::steady_clock::now();
  size_t mismatches = 0;
  for (const auto& c : cases) {
    const std::string text = c.at("text");
    const Ids ids = tokenizer.encode(text);
    const Ids expected = c.at("ids");
    if (ids != expected && ++mismatches <= 10)
      ADD_FAILURE() << "ids differ for \"" << text << "\": " << ::testing::PrintToString(ids) << " vs "
                    << ::testing::PrintToString(expected);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(mismatches, 0u);
  std::cout << "[ timing   ] encoded " << cases.size() << " reference cases in " << ms << " ms\n";
}

TEST(Tokenizer, MatchesOpenAIIdsFromHuggingFaceFiles) {
  REQUIRE_FIXTURES();
  const Tokenizer tokenizer = Tokenizer::from_hf_files(testing::fixture("hf/clip-tiny/vocab.json"),
                                                       testing::fixture("hf/clip-tiny/merges.txt"));
  EXPECT_EQ(tokenizer.sot_token(), 49406);
  EXPECT_EQ(tokenizer.eot_token(), 49407);
  EXPECT_EQ(tokenizer.vocab_size(), 49408);

  const nlohmann::json reference = read_json(testing::fixture("hf/tokenizer_cases.json"));
  ASSERT_FALSE(reference.at("cases").empty());
  size_t mismatches = 0;
  for (const auto& c : reference.at("cases")) {
    const std::string text = c.at("text");
    const Ids expected = c.at("openai_ids");
    Ids tokens = tokenizer.tokenize(text, static_cast<int>(expected.size()));
    if (tokens != expected && ++mismatches <= 10) ADD_FAILURE() << "ids differ for \"" << text << "\"";
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(Tokenizer, CleansTextAsTheReference) {
  REQUIRE_OPENAI_BPE();
  const Tokenizer& t = openai();
  // Entities: named, numeric, hex, legacy without ';', and double-escaped (unescaped twice).
  EXPECT_EQ(t.encode("&amp;&lt;&#62;&#x3E;&gt"), t.encode("&<>>>"));
  EXPECT_EQ(t.encode("&amp;amp;"), t.encode("&"));
  EXPECT_EQ(t.encode("&ampfoo"), t.encode("&foo"));
  EXPECT_EQ(t.encode("&nosuchentity; &#;"), t.encode("& nosuchentity; &#;"));
  EXPECT_EQ(t.encode("&#150;"), t.encode("\u2013"));  // C1 references read as Windows-1252
  // NFC: a decomposed é encodes as the composed one.
  EXPECT_EQ(t.encode("cafe\u0301"), t.encode("caf\u00e9"));
  // Python's lower(): İ keeps its dot, a word-final Σ becomes ς.
  EXPECT_EQ(t.encode("\u0130"), t.encode("i\u0307"));
  EXPECT_EQ(t.encode("\u039f\u0394\u039f\u03a3"), t.encode("\u03bf\u03b4\u03bf\u03c2"));
  EXPECT_EQ(t.encode("\u03a3\u0391"), t.encode("\u03c3\u03b1"));
  // Unicode whitespace collapses; the special strings are their own tokens.
  EXPECT_EQ(t.encode("\u3000a\u2003\u2003b\n"), t.encode("a b"));
  EXPECT_EQ(t.encode("<|startoftext|>x<|endoftext|>"), (Ids{49406, t.encode("x")[0], 49407}));
  EXPECT_THROW(t.encode("bad \xff utf-8"), Error);
}

TEST(Tokenizer, TokenizePadsWithSotFirstAndEotAfterIds) {
  REQUIRE_OPENAI_BPE();
  const Ids ids = openai().encode("a photo of action abseiling");
  const Ids tokens = openai().tokenize("a photo of action abseiling");
  ASSERT_EQ(tokens.size(), 77u);
  EXPECT_EQ(tokens[0], 49406);
  EXPECT_EQ(Ids(tokens.begin() + 1, tokens.begin() + 1 + ids.size()), ids);
  EXPECT_EQ(tokens[ids.size() + 1], 49407);
  for (size_t i = ids.size() + 2; i < tokens.size(); ++i) EXPECT_EQ(tokens[i], 0) << "at " << i;

  const Ids empty = openai().tokenize("", 5);
  EXPECT_EQ(empty, (Ids{49406, 49407, 0, 0, 0}));
}

TEST(Tokenizer, TooLongTextThrowsUnlessTruncated) {
  REQUIRE_OPENAI_BPE();
  std::string text;
  for (int i = 0; i < 100; ++i) text += "word ";
  try {
    openai().tokenize(text);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("102 tokens"), std::string::npos) << message;
    EXPECT_NE(message.find("77"), std::string::npos) << message;
    EXPECT_NE(message.find("word word"), std::string::npos) << message;
  }

  const Ids tokens = openai().tokenize(text, 77, /*truncate=*/true);
  const Ids ids = openai().encode(text);
  ASSERT_EQ(tokens.size(), 77u);
  EXPECT_EQ(tokens.front(), 49406);
  EXPECT_EQ(tokens.back(), 49407);
  EXPECT_EQ(Ids(tokens.begin() + 1, tokens.end() - 1), Ids(ids.begin(), ids.begin() + 75));

  // Exactly full fits without truncation.
  const Ids fits = openai().tokenize(std::string(text, 0, 75 * 5), 77);
  EXPECT_EQ(fits.back(), 49407);
  EXPECT_THROW(openai().tokenize("x", 1), Error);
}

TEST(Tokenizer, RepeatedEncodingUsesTheCacheConsistently) {
  REQUIRE_OPENAI_BPE();
  const std::string text = "Can you recognize the action of abseiling? abseiling abseiling";
  const Ids first = openai().encode(text);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(openai().encode(text), first);
  // A copy shares the vocabulary and the cache.
  const Tokenizer copy = openai();
  EXPECT_EQ(copy.encode(text), first);
}

TEST(Tokenizer, ThreadsEncodingTogetherAgree) {
  REQUIRE_OPENAI_BPE();
  const nlohmann::json reference = read_json(testing::fixture("reference/tokenizer_cases.json"));
  std::vector<std::string> texts;
  std::vector<Ids> expected;
  for (const auto& c : reference.at("cases")) {
    texts.push_back(c.at("text"));
    expected.push_back(c.at("ids"));
  }
  // A fresh instance, so that the threads race to fill an empty cache.
  const Tokenizer tokenizer = Tokenizer::from_openai_bpe(openai_bpe_path());
  constexpr int kThreads = 4;
  std::vector<size_t> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the cases from a different starting point.
      for (size_t k = 0; k < texts.size(); ++k) {
        const size_t i = (k + t * texts.size() / kThreads) % texts.size();
        if (tokenizer.encode(texts[i]) != expected[i]) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0u) << "thread " << t;
}

TEST(TokenizerFiles, MissingFileNamesThePath) {
  TempDir dir;
  const std::string missing = dir.path("nope.txt.gz");
  expect_file_error(load_error([&] { Tokenizer::from_openai_bpe(missing); }), missing, "cannot open");
  const std::string merges = dir.path("merges.txt");
  write_file(merges, "#version: 0.2\na b\n");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(dir.path("vocab.json"), merges); }),
                    dir.path("vocab.json"), "cannot open");
}

TEST(TokenizerFiles, PlainTextIsNotGzip) {
  TempDir dir;
  const std::string path = dir.path("plain.txt.gz");
  write_file(path, "#version: 0.2\ni n\nt h\n");
  expect_file_error(load_error([&] { Tokenizer::from_openai_bpe(path); }), path, "not a gzip file");
}

TEST(TokenizerFiles, TruncatedGzipIsRefused) {
  REQUIRE_OPENAI_BPE();
  TempDir dir;
  const std::string bytes = read_bytes(openai_bpe_path());
  for (const size_t keep : {bytes.size() / 2, bytes.size() - 4, size_t(12)}) {
    const std::string path = dir.path("cut" + std::to_string(keep) + ".gz");
    write_file(path, bytes.substr(0, keep));
    expect_file_error(load_error([&] { Tokenizer::from_openai_bpe(path); }), path, "gzip");
  }
}

TEST(TokenizerFiles, EmptyOrGarbageMergesAreRefused) {
  TempDir dir;
  const std::string empty = dir.path("empty.txt.gz");
  write_gzip(empty, "");
  expect_file_error(load_error([&] { Tokenizer::from_openai_bpe(empty); }), empty, "holds 0 merges");

  // Enough lines, but not merges of known tokens.
  std::string lines = "header\n";
  for (int i = 0; i < 50000; ++i) lines += "hello world\n";
  const std::string garbage = dir.path("garbage.txt.gz");
  write_gzip(garbage, lines);
  expect_file_error(load_error([&] { Tokenizer::from_openai_bpe(garbage); }), garbage, "line 2");

  std::string binary(60000, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>((i * 7919) % 251);
  const std::string noise = dir.path("noise.txt.gz");
  write_gzip(noise, binary);
  EXPECT_TRUE(load_error([&] { Tokenizer::from_openai_bpe(noise); }).has_value());

  const std::string vocab = dir.path("vocab.json");
  const std::string merges = dir.path("merges.txt");
  write_file(vocab, "{\"a\": 0,");
  write_file(merges, "#version: 0.2\na b\n");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(vocab, merges); }), vocab, "not valid JSON");
  write_file(vocab, "[1, 2]");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(vocab, merges); }), vocab, "JSON object");
  write_file(vocab, "{\"a\": \"zero\"}");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(vocab, merges); }), vocab, "non-negative integer");
  write_file(vocab, "{\"a\": 0}");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(vocab, merges); }), vocab, "no token");
}

TEST(TokenizerFiles, HuggingFaceMergesMustMatchItsVocabulary) {
  REQUIRE_FIXTURES();
  TempDir dir;
  const std::string vocab = testing::fixture("hf/clip-tiny/vocab.json");
  const std::string merges = dir.path("merges.txt");
  write_file(merges, "#version: 0.2\n");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(vocab, merges); }), merges, "no merges");
  write_file(merges, "#version: 0.2\ni n\nnot a merge\n");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(vocab, merges); }), merges, "line 3");
  write_file(merges, "#version: 0.2\ni n\nzzzzzzzzzz qqqqqqqqqq\n");
  expect_file_error(load_error([&] { Tokenizer::from_hf_files(vocab, merges); }), merges, "line 3");
}

}  // namespace
}  // namespace actionclip
