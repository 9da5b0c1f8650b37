#pragma once
// A searchable set of video embeddings, as `embed-video` writes it and `search` and `serve`
// read it: safetensors with "embeddings" [N, D] (unit length, views averaged) and the paths and
// settings as JSON metadata under "actionclip_index".
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace actionclip {

struct VideoIndex {
  std::vector<std::string> paths;
  torch::Tensor embeddings;  // [N, D] unit length, views averaged
  nlohmann::json info;       // model, views, visual prompt
};

// A video's row in an index: its views' unit features averaged, back to unit length. [V, D] -> [D].
torch::Tensor index_embedding(const torch::Tensor& view_features);

void save_video_index(const std::string& path, const VideoIndex& index);
// Throws FileError naming PATH when it is not an index or is damaged.
VideoIndex load_video_index(const std::string& path);

}  // namespace actionclip
