#include "actionclip/model/text_prompts.h"

#include <filesystem>
#include <fstream>

#include "actionclip/util/error.h"

namespace actionclip {

TemplateSet builtin_templates(const std::string& name) {
  if (name == "default")
    return {name,
            {
                // prefix
                "a video of {}",
                "a clip of a person {}",
                "footage of {}",
                "a recording of the action {}",
                "an example of {}",
                "human activity: {}",
                // cloze
                "someone is {} in this video",
                "in this clip, a person is {}",
                "the people here are {}",
                "what is happening? {}",
                "this video shows {} being done",
                "watch someone {} here",
                // suffix
                "{}",
                "{}, an action",
                "{}, a human activity",
                "{} captured on video",
                "{} in a short clip",
                "{} seen in a video",
            }};
  if (name == "actionclip")
    return {name,
            {"a photo of action {}", "a picture of action {}", "Human action of {}", "{}, an action",
             "{} this is an action", "{}, a video of action", "Playing action of {}", "{}",
             "Playing a kind of action, {}", "Doing a kind of action, {}", "Look, the human is {}",
             "Can you recognize the action of {}?", "Video classification of {}", "A video of {}", "The man is {}",
             "The woman is {}"}};
  if (name == "none") return {name, {"{}"}};
  throw Error("unknown template set '" + name + "' (built-in: default, actionclip, none; or a file path)");
}

TemplateSet read_template_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FileError(path, "cannot open template file");
  TemplateSet set{path, {}};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    if (line.find("{}") == std::string::npos)
      throw FileError(path, "line " + std::to_string(number) + ": template has no '{}' for the label: " + line);
    set.templates.push_back(line);
  }
  if (set.templates.empty()) throw FileError(path, "no templates in file");
  return set;
}

TemplateSet resolve_templates(const std::string& name_or_path) {
  // Built-in names win: a file that happens to be called "default" (or the actionclip binary
  // in the working folder) must not replace the set the user named.
  for (const char* name : {"default", "actionclip", "none"})
    if (name_or_path == name) return builtin_templates(name);
  if (std::filesystem::is_regular_file(name_or_path)) return read_template_file(name_or_path);
  throw Error("'" + name_or_path + "' is neither a built-in template set (default, actionclip, none) nor a template file");
}

std::string apply_template(const std::string& templ, const std::string& label) {
  const auto at = templ.find("{}");
  if (at == std::string::npos) return templ;
  return templ.substr(0, at) + label + templ.substr(at + 2);
}

}  // namespace actionclip
