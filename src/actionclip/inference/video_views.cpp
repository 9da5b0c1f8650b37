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

torch::Tensor make_views(video::FrameSource& source, const ViewOptions& options) {
  const auto count = source.frame_count();
  const auto clips = video::multi_clip_indices(count, options.frames, options.clips);
  std::vector<int64_t> all;
  for (const auto& c : clips) all.insert(all.end(), c.begin(), c.end());
  auto frames = source.read_frames(all);

  std::vector<torch::Tensor> views;
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
  return torch::stack(views);
}

torch::Tensor load_video_views(const std::string& path, const ViewOptions& options) {
  auto source = video::open_frame_source(path, options.frame_template);
  try {
    return make_views(*source, options);
  } catch (const FileError&) {
    throw;
  } catch (const std::exception& e) {
    throw FileError(path, e.what());
  }
}

}  // namespace actionclip
