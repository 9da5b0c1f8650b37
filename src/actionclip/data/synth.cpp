#include "actionclip/data/synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string_view>
#include <system_error>

#include "actionclip/util/error.h"
#include "actionclip/util/random.h"
#include "actionclip/video/video_writer.h"

namespace actionclip::data {
namespace fs = std::filesystem;
using video::Frame;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDegree = kPi / 180;

// ---------------------------------------------------------------------------------------------
// Randomness. Seeds are derived by hashing names rather than by drawing from a shared stream,
// so a video's content does not depend on which other classes were generated before it.

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  double uniform() { return uniform_unit(engine_); }
  double uniform(double lo, double hi) { return uniform_between(engine_, lo, hi); }
  uint64_t below(uint64_t n) { return uniform_below(engine_, n); }

 private:
  std::mt19937_64 engine_;
};

// ---------------------------------------------------------------------------------------------
// Vocabulary.

struct Rgb {
  double r, g, b;
};

struct NamedColor {
  std::string_view name;
  Rgb rgb;
};

// Saturated, so they stand out from the muted backgrounds.
constexpr std::array<NamedColor, 10> kColors = {{
    {"red", {210, 40, 40}},
    {"green", {40, 170, 60}},
    {"blue", {40, 80, 220}},
    {"yellow", {235, 205, 40}},
    {"orange", {240, 130, 30}},
    {"purple", {135, 60, 195}},
    {"cyan", {40, 200, 210}},
    {"magenta", {215, 50, 185}},
    {"white", {245, 245, 245}},
    {"black", {20, 20, 20}},
}};
constexpr std::array<std::string_view, 3> kDefaultColors = {"red", "green", "blue"};

enum class Shape { Square, Circle, Triangle };
constexpr std::array<std::pair<std::string_view, Shape>, 3> kShapes = {{
    {"square", Shape::Square},
    {"circle", Shape::Circle},
    {"triangle", Shape::Triangle},
}};

// A pair of motions that are each other's time reversal. Rendering always follows the forward
// member (right, down, clockwise, growing); the other plays the same frames backwards.
enum class Axis { Horizontal, Vertical, Rotation, Scale };

struct Motion {
  std::string_view name, phrase;
  Axis axis;
  std::string_view axis_name;  // seeds the pair's content, so it is shared by both members
  bool backward;
};

// Pair members are adjacent, so the classes of a pair get consecutive ids.
constexpr std::array<Motion, 8> kMotions = {{
    {"left", "moving left", Axis::Horizontal, "horizontal", true},
    {"right", "moving right", Axis::Horizontal, "horizontal", false},
    {"up", "moving up", Axis::Vertical, "vertical", true},
    {"down", "moving down", Axis::Vertical, "vertical", false},
    {"clockwise", "rotating clockwise", Axis::Rotation, "rotation", false},
    {"anticlockwise", "rotating anticlockwise", Axis::Rotation, "rotation", true},
    {"growing", "growing", Axis::Scale, "scale", false},
    {"shrinking", "shrinking", Axis::Scale, "scale", true},
}};

template <typename Table, typename Name>
std::vector<std::string> names_of(const Table& table, Name name) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.emplace_back(name(entry));
  return names;
}

const NamedColor& color_named(std::string_view name) {
  for (const auto& c : kColors)
    if (c.name == name) return c;
  throw Error("synth: unknown colour '" + std::string(name) + "'");
}

Shape shape_named(std::string_view name) {
  for (const auto& [shape_name, shape] : kShapes)
    if (shape_name == name) return shape;
  throw Error("synth: unknown shape '" + std::string(name) + "'");
}

const Motion& motion_named(std::string_view name) {
  for (const auto& m : kMotions)
    if (m.name == name) return m;
  throw Error("synth: unknown motion '" + std::string(name) + "'");
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

// The names of `all` that `filter` mentions (or `defaults` when it is empty), in `all`'s order.
std::vector<std::string> select(const std::vector<std::string>& filter, const std::vector<std::string>& all,
                                const std::vector<std::string>& defaults, const char* what) {
  const std::vector<std::string>& wanted = filter.empty() ? defaults : filter;
  for (const auto& name : wanted)
    if (std::find(all.begin(), all.end(), name) == all.end())
      throw Error(std::string("synth: unknown ") + what + " '" + name + "' (expected one of: " + join(all, ", ") + ")");
  std::vector<std::string> selected;
  for (const auto& name : all)
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) selected.push_back(name);
  return selected;
}

void validate(const SynthOptions& o) {
  if (o.videos_per_class < 1) throw Error("synth: videos_per_class must be at least 1");
  if (o.frames < 2) throw Error("synth: frames must be at least 2 for time direction to mean anything");
  if (o.width < 32 || o.height < 32 || o.width % 2 || o.height % 2)
    throw Error("synth: frame size " + std::to_string(o.width) + "x" + std::to_string(o.height) +
                " must be even (yuv420p video) and at least 32x32");
  if (!std::isfinite(o.fps) || o.fps <= 0) throw Error("synth: fps must be positive");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1)) throw Error("synth: val_fraction must be in [0, 1)");
  if (o.keyframe_interval < 0) throw Error("synth: keyframe_interval must be non-negative");
  if (o.container != "avi" && o.container != "mp4" && o.container != "webm")
    throw Error("synth: container '" + o.container + "' is not one of avi, mp4, webm");
}

// ---------------------------------------------------------------------------------------------
// Rendering. Geometry is in pixels with y pointing down, so a growing angle turns clockwise on
// screen; pixel (x, y) is sampled at its centre (x + 0.5, y + 0.5).

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0) + 0.5); }

Rgb mix(const Rgb& a, const Rgb& b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

// A low-saturation colour of luminance near `level`, so the shapes keep their contrast.
Rgb muted_color(Rng& rng, double level) {
  return {level + rng.uniform(-22, 22), level + rng.uniform(-22, 22), level + rng.uniform(-22, 22)};
}

// A static textured background: gradient, stripes or value noise between two muted colours.
// No per-pixel grain: the encoder would discard most of it, so it would only separate the
// frames a model sees from the frames rendered. Returned as packed rgb24.
std::vector<uint8_t> render_background(Rng& rng, int width, int height) {
  const double level = rng.uniform(70, 190);
  const double contrast = rng.uniform(25, 60);
  const Rgb near = muted_color(rng, level);
  const Rgb far = muted_color(rng, level + (level < 130 ? contrast : -contrast));

  std::vector<double> weight(static_cast<size_t>(width) * height);
  const double direction = rng.uniform(0, 2 * kPi);
  const double dx = std::cos(direction), dy = std::sin(direction);
  switch (rng.below(3)) {
    case 0: {  // linear gradient across the frame
      const double half_extent = 0.5 * (std::abs(width * dx) + std::abs(height * dy));
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
          const double s = (x + 0.5 - width / 2.0) * dx + (y + 0.5 - height / 2.0) * dy;
          weight[static_cast<size_t>(y) * width + x] = 0.5 + 0.5 * s / half_extent;
        }
      break;
    }
    case 1: {  // soft stripes: a triangle wave along `direction`
      const double period = rng.uniform(6, 20);
      const double phase = rng.uniform();
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
          const double u = ((x + 0.5) * dx + (y + 0.5) * dy) / period + phase;
          weight[static_cast<size_t>(y) * width + x] = std::abs(2 * (u - std::floor(u)) - 1);
        }
      break;
    }
    default: {  // two octaves of smoothly interpolated lattice noise
      const double cell = rng.uniform(8, 24);
      for (const double amplitude : {2.0 / 3, 1.0 / 3}) {
        const double octave_cell = amplitude > 0.5 ? cell : cell / 2;
        const int lattice_w = static_cast<int>(width / octave_cell) + 2;
        const int lattice_h = static_cast<int>(height / octave_cell) + 2;
        std::vector<double> lattice(static_cast<size_t>(lattice_w) * lattice_h);
        for (double& v : lattice) v = rng.uniform();
        auto at = [&](int i, int j) { return lattice[static_cast<size_t>(j) * lattice_w + i]; };
        auto smooth = [](double t) { return t * t * (3 - 2 * t); };
        for (int y = 0; y < height; ++y)
          for (int x = 0; x < width; ++x) {
            const double fx = (x + 0.5) / octave_cell, fy = (y + 0.5) / octave_cell;
            const int i = static_cast<int>(fx), j = static_cast<int>(fy);
            const double tx = smooth(fx - i), ty = smooth(fy - j);
            const double top = at(i, j) + (at(i + 1, j) - at(i, j)) * tx;
            const double bottom = at(i, j + 1) + (at(i + 1, j + 1) - at(i, j + 1)) * tx;
            weight[static_cast<size_t>(y) * width + x] += amplitude * (top + (bottom - top) * ty);
          }
      }
      break;
    }
  }

  std::vector<uint8_t> rgb(weight.size() * 3);
  for (size_t p = 0; p < weight.size(); ++p) {
    const Rgb c = mix(near, far, weight[p]);
    rgb[3 * p] = to_byte(c.r);
    rgb[3 * p + 1] = to_byte(c.g);
    rgb[3 * p + 2] = to_byte(c.b);
  }
  return rgb;
}

struct Pose {
  double x, y;    // centre
  double radius;  // circumradius of the outline
  double angle;   // radians, clockwise
};

Pose lerp(const Pose& a, const Pose& b, double t) {
  return {a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, a.radius + (b.radius - a.radius) * t,
          a.angle + (b.angle - a.angle) * t};
}

// A regular polygon as a signed distance (negative inside): the largest distance past any edge
// line. That underestimates the distance just outside corners, which only blurs their
// antialiasing a little, and costs one dot product per edge.
class RegularPolygon {
 public:
  // The square has the most sides of the shapes drawn.
  static constexpr int kMaxSides = 4;

  RegularPolygon(const Pose& pose, int sides, double first_vertex_angle) : sides_(sides) {
    std::array<double, 2> prev{};
    for (int i = 0; i <= sides; ++i) {
      const double a = pose.angle + first_vertex_angle + 2 * kPi * i / sides;
      const std::array<double, 2> v = {pose.x + pose.radius * std::cos(a), pose.y + pose.radius * std::sin(a)};
      if (i > 0) {
        double nx = v[1] - prev[1], ny = prev[0] - v[0];
        const double length = std::hypot(nx, ny);
        nx /= length;
        ny /= length;
        double offset = nx * v[0] + ny * v[1];
        if (nx * pose.x + ny * pose.y > offset) {  // point the normal away from the centre
          nx = -nx, ny = -ny, offset = -offset;
        }
        edges_[i - 1] = {nx, ny, offset};
      }
      prev = v;
    }
  }
  double distance(double x, double y) const {
    double d = -HUGE_VAL;
    for (int i = 0; i < sides_; ++i) {
      const auto& [nx, ny, offset] = edges_[i];
      d = std::max(d, nx * x + ny * y - offset);
    }
    return d;
  }

 private:
  std::array<std::array<double, 3>, kMaxSides> edges_{};  // unit outward normal, offset
  int sides_;
};

// Fraction of a pixel covered, from the signed distance of its centre to the edge.
double coverage(double signed_distance) { return std::clamp(0.5 - signed_distance, 0.0, 1.0); }

// Draws `shape` with an off-centre marker dot that shows its orientation: without it a rotating
// circle would be a still image, and the direction of a square's or triangle's turn would rest
// on its outline alone.
void draw_shape(Frame& frame, Shape shape, const Pose& pose, const Rgb& color) {
  const double luminance = 0.299 * color.r + 0.587 * color.g + 0.114 * color.b;
  const Rgb marker_color = luminance < 80 ? mix(color, {255, 255, 255}, 0.6) : mix(color, {0, 0, 0}, 0.6);
  const double marker_radius = 0.2 * pose.radius;
  const double marker_x = pose.x + 0.45 * pose.radius * std::sin(pose.angle);
  const double marker_y = pose.y - 0.45 * pose.radius * std::cos(pose.angle);

  // Vertices are laid out so that at angle 0 the marker points up at an edge (square) or a
  // vertex (triangle), and stays inside the outline.
  std::optional<RegularPolygon> polygon;
  if (shape == Shape::Square) polygon.emplace(pose, 4, kPi / 4);
  if (shape == Shape::Triangle) polygon.emplace(pose, 3, -kPi / 2);
  const double circle_radius = 0.8 * pose.radius;
  auto outline_distance = [&](double x, double y) {
    return polygon ? polygon->distance(x, y) : std::hypot(x - pose.x, y - pose.y) - circle_radius;
  };

  const int x0 = std::max(0, static_cast<int>(std::floor(pose.x - pose.radius - 1)));
  const int x1 = std::min(frame.width, static_cast<int>(std::ceil(pose.x + pose.radius + 1)));
  const int y0 = std::max(0, static_cast<int>(std::floor(pose.y - pose.radius - 1)));
  const int y1 = std::min(frame.height, static_cast<int>(std::ceil(pose.y + pose.radius + 1)));
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const double px = x + 0.5, py = y + 0.5;
      const double alpha = coverage(outline_distance(px, py));
      if (alpha == 0) continue;
      const double marker = coverage(std::hypot(px - marker_x, py - marker_y) - marker_radius);
      const Rgb fill = mix(color, marker_color, marker);
      uint8_t* pixel = &frame.rgb[(static_cast<size_t>(y) * frame.width + x) * 3];
      pixel[0] = to_byte(pixel[0] + (fill.r - pixel[0]) * alpha);
      pixel[1] = to_byte(pixel[1] + (fill.g - pixel[1]) * alpha);
      pixel[2] = to_byte(pixel[2] + (fill.b - pixel[2]) * alpha);
    }
}

// The frames of video `index` of the forward member of (colour, shape, motion pair).
std::vector<Frame> render_forward(const SynthOptions& o, const NamedColor& named_color, std::string_view shape_name,
                                  const Motion& motion, int index) {
  Rng rng(derive_seed(o.seed, {"video", named_color.name, shape_name, motion.axis_name, std::to_string(index)}));
  const int w = o.width, h = o.height;
  const double m = std::min(w, h);

  const Rgb color = {named_color.rgb.r + rng.uniform(-12, 12), named_color.rgb.g + rng.uniform(-12, 12),
                     named_color.rgb.b + rng.uniform(-12, 12)};
  const double angle = rng.uniform(0, 2 * kPi);
  Pose start{}, end{};
  switch (motion.axis) {
    case Axis::Horizontal:
    case Axis::Vertical: {
      const bool horizontal = motion.axis == Axis::Horizontal;
      const double radius = rng.uniform(0.12, 0.18) * m;
      const double margin = radius + 2;
      const double along = horizontal ? w : h, across = horizontal ? h : w;
      const double travel = std::min(rng.uniform(0.35, 0.55) * along, along - 2 * margin);
      const double from = rng.uniform(margin, along - margin - travel);
      const double at = rng.uniform(margin, across - margin);
      start = horizontal ? Pose{from, at, radius, angle} : Pose{at, from, radius, angle};
      end = horizontal ? Pose{from + travel, at, radius, angle} : Pose{at, from + travel, radius, angle};
      break;
    }
    case Axis::Rotation: {
      const double radius = rng.uniform(0.15, 0.22) * m;
      // Under 45 degrees a frame, so even a square's 90-degree symmetry cannot alias the turn.
      const double step = rng.uniform(8, 15) * kDegree;
      start = {rng.uniform(radius + 2, w - radius - 2), rng.uniform(radius + 2, h - radius - 2), radius, angle};
      end = start;
      end.angle = angle + step * (o.frames - 1);
      break;
    }
    case Axis::Scale: {
      const double small = rng.uniform(0.08, 0.11) * m;
      const double large = small * rng.uniform(1.9, 2.5);
      start = {rng.uniform(large + 2, w - large - 2), rng.uniform(large + 2, h - large - 2), small, angle};
      end = start;
      end.radius = large;
      break;
    }
  }
  const std::vector<uint8_t> background = render_background(rng, w, h);

  const Shape shape = shape_named(shape_name);
  std::vector<Frame> frames(static_cast<size_t>(o.frames));
  for (int i = 0; i < o.frames; ++i) {
    frames[i] = Frame{w, h, background};
    draw_shape(frames[i], shape, lerp(start, end, static_cast<double>(i) / (o.frames - 1)), color);
  }
  return frames;
}

// Which videos of a pair's classes go to val: the same k for both members.
std::vector<bool> held_out(const SynthOptions& o, const SynthClass& cls) {
  const int n = o.videos_per_class;
  int count = static_cast<int>(std::lround(o.val_fraction * n));
  if (o.val_fraction > 0) count = std::max(count, 1);
  count = std::min(count, n - 1);

  std::vector<int> order(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) order[k] = k;
  Rng rng(derive_seed(o.seed, {"split", cls.color, cls.shape, motion_named(cls.motion).axis_name}));
  std::vector<bool> val(static_cast<size_t>(n), false);
  for (int i = 0; i < count; ++i) {  // partial Fisher-Yates: the first `count` of a shuffle
    std::swap(order[i], order[i + static_cast<int>(rng.below(n - i))]);
    val[order[i]] = true;
  }
  return val;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw FileError(path.string(), "cannot open for writing");
  file << text;
  file.close();
  if (!file) throw FileError(path.string(), "write failed");
}

void make_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(dir.string(), "cannot create directory: " + ec.message());
}

}  // namespace

const std::vector<std::string>& synth_colors() {
  static const std::vector<std::string> names = names_of(kColors, [](const NamedColor& c) { return c.name; });
  return names;
}

const std::vector<std::string>& synth_shapes() {
  static const std::vector<std::string> names = names_of(kShapes, [](const auto& s) { return s.first; });
  return names;
}

const std::vector<std::string>& synth_motions() {
  static const std::vector<std::string> names = names_of(kMotions, [](const Motion& m) { return m.name; });
  return names;
}

std::vector<SynthClass> synth_classes(const SynthOptions& options) {
  validate(options);
  const auto colors = select(options.colors, synth_colors(),
                             std::vector<std::string>(kDefaultColors.begin(), kDefaultColors.end()), "colour");
  const auto shapes = select(options.shapes, synth_shapes(), synth_shapes(), "shape");
  const auto motions = select(options.motions, synth_motions(), synth_motions(), "motion");

  std::vector<SynthClass> classes;
  for (const auto& color : colors)
    for (const auto& shape : shapes)
      for (const auto& motion_name : motions) {
        const Motion& motion = motion_named(motion_name);
        SynthClass cls;
        cls.id = static_cast<int>(classes.size());
        const bool vowel = std::string_view("aeiou").find(color.front()) != std::string_view::npos;
        cls.name = std::string(vowel ? "an " : "a ") + color + " " + shape + " " + std::string(motion.phrase);
        cls.slug = cls.name.substr(cls.name.find(' ') + 1);
        std::replace(cls.slug.begin(), cls.slug.end(), ' ', '_');
        cls.color = color;
        cls.shape = shape;
        cls.motion = motion_name;
        // The partner, if selected, is the previous class: pair members are adjacent in kMotions.
        if (!classes.empty()) {
          SynthClass& prev = classes.back();
          if (prev.color == color && prev.shape == shape && motion_named(prev.motion).axis == motion.axis) {
            prev.reversed_id = cls.id;
            cls.reversed_id = prev.id;
          }
        }
        classes.push_back(std::move(cls));
      }
  return classes;
}

std::vector<Frame> render_synth_video(const SynthOptions& options, const SynthClass& cls, int index) {
  validate(options);
  if (index < 0) throw Error("synth: video index must be non-negative");
  const Motion& motion = motion_named(cls.motion);
  std::vector<Frame> frames = render_forward(options, color_named(cls.color), cls.shape, motion, index);
  if (motion.backward) std::reverse(frames.begin(), frames.end());
  return frames;
}

SynthSummary generate_synth_dataset(const SynthOptions& options, const SynthProgress& progress) {
  if (options.out_dir.empty()) throw Error("synth: no output directory given");
  SynthSummary summary;
  summary.classes = synth_classes(options);
  const auto& classes = summary.classes;
  const fs::path out = options.out_dir;
  const int total = static_cast<int>(classes.size()) * options.videos_per_class;
  const video::VideoWriterOptions writer_options{video::VideoCodec::Auto, options.keyframe_interval};

  std::vector<std::string> train_lines(classes.size()), val_lines(classes.size());
  for (const SynthClass& cls : classes) {
    // A pair is rendered once, when its first member comes up.
    if (cls.reversed_id >= 0 && cls.reversed_id < cls.id) continue;
    std::vector<const SynthClass*> members = {&cls};
    if (cls.reversed_id >= 0) members.push_back(&classes[cls.reversed_id]);
    for (const SynthClass* member : members) make_directory(out / "videos" / member->slug);

    const std::vector<bool> val = held_out(options, cls);
    const Motion& motion = motion_named(cls.motion);
    for (int k = 0; k < options.videos_per_class; ++k) {
      const std::vector<Frame> frames = render_forward(options, color_named(cls.color), cls.shape, motion, k);
      for (const SynthClass* member : members) {
        const std::string relative =
            "videos/" + member->slug + "/" + member->slug + "_" + std::to_string(k) + "." + options.container;
        video::VideoWriter writer((out / relative).string(), options.width, options.height, options.fps,
                                  writer_options);
        if (motion_named(member->motion).backward)
          for (auto it = frames.rbegin(); it != frames.rend(); ++it) writer.write(*it);
        else
          for (const Frame& frame : frames) writer.write(frame);
        summary.encoder = writer.encoder_name();
        writer.close();

        (val[k] ? val_lines : train_lines)[member->id] += relative + " " + std::to_string(member->id) + "\n";
        ++(val[k] ? summary.val_videos : summary.train_videos);
        ++summary.videos;
        if (progress) progress(summary.videos, total);
      }
    }
  }

  std::string labels = "id,name\n";
  for (const SynthClass& cls : classes) labels += std::to_string(cls.id) + "," + cls.name + "\n";
  write_text(out / "labels.csv", labels);
  write_text(out / "train.txt", join(train_lines, ""));
  write_text(out / "val.txt", join(val_lines, ""));

  // Written by hand: class names are lower-case letters and spaces, so nothing needs escaping.
  std::string pairs = "{\n  \"pairs\": [";
  bool first = true;
  for (const SynthClass& cls : classes) {
    if (cls.reversed_id <= cls.id) continue;
    const SynthClass& other = classes[cls.reversed_id];
    pairs += std::string(first ? "" : ",") + "\n    {\"ids\": [" + std::to_string(cls.id) + ", " +
             std::to_string(other.id) + "], \"names\": [\"" + cls.name + "\", \"" + other.name + "\"]}";
    first = false;
  }
  pairs += first ? "]\n}\n" : "\n  ]\n}\n";
  write_text(out / "pairs.json", pairs);
  return summary;
}

}  // namespace actionclip::data
