#include "actionclip/data/augment.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "actionclip/util/random.h"

namespace actionclip::data {
namespace {

namespace F = torch::nn::functional;

constexpr double kPi = 3.14159265358979323846;

bool chance(std::mt19937_64& rng, double p) { return uniform_unit(rng) < p; }

torch::Tensor as_float_clip(const torch::Tensor& clip) {
  if (clip.dim() != 4 || clip.size(1) != 3)
    throw std::invalid_argument("augmentation: expected a clip [T, 3, H, W], got " +
                                std::to_string(clip.dim()) + " dims " + c10::str(clip.sizes()));
  return clip.to(torch::kFloat);
}

// ITU-R 601-2 luma, torchvision's rgb_to_grayscale -> [T, 1, H, W].
torch::Tensor grayscale(const torch::Tensor& x) {
  return (0.2989 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2)).unsqueeze(1);
}

// torchvision's _blend: interpolate (factor < 1) or extrapolate (factor > 1) from `degenerate`.
torch::Tensor blend(const torch::Tensor& x, const torch::Tensor& degenerate, double factor) {
  return (factor * x + (1.0 - factor) * degenerate).clamp(0, 255);
}

torch::Tensor adjust_brightness(const torch::Tensor& x, double factor) { return (x * factor).clamp(0, 255); }

torch::Tensor adjust_contrast(const torch::Tensor& x, double factor) {
  return blend(x, grayscale(x).mean({1, 2, 3}, /*keepdim=*/true), factor);
}

torch::Tensor adjust_saturation(const torch::Tensor& x, double factor) { return blend(x, grayscale(x), factor); }

// torchvision's _rgb2hsv / _hsv2rgb on values in [0, 1], hue as a fraction of a turn.
torch::Tensor rgb_to_hsv(const torch::Tensor& rgb) {
  const auto r = rgb.select(1, 0), g = rgb.select(1, 1), b = rgb.select(1, 2);
  const auto maxc = std::get<0>(rgb.max(1)), minc = std::get<0>(rgb.min(1));
  const auto grey = maxc == minc;
  const auto chroma = maxc - minc;
  const auto ones = torch::ones_like(maxc);
  const auto s = chroma / torch::where(grey, ones, maxc);
  const auto divisor = torch::where(grey, ones, chroma);
  const auto rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor;
  const auto h = (maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc) +
                 ((maxc != g) & (maxc != r)) * (4.0 + gc - rc);
  return torch::stack({torch::fmod(h / 6.0 + 1.0, 1.0), s, maxc}, 1);
}

torch::Tensor hsv_to_rgb(const torch::Tensor& hsv) {
  const auto h = hsv.select(1, 0), s = hsv.select(1, 1), v = hsv.select(1, 2);
  const auto i = torch::floor(h * 6.0);
  const auto f = h * 6.0 - i;
  const auto sector = i.to(torch::kLong).remainder(6).unsqueeze(1);
  const auto p = (v * (1.0 - s)).clamp(0, 1);
  const auto q = (v * (1.0 - s * f)).clamp(0, 1);
  const auto t = (v * (1.0 - s * (1.0 - f))).clamp(0, 1);
  const auto pick = [&](std::initializer_list<torch::Tensor> by_sector) {
    return torch::stack(by_sector, 1).gather(1, sector).squeeze(1);
  };
  return torch::stack({pick({v, q, p, p, t, v}), pick({t, v, v, q, p, p}), pick({p, p, t, v, v, q})}, 1);
}

torch::Tensor adjust_hue(const torch::Tensor& x, double shift) {
  auto hsv = rgb_to_hsv(x / 255.0);
  hsv.select(1, 0).add_(shift).remainder_(1.0);
  return hsv_to_rgb(hsv) * 255.0;
}

torch::Tensor adjust_sharpness(const torch::Tensor& x, double factor) {
  if (x.size(2) <= 2 || x.size(3) <= 2) return x;
  // PIL's SMOOTH kernel; border pixels keep their values, as in PIL and torchvision.
  const auto kernel = torch::tensor({1.f, 1.f, 1.f, 1.f, 5.f, 1.f, 1.f, 1.f, 1.f}, x.options()).view({1, 1, 3, 3}) / 13.0;
  const auto planes = x.reshape({-1, 1, x.size(2), x.size(3)});
  auto degenerate = planes.clone();
  degenerate.narrow(2, 1, x.size(2) - 2).narrow(3, 1, x.size(3) - 2).copy_(F::conv2d(planes, kernel));
  return blend(x, degenerate.view_as(x), factor);
}

torch::Tensor posterize(const torch::Tensor& x, int bits) {
  const double step = std::ldexp(1.0, 8 - bits);
  return torch::floor(x / step) * step;
}

torch::Tensor solarize(const torch::Tensor& x, double threshold) { return torch::where(x >= threshold, 255.0 - x, x); }

// Stretches each channel of each frame to 0..255; flat channels are left alone.
torch::Tensor autocontrast(const torch::Tensor& x) {
  const auto low = x.amin({2, 3}, /*keepdim=*/true), high = x.amax({2, 3}, /*keepdim=*/true);
  const auto flat = high <= low;
  const auto scale = torch::where(flat, torch::ones_like(low), 255.0 / (high - low));
  return ((x - torch::where(flat, torch::zeros_like(low), low)) * scale).clamp(0, 255);
}

// PIL's ImageOps.equalize per channel of each frame, vectorised as torchvision's _scale_channel.
torch::Tensor equalize(const torch::Tensor& x) {
  const int64_t planes = x.size(0) * x.size(1);
  const auto values = x.round().clamp(0, 255).to(torch::kLong).reshape({planes, -1});
  const auto offsets = torch::arange(planes, values.options()).unsqueeze(1) * 256;
  const auto hist = torch::bincount((values + offsets).flatten(), {}, planes * 256).view({planes, 256});
  // The step leaves out the count of the brightest value present, as PIL does.
  const auto brightest = hist.gather(1, values.amax(1, /*keepdim=*/true));
  const auto step = torch::div(hist.sum(1, /*keepdim=*/true) - brightest, 255, "floor");
  const auto safe_step = torch::where(step == 0, torch::ones_like(step), step);
  auto lut = torch::div(hist.cumsum(1) + torch::div(safe_step, 2, "floor"), safe_step, "floor");
  lut = torch::cat({torch::zeros({planes, 1}, lut.options()), lut.narrow(1, 0, 255)}, 1).clamp(0, 255);
  const auto equalized = lut.gather(1, values);
  return torch::where(step == 0, values, equalized).to(x.scalar_type()).view_as(x);
}

// Samples x at the source of each output pixel under `inverse` (output -> input, 2x3, in pixel
// coordinates with pixel centres at +0.5), nearest neighbour, black outside: torchvision's
// RandAugment defaults.
torch::Tensor warp(const torch::Tensor& x, const std::array<double, 6>& inverse) {
  const int64_t h = x.size(2), w = x.size(3);
  const auto options = x.options();
  const auto xs = (torch::arange(w, options) + 0.5).view({1, w}).expand({h, w});
  const auto ys = (torch::arange(h, options) + 0.5).view({h, 1}).expand({h, w});
  const auto sx = inverse[0] * xs + inverse[1] * ys + inverse[2];
  const auto sy = inverse[3] * xs + inverse[4] * ys + inverse[5];
  const auto grid = torch::stack({sx * (2.0 / w) - 1.0, sy * (2.0 / h) - 1.0}, -1).unsqueeze(0).expand({x.size(0), h, w, 2});
  return F::grid_sample(x, grid,
                        F::GridSampleFuncOptions().mode(torch::kNearest).padding_mode(torch::kZeros).align_corners(false));
}

torch::Tensor rotate(const torch::Tensor& x, double degrees) {
  const double a = degrees * kPi / 180.0, c = std::cos(a), s = std::sin(a);
  const double cx = x.size(3) / 2.0, cy = x.size(2) / 2.0;
  return warp(x, {c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy});
}

enum class Op {
  kIdentity, kShearX, kShearY, kTranslateX, kTranslateY, kRotate, kBrightness, kColor, kContrast, kSharpness,
  kPosterize, kSolarize, kAutoContrast, kEqualize,
};
constexpr size_t kNumOps = static_cast<size_t>(Op::kEqualize) + 1;

// `level` in [0, 1] scales torchvision's range for the op; `sign` is +1 or -1.
torch::Tensor apply_op(const torch::Tensor& x, Op op, double level, double sign) {
  switch (op) {
    case Op::kIdentity: return x;
    // Shears about the top-left corner, as PIL and torchvision's RandAugment do.
    case Op::kShearX: return warp(x, {1, sign * 0.3 * level, 0, 0, 1, 0});
    case Op::kShearY: return warp(x, {1, 0, 0, sign * 0.3 * level, 1, 0});
    case Op::kTranslateX: return warp(x, {1, 0, sign * 150.0 / 331.0 * x.size(3) * level, 0, 1, 0});
    case Op::kTranslateY: return warp(x, {1, 0, 0, 0, 1, sign * 150.0 / 331.0 * x.size(2) * level});
    case Op::kRotate: return rotate(x, sign * 30.0 * level);
    case Op::kBrightness: return adjust_brightness(x, 1.0 + sign * 0.9 * level);
    case Op::kColor: return adjust_saturation(x, 1.0 + sign * 0.9 * level);
    case Op::kContrast: return adjust_contrast(x, 1.0 + sign * 0.9 * level);
    case Op::kSharpness: return adjust_sharpness(x, 1.0 + sign * 0.9 * level);
    case Op::kPosterize: return posterize(x, 8 - static_cast<int>(std::lround(4.0 * level)));
    case Op::kSolarize: return solarize(x, 255.0 * (1.0 - level));
    case Op::kAutoContrast: return autocontrast(x);
    case Op::kEqualize: return equalize(x);
  }
  return x;
}

bool is_signed(Op op) {
  return op != Op::kIdentity && op != Op::kPosterize && op != Op::kSolarize && op != Op::kAutoContrast &&
         op != Op::kEqualize;
}

torch::Tensor resize(const torch::Tensor& x, int64_t height, int64_t width) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{height, width})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(true));
}

}  // namespace

std::vector<std::array<int, 2>> multiscale_crop_sizes(int image_width, int image_height, int input_size,
                                                      const std::vector<double>& scales, int max_distort) {
  std::vector<int> sides;
  for (const double scale : scales) {
    const int side = static_cast<int>(std::min(image_width, image_height) * scale);
    sides.push_back(std::abs(side - input_size) < 3 ? input_size : side);
  }
  std::vector<std::array<int, 2>> sizes;
  for (size_t i = 0; i < sides.size(); ++i)
    for (size_t j = 0; j < sides.size(); ++j)
      if (std::abs(static_cast<int>(i) - static_cast<int>(j)) <= max_distort) sizes.push_back({sides[j], sides[i]});
  return sizes;
}

std::vector<std::array<int, 2>> fixed_crop_offsets(int image_width, int image_height, int crop_width,
                                                   int crop_height, bool more_fix_crop) {
  const int w = (image_width - crop_width) / 4, h = (image_height - crop_height) / 4;
  std::vector<std::array<int, 2>> offsets{{0, 0}, {4 * w, 0}, {0, 4 * h}, {4 * w, 4 * h}, {2 * w, 2 * h}};
  if (more_fix_crop) {
    offsets.insert(offsets.end(), {{0, 2 * h}, {4 * w, 2 * h}, {2 * w, 4 * h}, {2 * w, 0},
                                   {w, h}, {3 * w, h}, {w, 3 * h}, {3 * w, 3 * h}});
  }
  return offsets;
}

torch::Tensor multiscale_crop(const torch::Tensor& clip, const TrainAugmentConfig& config, std::mt19937_64& rng) {
  const auto x = as_float_clip(clip);
  const int height = static_cast<int>(x.size(2)), width = static_cast<int>(x.size(3));
  const auto sizes = multiscale_crop_sizes(width, height, config.input_size, config.scales, config.max_distort);
  if (sizes.empty()) throw std::invalid_argument("multi-scale crop: no scales");
  const auto [crop_width, crop_height] = sizes[uniform_below(rng, sizes.size())];
  const int cw = std::min(crop_width, width), ch = std::min(crop_height, height);
  const auto offsets = fixed_crop_offsets(width, height, cw, ch, config.more_fix_crop);
  const auto [left, top] = offsets[uniform_below(rng, offsets.size())];
  return resize(x.narrow(2, top, ch).narrow(3, left, cw), config.input_size, config.input_size);
}

torch::Tensor random_horizontal_flip(const torch::Tensor& clip, double p, std::mt19937_64& rng) {
  const auto x = as_float_clip(clip);
  return chance(rng, p) ? x.flip({3}) : x;
}

torch::Tensor color_jitter(const torch::Tensor& clip, const ColorJitterConfig& config, std::mt19937_64& rng) {
  auto x = as_float_clip(clip);
  if (config.brightness < 0 || config.contrast < 0 || config.saturation < 0 || config.hue < 0 || config.hue > 0.5)
    throw std::invalid_argument("colour jitter: spreads must be non-negative and hue at most 0.5");
  if (!chance(rng, config.p)) return x;
  // The order first, then the factors, as torchvision's ColorJitter.get_params draws them.
  std::array<int, 4> order{0, 1, 2, 3};
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[uniform_below(rng, i + 1)]);
  const auto factor = [&](double spread) { return uniform_between(rng, std::max(0.0, 1.0 - spread), 1.0 + spread); };
  const double brightness = factor(config.brightness), contrast = factor(config.contrast);
  const double saturation = factor(config.saturation), hue = uniform_between(rng, -config.hue, config.hue);
  for (const int op : order) {
    if (op == 0 && config.brightness > 0) x = adjust_brightness(x, brightness);
    if (op == 1 && config.contrast > 0) x = adjust_contrast(x, contrast);
    if (op == 2 && config.saturation > 0) x = adjust_saturation(x, saturation);
    if (op == 3 && config.hue > 0) x = adjust_hue(x, hue);
  }
  return x;
}

torch::Tensor random_grayscale(const torch::Tensor& clip, double p, std::mt19937_64& rng) {
  const auto x = as_float_clip(clip);
  return chance(rng, p) ? grayscale(x).expand_as(x).contiguous() : x;
}

torch::Tensor rand_augment(const torch::Tensor& clip, const RandAugmentConfig& config, std::mt19937_64& rng) {
  auto x = as_float_clip(clip);
  if (config.max_magnitude <= 0) throw std::invalid_argument("RandAugment: max_magnitude must be positive");
  const double level = std::clamp(static_cast<double>(config.M) / config.max_magnitude, 0.0, 1.0);
  for (int i = 0; i < config.N; ++i) {
    const auto op = static_cast<Op>(uniform_below(rng, kNumOps));
    const double sign = is_signed(op) && chance(rng, 0.5) ? -1.0 : 1.0;
    x = apply_op(x, op, level, sign);
  }
  return x;
}

torch::Tensor normalize_clip(const torch::Tensor& clip, const std::array<float, 3>& mean,
                             const std::array<float, 3>& std) {
  const auto x = as_float_clip(clip);
  const auto m = torch::tensor({mean[0], mean[1], mean[2]}, x.options()).view({1, 3, 1, 1});
  const auto s = torch::tensor({std[0], std[1], std[2]}, x.options()).view({1, 3, 1, 1});
  return (x / 255.0 - m) / s;
}

torch::Tensor augment_train(const torch::Tensor& clip, const TrainAugmentConfig& config, std::mt19937_64& rng) {
  auto x = as_float_clip(clip);
  // RandAugment first, on the full frame, where the reference inserts it.
  if (config.randaug.N > 0) x = rand_augment(x, config.randaug, rng);
  x = multiscale_crop(x, config, rng);
  if (config.flip) x = random_horizontal_flip(x, 0.5, rng);
  x = color_jitter(x, config.color_jitter, rng);
  x = random_grayscale(x, config.gray_scale, rng);
  return normalize_clip(x, config.mean, config.std);
}

torch::Tensor augment_val(const torch::Tensor& clip, int input_size, const std::array<float, 3>& mean,
                          const std::array<float, 3>& std) {
  const auto x = as_float_clip(clip);
  const int64_t height = x.size(2), width = x.size(3);
  const int64_t shorter = input_size * 256 / 224;
  // torchvision Resize(int): the longer side becomes int(size * long / short).
  const auto [new_height, new_width] =
      height <= width ? std::array<int64_t, 2>{shorter, static_cast<int64_t>(static_cast<double>(shorter) * width / height)}
                      : std::array<int64_t, 2>{static_cast<int64_t>(static_cast<double>(shorter) * height / width), shorter};
  const auto resized = resize(x, new_height, new_width);
  // torchvision's centre crop offsets, Python's round() being half-to-even like nearbyint.
  const auto top = static_cast<int64_t>(std::nearbyint((new_height - input_size) / 2.0));
  const auto left = static_cast<int64_t>(std::nearbyint((new_width - input_size) / 2.0));
  return normalize_clip(resized.narrow(2, top, input_size).narrow(3, left, input_size), mean, std);
}

}  // namespace actionclip::data
