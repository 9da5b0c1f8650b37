#include "actionclip/inference/video_index.h"

#include "actionclip/clip/clip_model.h"
#include "actionclip/io/safetensors.h"
#include "actionclip/util/error.h"

namespace actionclip {

torch::Tensor index_embedding(const torch::Tensor& view_features) {
  return l2_normalize(l2_normalize(view_features).mean(0));
}

void save_video_index(const std::string& path, const VideoIndex& index) {
  nlohmann::json meta = index.info;
  meta["paths"] = index.paths;
  io::save_safetensors(path, {{"embeddings", index.embeddings}}, {{"actionclip_index", meta.dump()}});
}

VideoIndex load_video_index(const std::string& path) {
  io::Metadata metadata;
  auto tensors = io::load_safetensors(path, &metadata);
  if (!metadata.count("actionclip_index") || !tensors.count("embeddings"))
    throw FileError(path, "not a video index written by 'actionclip embed-video'");
  VideoIndex index;
  try {
    index.info = nlohmann::json::parse(metadata.at("actionclip_index"));
    index.paths = index.info.at("paths").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, std::string("damaged index metadata: ") + e.what());
  }
  if (static_cast<int64_t>(index.paths.size()) != tensors.at("embeddings").size(0))
    throw FileError(path, "index holds a different number of paths and embeddings");
  index.embeddings = tensors.at("embeddings");
  return index;
}

}  // namespace actionclip
