#include "actionclip/download/sha256.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "actionclip/util/error.h"

namespace actionclip {

Sha256::Sha256() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  if (!context_) throw Error("SHA-256: OpenSSL could not allocate a digest context");
  reset();
}

Sha256::~Sha256() = default;

void Sha256::reset() {
  if (EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) throw Error("SHA-256: OpenSSL could not start a digest");
}

void Sha256::update(const void* data, size_t size) {
  if (EVP_DigestUpdate(context_.get(), data, size) != 1) throw Error("SHA-256: OpenSSL digest update failed");
}

std::string Sha256::finish_hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_.get(), digest, &length) != 1) throw Error("SHA-256: OpenSSL could not finish the digest");
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  reset();
  return hex;
}

void update_from_file(Sha256& hash, const std::string& path, uint64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open to compute its SHA-256");
  std::vector<char> buffer(1 << 20);
  while (size > 0) {
    const auto wanted = static_cast<std::streamsize>(std::min<uint64_t>(size, buffer.size()));
    in.read(buffer.data(), wanted);
    if (in.gcount() != wanted) throw FileError(path, "read failed while computing its SHA-256");
    hash.update(buffer.data(), static_cast<size_t>(wanted));
    size -= static_cast<uint64_t>(wanted);
  }
}

std::string sha256_file(const std::string& path) {
  Sha256 hash;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw FileError(path, "cannot read to compute its SHA-256: " + ec.message());
  update_from_file(hash, path, size);
  return hash.finish_hex();
}

}  // namespace actionclip
