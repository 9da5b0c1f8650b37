#pragma once
// Errors that reach users. Every message names the file (and key or item) at fault.
#include <stdexcept>
#include <string>

namespace actionclip {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A problem with a user-supplied file: "<path>: <problem>".
class FileError : public Error {
 public:
  FileError(std::string path, const std::string& problem)
      : Error(path + ": " + problem), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace actionclip
