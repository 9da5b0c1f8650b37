// Textual prompts: the built-in sets, template files, and how labels fill them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "actionclip/model/text_prompts.h"
#include "actionclip/util/error.h"

TEST(TextPrompts, DefaultSetHasPrefixClozeAndSuffixForms) {
  const auto set = actionclip::builtin_templates("default");
  ASSERT_GE(set.templates.size(), 16u);
  int prefix = 0, suffix = 0, cloze = 0;
  for (const auto& t : set.templates) {
    const auto at = t.find("{}");
    ASSERT_NE(at, std::string::npos) << t;
    if (at == 0) ++suffix;
    else if (at + 2 == t.size()) ++prefix;
    else ++cloze;
  }
  EXPECT_GT(prefix, 0);
  EXPECT_GT(cloze, 0);
  EXPECT_GT(suffix, 0);
  EXPECT_EQ(actionclip::builtin_templates("actionclip").templates.size(), 16u);
}

TEST(TextPrompts, ApplyTemplatePutsTheLabelAtTheMarker) {
  EXPECT_EQ(actionclip::apply_template("a video of {}", "surfing"), "a video of surfing");
  EXPECT_EQ(actionclip::apply_template("{}, an action", "surfing"), "surfing, an action");
}

TEST(TextPrompts, TemplateFilesAndTheirErrors) {
  const auto dir = std::filesystem::temp_directory_path() / ("actionclip_prompts_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto good = (dir / "good.txt").string(), bad = (dir / "bad.txt").string();
  std::ofstream(good) << "# my prompts\r\nclip of {}\r\n\r\n{} in slow motion\n";
  std::ofstream(bad) << "clip of {}\nno marker here\n";
  const auto set = actionclip::resolve_templates(good);
  EXPECT_EQ(set.templates, (std::vector<std::string>{"clip of {}", "{} in slow motion"}));
  try {
    actionclip::resolve_templates(bad);
    FAIL() << "a template without {} was accepted";
  } catch (const actionclip::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(actionclip::resolve_templates((dir / "missing.txt").string()), actionclip::Error);
  std::filesystem::remove_all(dir);
}
