#pragma once
// What the tests that drive the built CLI through a shell share.
#include <sys/wait.h>

#include <cstdio>
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

// What a shell command line printed and how it exited.
struct ShellRun {
  int code = -1;    // exit status, -1 when it did not exit normally
  std::string out;  // stdout
  std::string err;  // stderr, through `err_file`
};

// Runs `command` in a shell with stderr redirected to `err_file`, which is read back.
inline ShellRun run_shell(const std::string& command, const std::string& err_file) {
  ShellRun result;
  FILE* pipe = ::popen((command + " 2>" + quote(err_file)).c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = read_bytes(err_file);
  return result;
}

}  // namespace actionclip::testing
