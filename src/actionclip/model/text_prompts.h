#pragma once
// ActionCLIP's textual prompts: every label is wrapped in K manual templates. Training
// samples one template per example; testing averages over all of them.
#include <string>
#include <vector>

namespace actionclip {

// A template holds "{}" where the label goes (prefix form "a video of {}", cloze form
// "someone is {} in this clip", suffix form "{}, an action").
struct TemplateSet {
  std::string name;
  std::vector<std::string> templates;
};

// "default": this project's 18 templates. "actionclip": the 16 templates of the reference
// code, which its released checkpoints were trained with. "none": the bare label.
TemplateSet builtin_templates(const std::string& name = "default");

// One template per line ("{}" marks the label; blank lines and lines starting with '#' are
// skipped). Throws FileError naming the file and line for a template without "{}".
TemplateSet read_template_file(const std::string& path);

// A built-in set's name (these take precedence), else a template file's path.
TemplateSet resolve_templates(const std::string& name_or_path);

std::string apply_template(const std::string& templ, const std::string& label);

}  // namespace actionclip
