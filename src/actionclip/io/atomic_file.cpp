#include "actionclip/io/atomic_file.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include <unistd.h>

#include "actionclip/util/error.h"

namespace actionclip::io {

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, "cannot open for writing");
    write(out);
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw FileError(path, "write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    throw FileError(path, "cannot move the written file into place: " + ec.message());
  }
}

}  // namespace actionclip::io
