#include "actionclip/video/transforms.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace actionclip::video {
namespace {

// Pillow's Resample.c, specialised to 8-bit RGB and the bicubic filter. Every detail below
// (rounding of the support window, fixed-point coefficients, clamping between the passes)
// changes output pixels, so it follows Pillow statement by statement.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kBicubicSupport = 2.0;

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Per output pixel: the first contributing input pixel, how many contribute, and their
// fixed-point weights (ksize slots each).
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

Coefficients precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);  // antialias only when downscaling
  const double support = kBicubicSupport * filter_scale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = bicubic((x + xmin - center + 0.5) * ss);
      total += w[x];
    }
    int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double normalised = total != 0.0 ? w[x] / total : w[x];
      k[x] = static_cast<int32_t>(normalised < 0 ? -0.5 + normalised * (1 << kPrecisionBits)
                                                 : 0.5 + normalised * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// Fixed point back to 8 bits: Pillow's clip8, written as a clamp so that it vectorises.
uint8_t clip8(int32_t v) { return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255)); }

constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

// A rectangle of the resized image: only its pixels are computed. Each output pixel depends on
// its own input window alone, so a cropped resize equals the crop of a full resize, bit for bit.
struct Window {
  int left, top, width, height;
};

// Columns [col_begin, col_begin + cols) of the horizontally resampled rows [row_begin, row_begin + rows).
Frame resample_horizontal(const Frame& in, int row_begin, int rows, int col_begin, int cols, const Coefficients& c) {
  Frame out{cols, rows, std::vector<uint8_t>(static_cast<size_t>(cols) * rows * 3)};
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = &in.rgb[static_cast<size_t>(row_begin + y) * in.width * 3];
    uint8_t* dst = &out.rgb[static_cast<size_t>(y) * cols * 3];
    for (int j = 0; j < cols; ++j) {
      const int xx = col_begin + j;
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* p = src + static_cast<size_t>(c.first[xx]) * 3;
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int x = 0; x < c.count[xx]; ++x, p += 3) {
        r += p[0] * k[x];
        g += p[1] * k[x];
        b += p[2] * k[x];
      }
      dst[j * 3] = clip8(r);
      dst[j * 3 + 1] = clip8(g);
      dst[j * 3 + 2] = clip8(b);
    }
  }
  return out;
}

// Rows [row_begin, row_begin + rows) of the vertical pass over `in`, whose row 0 is row
// `in_row_offset` of the image being resized. Accumulates a whole row per tap, which vectorises.
Frame resample_vertical(const Frame& in, int in_row_offset, int row_begin, int rows, const Coefficients& c) {
  const size_t stride = static_cast<size_t>(in.width) * 3;
  Frame out{in.width, rows, std::vector<uint8_t>(stride * rows)};
  std::vector<int32_t> sum(stride);
  for (int j = 0; j < rows; ++j) {
    const int yy = row_begin + j;
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    std::fill(sum.begin(), sum.end(), kHalf);
    for (int y = 0; y < c.count[yy]; ++y) {
      const uint8_t* src = &in.rgb[static_cast<size_t>(c.first[yy] - in_row_offset + y) * stride];
      const int32_t weight = k[y];
      for (size_t i = 0; i < stride; ++i) sum[i] += src[i] * weight;
    }
    uint8_t* dst = &out.rgb[j * stride];
    for (size_t i = 0; i < stride; ++i) dst[i] = clip8(sum[i]);
  }
  return out;
}

// `window` of `frame` resized to out_w x out_h. Pillow skips a pass whose size does not change
// and, for the horizontal pass, resamples only the rows the vertical pass will read.
Frame resize_window(const Frame& frame, int out_w, int out_h, const Window& window) {
  const bool horizontal = out_w != frame.width, vertical = out_h != frame.height;
  const Coefficients vert = vertical ? precompute(frame.height, out_h) : Coefficients{};
  int row_begin = window.top, row_end = window.top + window.height;
  if (vertical) {
    row_begin = frame.height, row_end = 0;
    for (int yy = window.top; yy < window.top + window.height; ++yy) {
      row_begin = std::min(row_begin, vert.first[yy]);
      row_end = std::max(row_end, vert.first[yy] + vert.count[yy]);
    }
  }
  const Frame rows = horizontal ? resample_horizontal(frame, row_begin, row_end - row_begin, window.left, window.width,
                                                     precompute(frame.width, out_w))
                                 : crop(frame, window.left, row_begin, window.width, row_end - row_begin);
  return vertical ? resample_vertical(rows, row_begin, window.top, window.height, vert) : rows;
}

void check_frame(const Frame& f, const char* what) {
  if (f.width <= 0 || f.height <= 0 || f.rgb.size() != static_cast<size_t>(f.width) * f.height * 3)
    throw std::invalid_argument(std::string(what) + ": malformed frame " + std::to_string(f.width) + "x" +
                                std::to_string(f.height) + " with " + std::to_string(f.rgb.size()) + " bytes");
}

// Output size of resize_shorter_side, as torchvision's Resize(int) computes it.
std::pair<int, int> shorter_side_size(const Frame& frame, int size) {
  check_frame(frame, "resize_shorter_side");
  if (size <= 0) throw std::invalid_argument("resize_shorter_side: size must be positive");
  const bool landscape = frame.width >= frame.height;
  const int shorter = landscape ? frame.height : frame.width;
  const int longer = landscape ? frame.width : frame.height;
  const int new_long = static_cast<int>(static_cast<int64_t>(size) * longer / static_cast<double>(shorter));
  return landscape ? std::pair{new_long, size} : std::pair{size, new_long};
}

// Python's round() rounds halves to even; nearbyint does too in the default rounding mode.
int center_offset(int dim, int size) { return static_cast<int>(std::nearbyint((dim - size) / 2.0)); }

void check_crop(int width, int height, int size) {
  if (size <= 0 || size > width || size > height)
    throw std::invalid_argument("center_crop: cannot crop " + std::to_string(size) + "x" + std::to_string(size) +
                                " from " + std::to_string(width) + "x" + std::to_string(height));
}

}  // namespace

Frame resize_shorter_side(const Frame& frame, int size) {
  const auto [out_w, out_h] = shorter_side_size(frame, size);
  return resize_window(frame, out_w, out_h, {0, 0, out_w, out_h});
}

Frame crop(const Frame& frame, int left, int top, int width, int height) {
  if (left < 0 || top < 0 || width <= 0 || height <= 0 || left + width > frame.width || top + height > frame.height)
    throw std::invalid_argument("crop: window " + std::to_string(width) + "x" + std::to_string(height) + " at (" +
                                std::to_string(left) + ", " + std::to_string(top) + ") is outside the " +
                                std::to_string(frame.width) + "x" + std::to_string(frame.height) + " frame");
  Frame out{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  for (int y = 0; y < height; ++y)
    std::copy_n(&frame.rgb[(static_cast<size_t>(top + y) * frame.width + left) * 3], static_cast<size_t>(width) * 3,
                &out.rgb[static_cast<size_t>(y) * width * 3]);
  return out;
}

Frame center_crop(const Frame& frame, int size) {
  check_frame(frame, "center_crop");
  check_crop(frame.width, frame.height, size);
  return crop(frame, center_offset(frame.width, size), center_offset(frame.height, size), size, size);
}

torch::Tensor to_clip_tensor(const std::vector<Frame>& frames, const std::array<float, 3>& mean,
                             const std::array<float, 3>& std) {
  if (frames.empty()) throw std::invalid_argument("to_clip_tensor: no frames");
  const int h = frames.front().height, w = frames.front().width;
  const size_t plane = static_cast<size_t>(h) * w;
  auto out = torch::empty({static_cast<int64_t>(frames.size()), 3, h, w}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  for (const Frame& frame : frames) {
    check_frame(frame, "to_clip_tensor");
    if (frame.width != w || frame.height != h) throw std::invalid_argument("to_clip_tensor: frames differ in size");
    // The float32 operations of torchvision's ToTensor + Normalize, in their order, so results
    // match bit for bit: x / 255, then (x - mean) / std.
    for (int c = 0; c < 3; ++c, dst += plane) {
      const uint8_t* src = frame.rgb.data() + c;
      for (size_t i = 0; i < plane; ++i) dst[i] = (static_cast<float>(src[i * 3]) / 255.0f - mean[c]) / std[c];
    }
  }
  return out;
}

Frame ClipPreprocess::apply(const Frame& frame) const {
  const auto [out_w, out_h] = shorter_side_size(frame, resize_size);
  check_crop(out_w, out_h, crop_size);
  return resize_window(frame, out_w, out_h,
                       {center_offset(out_w, crop_size), center_offset(out_h, crop_size), crop_size, crop_size});
}

torch::Tensor ClipPreprocess::operator()(const std::vector<Frame>& frames) const {
  std::vector<Frame> processed;
  processed.reserve(frames.size());
  for (const Frame& f : frames) processed.push_back(apply(f));
  return to_clip_tensor(processed, mean, std);
}

}  // namespace actionclip::video
