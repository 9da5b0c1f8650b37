#include "actionclip/inference/video_views.h"

#include <algorithm>

#include "actionclip/util/error.h"
#include "actionclip/video/sampling.h"
#include "actionclip/video/transforms.h"

namespace actionclip {
namespace {

// Three size x size crops along the longer side: start, centre, end.
std::vector<video::Frame> three_crops(const video::Frame& frame, int size) {
  const bool wide = frame.width >= frame.height;
  const int span = (wide ? frame.width : frame.height) - size;
  std::vector<video::Frame> crops;
  for (int offset : {0, span / 2, span})
    crops.push_back(wide ? video::crop(frame, offset, 0, size, size) : video::crop(frame, 0, offset, size, size));
  return crops;
}

}  // namespace

ViewOptions ViewOptions::parse(const std::string& text, int frames, int input_size) {
  const auto x = text.find('x');
  ViewOptions v;
  v.frames = frames;
  v.input_size = input_size;
  try {
    if (x == std::string::npos) throw std::invalid_argument(text);
    v.crops = std::stoi(text.substr(0, x));
    v.clips = std::stoi(text.substr(x + 1));
  } catch (const std::exception&) {
    throw Error("views must look like CROPSxCLIPS (1x1, 3x10), got '" + text + "'");
  }
  if ((v.crops != 1 && v.crops != 3) || v.clips < 1) throw Error("views: crops must be 1 or 3 and clips >= 1, got " + text);
  return v;
}

namespace {

ViewFrames describe(video::FrameSource& source, const std::vector<int64_t>& indices) {
  ViewFrames view{indices, {}, {}};
  for (int64_t i : indices) {
    if (auto seconds = source.frame_seconds(i)) view.seconds.push_back(*seconds);
    if (auto number = source.frame_file_number(i)) view.file_numbers.push_back(*number);
  }
  // All or nothing: a list that covers some frames only would misalign with `indices`.
  if (view.seconds.size() != indices.size()) view.seconds.clear();
  if (view.file_numbers.size() != indices.size()) view.file_numbers.clear();
  return view;
}

}  // namespace

SampledViews make_views(video::FrameSource& source, const ViewOptions& options, int64_t frame_count) {
  const auto count = frame_count > 0 ? frame_count : source.frame_count();
  // Several clips keep their own layout (the reference has no multi-clip protocol).
  const auto clips = options.clips == 1
                         ? std::vector<std::vector<int64_t>>{video::test_indices(count, options.frames, options.sampling)}
                         : video::multi_clip_indices(count, options.frames, options.clips);
  std::vector<int64_t> all;
  for (const auto& c : clips) all.insert(all.end(), c.begin(), c.end());
  auto frames = source.read_frames(all);

  SampledViews sampled;
  std::vector<torch::Tensor> views;
  for (const auto& clip : clips) {
    const auto described = describe(source, clip);
    for (int k = 0; k < options.crops; ++k) sampled.frames.push_back(described);
  }
  if (options.crops == 1) {
    const auto preprocess = video::ClipPreprocess::actionclip_val(options.input_size);
    for (size_t c = 0; c < clips.size(); ++c) {
      std::vector<video::Frame> clip_frames(frames.begin() + static_cast<std::ptrdiff_t>(c * options.frames),
                                            frames.begin() + static_cast<std::ptrdiff_t>((c + 1) * options.frames));
      views.push_back(preprocess(clip_frames));
    }
  } else {
    std::vector<std::vector<video::Frame>> per_crop(3);
    for (size_t c = 0; c < clips.size(); ++c) {
      for (auto& crop_frames : per_crop) crop_frames.clear();
      for (int f = 0; f < options.frames; ++f) {
        const auto scaled = video::resize_shorter_side(frames[c * options.frames + f], options.input_size);
        auto crops = three_crops(scaled, options.input_size);
        for (int k = 0; k < 3; ++k) per_crop[k].push_back(std::move(crops[k]));
      }
      for (const auto& crop_frames : per_crop) views.push_back(video::to_clip_tensor(crop_frames));
    }
  }
  sampled.pixels = torch::stack(views);
  return sampled;
}

SampledViews read_video_views(const std::string& path, const ViewOptions& options, int64_t frame_count) {
  auto source = video::open_frame_source(path, options.frame_template, options.first_frame_number);
  try {
    return make_views(*source, options, frame_count);
  } catch (const FileError&) {
    throw;
  } catch (const std::exception& e) {
    throw FileError(path, e.what());
  }
}

torch::Tensor load_video_views(const std::string& path, const ViewOptions& options) {
  return read_video_views(path, options).pixels;
}

}  // namespace actionclip
