#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace actionclip::io {

// Writes `path` through a temporary sibling file and renames it into place, so readers
// see either the old file or the complete new one, never a torn write. The file is synced to
// disk before the rename and its folder after it, so a crash cannot leave a torn file either.
// When `write` throws (or writing fails) the temporary file is removed and `path` is untouched;
// the writer's exception propagates, failures of the write itself are FileErrors naming `path`.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// The last step of the above for a file written otherwise (a download): syncs the complete file
// `temporary`, renames it to `path` and syncs the folder. FileErrors name `path`; on failure
// `temporary` is left where it is.
void move_into_place(const std::string& temporary, const std::string& path);

}  // namespace actionclip::io
