#pragma once
// Portable randomness. std::mt19937_64's raw output is fixed by the standard, but the std
// distributions (uniform_int_distribution, uniform_real_distribution, shuffle) are not: each
// standard library maps the raw numbers differently. Every seeded draw in actionclip maps raw
// output through these helpers instead, so a seed gives the same data, augmentation and
// training run under every compiler and standard library.
#include <cstdint>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string_view>

namespace actionclip {

// splitmix64's finaliser: a bijective 64-bit mix with good avalanche.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed for stream (a, b) of `seed`, e.g. (epoch, record): per-epoch and per-sample streams that
// do not depend on how many numbers other streams drew.
inline uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return splitmix64(seed ^ (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xC2B2AE3D27D4EB4FULL));
}

// A seed for a stream named by strings (FNV-1a over the parts, mixed by splitmix64), so that what
// is drawn for one name does not depend on which other names were drawn for before it.
inline uint64_t derive_seed(uint64_t seed, std::initializer_list<std::string_view> parts) {
  constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
  uint64_t h = splitmix64(seed);
  for (std::string_view part : parts) {
    for (unsigned char c : part) h = (h ^ c) * kFnvPrime;
    // A byte no name contains ends each part, so ("ab", "c") and ("a", "bc") hash apart.
    h = splitmix64((h ^ 0xffu) * kFnvPrime);
  }
  return h;
}

// Uniform in [0, n) without modulo bias: raw draws below 2^64 mod n are rejected, which leaves a
// multiple of n equally likely values.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  if (n == 0) throw std::invalid_argument("uniform_below: empty range");
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

// Uniform in [0, 1) from the top 53 bits: exactly the doubles a uniform draw can hit.
inline double uniform_unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

inline double uniform_between(std::mt19937_64& rng, double lo, double hi) { return lo + (hi - lo) * uniform_unit(rng); }

}  // namespace actionclip
