#include "actionclip/video/transforms.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

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

uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits) << 8) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// Rows [row_begin, row_begin + rows) of `in`, resampled along x.
Frame resample_horizontal(const Frame& in, int row_begin, int rows, int out_width, const Coefficients& c) {
  Frame out{out_width, rows, std::vector<uint8_t>(static_cast<size_t>(out_width) * rows * 3)};
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = &in.rgb[static_cast<size_t>(row_begin + y) * in.width * 3];
    uint8_t* dst = &out.rgb[static_cast<size_t>(y) * out_width * 3];
    for (int xx = 0; xx < out_width; ++xx) {
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* p = src + static_cast<size_t>(c.first[xx]) * 3;
      for (int ch = 0; ch < 3; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < c.count[xx]; ++x) ss += p[x * 3 + ch] * k[x];
        dst[xx * 3 + ch] = clip8(ss);
      }
    }
  }
  return out;
}

// `c.first` is relative to row `row_offset` of the original image, which is row 0 of `in`.
Frame resample_vertical(const Frame& in, int row_offset, int out_height, const Coefficients& c) {
  const size_t stride = static_cast<size_t>(in.width) * 3;
  Frame out{in.width, out_height, std::vector<uint8_t>(stride * out_height)};
  for (int yy = 0; yy < out_height; ++yy) {
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    const uint8_t* src = &in.rgb[static_cast<size_t>(c.first[yy] - row_offset) * stride];
    uint8_t* dst = &out.rgb[yy * stride];
    for (size_t i = 0; i < stride; ++i) {
      int32_t ss = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < c.count[yy]; ++y) ss += src[y * stride + i] * k[y];
      dst[i] = clip8(ss);
    }
  }
  return out;
}

void check_frame(const Frame& f, const char* what) {
  if (f.width <= 0 || f.height <= 0 || f.rgb.size() != static_cast<size_t>(f.width) * f.height * 3)
    throw std::invalid_argument(std::string(what) + ": malformed frame " + std::to_string(f.width) + "x" +
                                std::to_string(f.height) + " with " + std::to_string(f.rgb.size()) + " bytes");
}

}  // namespace

Frame resize_shorter_side(const Frame& frame, int size) {
  check_frame(frame, "resize_shorter_side");
  if (size <= 0) throw std::invalid_argument("resize_shorter_side: size must be positive");
  const bool landscape = frame.width >= frame.height;
  const int shorter = landscape ? frame.height : frame.width;
  const int longer = landscape ? frame.width : frame.height;
  const int new_long = static_cast<int>(static_cast<int64_t>(size) * longer / static_cast<double>(shorter));
  const int out_w = landscape ? new_long : size;
  const int out_h = landscape ? size : new_long;

  // Pillow skips a pass whose size does not change and, for the horizontal pass, resamples only
  // the rows the vertical pass will read.
  const Coefficients vert = precompute(frame.height, out_h);
  Frame result = frame;
  int row_offset = 0;
  if (out_w != frame.width) {
    row_offset = out_h != frame.height ? vert.first.front() : 0;
    const int row_end = out_h != frame.height ? vert.first.back() + vert.count.back() : frame.height;
    result = resample_horizontal(frame, row_offset, row_end - row_offset, out_w, precompute(frame.width, out_w));
  }
  if (out_h != frame.height) result = resample_vertical(result, row_offset, out_h, vert);
  return result;
}

Frame center_crop(const Frame& frame, int size) {
  check_frame(frame, "center_crop");
  if (size <= 0 || size > frame.width || size > frame.height)
    throw std::invalid_argument("center_crop: cannot crop " + std::to_string(size) + "x" + std::to_string(size) +
                                " from " + std::to_string(frame.width) + "x" + std::to_string(frame.height));
  // Python's round() rounds halves to even; nearbyint does too in the default rounding mode.
  const int top = static_cast<int>(std::nearbyint((frame.height - size) / 2.0));
  const int left = static_cast<int>(std::nearbyint((frame.width - size) / 2.0));
  Frame out{size, size, std::vector<uint8_t>(static_cast<size_t>(size) * size * 3)};
  for (int y = 0; y < size; ++y) {
    const auto src = frame.rgb.begin() + (static_cast<ptrdiff_t>(top + y) * frame.width + left) * 3;
    std::copy(src, src + size * 3, out.rgb.begin() + static_cast<ptrdiff_t>(y) * size * 3);
  }
  return out;
}

torch::Tensor to_clip_tensor(const std::vector<Frame>& frames, const std::array<float, 3>& mean,
                             const std::array<float, 3>& std) {
  if (frames.empty()) throw std::invalid_argument("to_clip_tensor: no frames");
  const int h = frames.front().height, w = frames.front().width;
  auto batch = torch::empty({static_cast<int64_t>(frames.size()), h, w, 3}, torch::kUInt8);
  for (size_t t = 0; t < frames.size(); ++t) {
    check_frame(frames[t], "to_clip_tensor");
    if (frames[t].width != w || frames[t].height != h)
      throw std::invalid_argument("to_clip_tensor: frames differ in size");
    std::copy(frames[t].rgb.begin(), frames[t].rgb.end(), batch[t].data_ptr<uint8_t>());
  }
  // Same float32 operations as torchvision's ToTensor + Normalize, so results match bit for bit.
  auto x = batch.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255);
  auto m = torch::tensor({mean[0], mean[1], mean[2]}).view({1, 3, 1, 1});
  auto s = torch::tensor({std[0], std[1], std[2]}).view({1, 3, 1, 1});
  return x.sub_(m).div_(s).contiguous();
}

Frame ClipPreprocess::apply(const Frame& frame) const {
  return center_crop(resize_shorter_side(frame, resize_size), crop_size);
}

torch::Tensor ClipPreprocess::operator()(const std::vector<Frame>& frames) const {
  std::vector<Frame> processed;
  processed.reserve(frames.size());
  for (const Frame& f : frames) processed.push_back(apply(f));
  return to_clip_tensor(processed, mean, std);
}

}  // namespace actionclip::video
