#pragma once
// A decoded picture: tightly packed HWC rgb24, the layout PIL and numpy use.
#include <cstdint>
#include <vector>

namespace actionclip::video {

struct Frame {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height * width * 3 bytes, row-major, no padding
};

}  // namespace actionclip::video
