#pragma once
// SHA-256 (OpenSSL's EVP), in the lowercase hex that openai/CLIP's download URLs carry.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace actionclip {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  // Hex digest of everything updated so far; the hasher then starts again, empty.
  std::string finish_hex();
  // Forgets everything updated so far.
  void reset();

 private:
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> context_;
};

// The hex SHA-256 of a file's bytes; a FileError when it cannot be read.
std::string sha256_file(const std::string& path);

// Adds the first `size` bytes of the file at `path` to `hash` (a partial download being resumed).
void update_from_file(Sha256& hash, const std::string& path, uint64_t size);

}  // namespace actionclip
