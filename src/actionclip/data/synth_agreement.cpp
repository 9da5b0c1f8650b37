#include "actionclip/data/synth_agreement.h"

#include "actionclip/util/error.h"
#include "actionclip/video/sampling.h"
#include "actionclip/video/transforms.h"

namespace actionclip::data {

std::vector<std::string> synth_label_set(const std::vector<std::string>& colors, const std::vector<std::string>& shapes,
                                         const std::vector<std::string>& motions, size_t count) {
  std::vector<std::string> labels;
  for (const auto& c : colors)
    for (const auto& s : shapes)
      for (const auto& m : motions)
        if (labels.size() < count) labels.push_back("a " + c + " " + s + " " + m);
  for (const auto& c : colors)
    for (const auto& second : synth_colors())
      for (const auto& s : shapes)
        for (const auto& m : motions)
          if (second != c && labels.size() < count) labels.push_back("a " + c + " and " + second + " " + s + " " + m);
  if (labels.size() < count)
    throw Error("the synthetic world's words make " + std::to_string(labels.size()) + " labels, not " +
                std::to_string(count));
  return labels;
}

torch::Tensor synth_clip_batch(const SynthOptions& options, int count, int frames, int input_size) {
  const auto classes = synth_classes(options);
  const auto preprocess = video::ClipPreprocess::actionclip_val(input_size);
  std::vector<torch::Tensor> clips;
  for (int i = 0; i < count; ++i) {
    const auto n = static_cast<int>(classes.size());
    const auto rendered = render_synth_video(options, classes[static_cast<size_t>(i % n)], i / n);
    std::vector<video::Frame> sampled;
    for (const auto index : video::actionclip_test_indices(static_cast<int64_t>(rendered.size()), frames))
      sampled.push_back(rendered[static_cast<size_t>(index)]);
    clips.push_back(preprocess(sampled));
  }
  return torch::stack(clips);
}

}  // namespace actionclip::data
