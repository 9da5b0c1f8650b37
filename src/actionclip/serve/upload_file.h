#pragma once
// An uploaded video on its way to the decoder: streamed into a file only its owner can read,
// in the server's private folder, and removed when the request ends, whatever the outcome.
#include <cstddef>
#include <string>

namespace actionclip::serve {

// A folder only this process's user can enter (0700), created under PARENT and removed with
// everything in it on destruction.
class PrivateFolder {
 public:
  explicit PrivateFolder(const std::string& parent);
  ~PrivateFolder();
  PrivateFolder(const PrivateFolder&) = delete;
  PrivateFolder& operator=(const PrivateFolder&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class UploadFile {
 public:
  // A new empty file (0600) in FOLDER; SUFFIX (".mp4", sanitized by the caller or here) helps
  // FFmpeg recognise the container.
  UploadFile(const std::string& folder, const std::string& suffix);
  ~UploadFile();
  UploadFile(const UploadFile&) = delete;
  UploadFile& operator=(const UploadFile&) = delete;

  // Throws Error when the disk refuses the bytes.
  void append(const char* data, size_t size);
  // Flushes and closes the file for reading by path.
  void finish();

  const std::string& path() const { return path_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  int fd_ = -1;
  size_t size_ = 0;
};

// A file name's extension reduced to [.a-z0-9], at most 8 characters; empty when it has none.
std::string safe_extension(const std::string& filename);

}  // namespace actionclip::serve
