// Seeded mutations of a real released checkpoint (its pickle and its zip directory): every one
// either loads or fails with a FileError; none crashes, hangs, or asks for memory the file's
// size does not justify. The reader faces files from the internet.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <torch/torch.h>
#include <zlib.h>

#include <fstream>
#include <random>

#include "actionclip/io/checkpoint.h"
#include "actionclip/io/torch_file.h"
#include "actionclip/util/error.h"
#include "actionclip/util/random.h"
#include "fixtures.h"

namespace {

uint32_t read_u32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

void write_u32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// Where the parts of the archive are: data.pkl's bytes and CRC fields, the central directory.
struct Layout {
  size_t pickle_offset = 0, pickle_size = 0, local_crc = 0, central_crc = 0;
  size_t directory_offset = 0, directory_end = 0;
};

Layout find_layout(const std::string& bytes) {
  Layout l;
  const auto end = bytes.rfind(std::string("PK\x05\x06", 4));
  l.directory_offset = read_u32(bytes, end + 16);
  l.directory_end = end + 22;
  for (size_t at = l.directory_offset; at + 46 < end;) {
    const auto name_length = read_u32(bytes, at + 28) & 0xFFFF, extra = read_u32(bytes, at + 30) & 0xFFFF,
               comment = read_u32(bytes, at + 32) & 0xFFFF;
    const auto name = bytes.substr(at + 46, name_length);
    if (name.size() > 9 && name.compare(name.size() - 9, 9, "/data.pkl") == 0) {
      const size_t local = read_u32(bytes, at + 42);
      l.central_crc = at + 16;
      l.local_crc = local + 14;
      l.pickle_size = read_u32(bytes, at + 24);
      l.pickle_offset = local + 30 + (read_u32(bytes, local + 26) & 0xFFFF) + (read_u32(bytes, local + 28) & 0xFFFF);
    }
    at += 46 + name_length + extra + comment;
  }
  return l;
}

}  // namespace

TEST(TorchFileMutations, EveryMutationLoadsOrFailsWithAFileError) {
  REQUIRE_FIXTURES();
  const auto path = actionclip::testing::fixture("reference/actionclip-tiny-transf-as-released.pt");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto layout = find_layout(bytes);
  ASSERT_GT(layout.pickle_size, 1000u);
  const std::string original = bytes;
  const int64_t rss_before = peak_rss_bytes();

  std::mt19937_64 rng(20261201);
  auto below = [&](size_t n) { return static_cast<size_t>(actionclip::uniform_below(rng, n)); };
  const uint32_t interesting[] = {0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu, 0xFFFFFFFEu, 1u << 20};
  constexpr int kMutations = 10'000;
  int loaded = 0, refused = 0;
  for (int i = 0; i < kMutations; ++i) {
    std::string description;
    size_t length = bytes.size();
    const int kind = static_cast<int>(below(8));
    const bool in_pickle = kind < 4;
    if (kind == 0 || kind == 1) {  // bit flips in the pickle
      for (int flips = 1 + static_cast<int>(below(3)); flips > 0; --flips) {
        const auto at = layout.pickle_offset + below(layout.pickle_size);
        bytes[at] = static_cast<char>(bytes[at] ^ (1 << below(8)));
        description += " flip@" + std::to_string(at);
      }
    } else if (kind == 2) {  // a length, size or integer argument altered
      const auto at = layout.pickle_offset + below(layout.pickle_size - 4);
      write_u32(bytes, at, interesting[below(std::size(interesting))]);
      description = " field@" + std::to_string(at);
    } else if (kind == 3) {  // opcodes shuffled: two short runs swapped
      const auto n = 1 + below(8);
      const auto a = layout.pickle_offset + below(layout.pickle_size - n), b = layout.pickle_offset + below(layout.pickle_size - n);
      for (size_t k = 0; k < n; ++k) std::swap(bytes[a + k], bytes[b + k]);
      description = " swap@" + std::to_string(a) + "," + std::to_string(b);
    } else if (kind == 4) {  // bit flip in the zip directory
      const auto at = layout.directory_offset + below(layout.directory_end - layout.directory_offset);
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << below(8)));
      description = " dirflip@" + std::to_string(at);
    } else if (kind == 5) {  // a size, offset or length field of the directory altered
      const auto at = layout.directory_offset + below(layout.directory_end - layout.directory_offset - 4);
      write_u32(bytes, at, interesting[below(std::size(interesting))]);
      description = " dirfield@" + std::to_string(at);
    } else if (kind == 6) {  // truncated anywhere
      length = below(bytes.size());
      description = " truncate@" + std::to_string(length);
    } else {  // truncated inside the pickle or the directory
      length = below(2) ? layout.pickle_offset + below(layout.pickle_size) : layout.directory_offset + below(layout.directory_end - layout.directory_offset);
      description = " truncate@" + std::to_string(length);
    }
    // Pickle mutations get a valid CRC, or the CRC check would stop them before the interpreter.
    if (in_pickle) {
      const auto crc = static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data() + layout.pickle_offset), layout.pickle_size));
      write_u32(bytes, layout.local_crc, crc);
      write_u32(bytes, layout.central_crc, crc);
    }
    try {
      actionclip::io::TorchFile file(std::make_shared<actionclip::io::MemorySource>(path, std::string_view(bytes.data(), length)));
      auto checkpoint = actionclip::io::read_torch_checkpoint(file);
      int64_t tensor_bytes = 0;
      for (const auto& map : {checkpoint.clip, checkpoint.fusion})
        for (const auto& [_, t] : map) tensor_bytes += t.numel() * static_cast<int64_t>(t.element_size());
      ASSERT_LE(tensor_bytes, static_cast<int64_t>(length)) << "mutation " << i << description;
      ++loaded;
    } catch (const actionclip::FileError& e) {
      ASSERT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      ++refused;
    } catch (const std::exception& e) {
      FAIL() << "mutation " << i << description << " escaped as a non-FileError: " << e.what();
    }
    // Undo the mutation (only the parts that can have changed).
    std::copy(original.begin() + static_cast<std::ptrdiff_t>(layout.local_crc),
              original.begin() + static_cast<std::ptrdiff_t>(layout.pickle_offset + layout.pickle_size),
              bytes.begin() + static_cast<std::ptrdiff_t>(layout.local_crc));
    std::copy(original.begin() + static_cast<std::ptrdiff_t>(layout.directory_offset), original.end(),
              bytes.begin() + static_cast<std::ptrdiff_t>(layout.directory_offset));
  }
  EXPECT_EQ(loaded + refused, kMutations);
  EXPECT_GT(refused, kMutations / 4);  // the mutations do reach the checks
  EXPECT_GT(loaded, 100);              // ...and harmless ones (a flipped float) still load
  // Nothing asked for much more than the file: the peak grew by at most a few file sizes. (Under
  // AddressSanitizer freed memory waits in its quarantine, so the peak means nothing there; ASan
  // itself fails any allocation beyond its limit.)
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(peak_rss_bytes() - rss_before, 4 * static_cast<int64_t>(bytes.size()));
#endif
  std::cout << "mutations: " << loaded << " loaded, " << refused << " refused with a FileError\n";
}
