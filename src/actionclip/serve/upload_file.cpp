#include "actionclip/serve/upload_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "actionclip/util/error.h"

namespace actionclip::serve {
namespace fs = std::filesystem;

PrivateFolder::PrivateFolder(const std::string& parent) {
  std::string pattern = (fs::path(parent) / "actionclip-serve-XXXXXX").string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (!::mkdtemp(name.data())) throw FileError(parent, std::string("cannot create a private folder: ") + std::strerror(errno));
  path_ = name.data();
}

PrivateFolder::~PrivateFolder() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string safe_extension(const std::string& filename) {
  const auto dot = filename.rfind('.');
  if (dot == std::string::npos || filename.size() - dot > 8) return "";
  std::string out = ".";
  for (size_t i = dot + 1; i < filename.size(); ++i) {
    const auto c = static_cast<unsigned char>(filename[i]);
    if (!std::isalnum(c)) return "";
    out += static_cast<char>(std::tolower(c));
  }
  return out.size() > 1 ? out : "";
}

UploadFile::UploadFile(const std::string& folder, const std::string& suffix) {
  const auto extension = safe_extension("x" + suffix);
  std::string pattern = (fs::path(folder) / ("upload-XXXXXX" + extension)).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  // mkstemps creates the file with mode 0600 and O_EXCL: nobody else can read or pre-create it.
  fd_ = ::mkstemps(name.data(), static_cast<int>(extension.size()));
  if (fd_ < 0) throw FileError(folder, std::string("cannot create an upload file: ") + std::strerror(errno));
  path_ = name.data();
}

UploadFile::~UploadFile() {
  if (fd_ >= 0) ::close(fd_);
  ::unlink(path_.c_str());
}

void UploadFile::append(const char* data, size_t size) {
  while (size > 0) {
    const auto written = ::write(fd_, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw FileError(path_, std::string("cannot store the upload: ") + std::strerror(errno));
    data += written;
    size -= static_cast<size_t>(written);
    size_ += static_cast<size_t>(written);
  }
}

void UploadFile::finish() {
  if (fd_ >= 0 && ::close(fd_) != 0) {
    fd_ = -1;
    throw FileError(path_, std::string("cannot store the upload: ") + std::strerror(errno));
  }
  fd_ = -1;
}

}  // namespace actionclip::serve
