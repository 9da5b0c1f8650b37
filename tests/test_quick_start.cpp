// The README's Quick start, as a new user runs it: its main-job command is cut from README.md
// and run as written (only ./build/actionclip becomes this build's binary), with no fixtures and
// no tokenizer file, so the README and what the binary does cannot drift apart.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "actionclip/build_paths.h"
#include "shell.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using actionclip::testing::quote;
using actionclip::testing::read_bytes;

namespace {

// The command under "# 2." in the Quick start's code block, continuation lines joined.
std::string readme_main_job_command() {
  std::istringstream readme(read_bytes((fs::path(ACTIONCLIP_SOURCE_DIR) / "README.md").string()));
  std::string line, command;
  bool in_quick_start = false, after_step = false;
  while (std::getline(readme, line)) {
    if (line.rfind("## ", 0) == 0) in_quick_start = line == "## Quick start";
    if (!in_quick_start) continue;
    if (line.rfind("# 2.", 0) == 0) {
      after_step = true;
      continue;
    }
    if (!after_step) continue;
    const bool continues = !line.empty() && line.back() == '\\';
    command += continues ? line.substr(0, line.size() - 1) : line;
    if (!continues) return command;
  }
  return command;
}

using Run = actionclip::testing::ShellRun;

Run run_shell(const std::string& command, const actionclip::testing::TempDir& dir) {
  return actionclip::testing::run_shell(command, dir.path("stderr.txt"));
}

}  // namespace

TEST(QuickStart, TheReadmesMainJobRunsWithNothingDownloaded) {
  const std::string command = readme_main_job_command();
  const std::string binary = "./build/actionclip";
  ASSERT_EQ(command.rfind(binary, 0), 0u) << "README's step 2 is not a ./build/actionclip command: " << command;
  actionclip::testing::TempDir dir;
  // A fresh machine: no tokenizer file to find, no fixtures, an empty cache, clips in a scratch folder.
  const std::string environment = "TMPDIR=" + quote(dir.path().string()) + " ACTIONCLIP_CACHE=" + quote(dir.path("cache")) +
                                  " ACTIONCLIP_BPE=/nonexistent/bpe_simple_vocab_16e6.txt.gz ACTIONCLIP_FIXTURES=/nonexistent"
                                  " ACTIONCLIP_OFFLINE=1 ";
  const auto r = run_shell(environment + quote(ACTIONCLIP_CLI_PATH) + command.substr(binary.size()), dir);
  ASSERT_EQ(r.code, 0) << command << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;

  // Every clip exists and gets a ranked list, its top label first; some are held out.
  const std::regex clip_block(R"((\S+\.avi)\n  true label: ([^\n]+?)(  \(held out\))?\n  [01]\.\d{4}  ([^\n]+?)(  \(held out\))?\n)");
  int clips = 0, held_out = 0, right = 0;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), clip_block), end; it != end; ++it) {
    const auto& clip = *it;
    ++clips;
    EXPECT_TRUE(fs::exists(clip[1].str())) << clip[1];
    held_out += clip[3].matched;
    right += clip[2] == clip[4];
  }
  EXPECT_GE(clips, 2) << r.out;
  EXPECT_GE(held_out, 1) << "no clip of a held-out combination:\n" << r.out;
  EXPECT_NE(r.out.find("The clips are in " + dir.path().string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("actionclip classify --model ViT-B/32"), std::string::npos) << "no next step:\n" << r.out;

  // The summary agrees with the lists above it.
  std::smatch summary;
  ASSERT_TRUE(std::regex_search(r.out, summary, std::regex(R"((\d+) of (\d+) clips ranked their true label first)")))
      << r.out;
  EXPECT_EQ(std::stoi(summary[1]), right);
  EXPECT_EQ(std::stoi(summary[2]), clips);
}
