#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace actionclip::io {

// Writes `path` through a temporary sibling file and renames it into place, so readers
// see either the old file or the complete new one, never a torn write.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace actionclip::io
