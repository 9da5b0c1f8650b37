#pragma once
// What the tests that drive the built CLI through a shell share.
#include <fstream>
#include <iterator>
#include <string>

namespace actionclip::testing {

// `s` as one single-quoted shell word.
inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A file's bytes exactly (binary), empty when it cannot be read.
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace actionclip::testing
