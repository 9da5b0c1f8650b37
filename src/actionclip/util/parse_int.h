#pragma once
// A whole string as a decimal int ("12"), or nothing ("12x", "", out of range): environment
// variables and form fields must not be read by a prefix as std::stoi does.
#include <optional>
#include <stdexcept>
#include <string>

namespace actionclip {

inline std::optional<int> parse_whole_int(const std::string& text) {
  size_t used = 0;
  int parsed = 0;
  try {
    parsed = std::stoi(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size()) return std::nullopt;
  return parsed;
}

}  // namespace actionclip
