#include "actionclip/clip/int8_quantization.h"

#include <set>

#include "actionclip/clip/modified_resnet.h"
#include "actionclip/io/mapped_file.h"
#include "actionclip/util/error.h"

namespace actionclip {
namespace {

std::string join(const std::string& prefix, const std::string& name) { return prefix.empty() ? name : prefix + "." + name; }

Int8Projection linear_projection(const std::string& prefix, torch::nn::Linear& linear, Int8Linear& packed) {
  return {join(prefix, "weight"), join(prefix, "bias"), false, linear->weight, linear->bias, &packed};
}

Int8Projection matrix_projection(const std::string& key, torch::Tensor& matrix, Int8Linear& packed) {
  return {key, "", true, matrix, {}, &packed};
}

torch::Tensor& find_tensor(io::TensorMap& state, const std::string& key, const std::string& path) {
  auto it = state.find(key);
  if (it == state.end()) throw FileError(path, "int8 weights: missing key '" + key + "'");
  return it->second;
}

Int8Linear load_projection(const Int8Projection& p, io::TensorMap& state, const std::string& path) {
  const auto& values = find_tensor(state, p.weight_key, path);
  if (values.scalar_type() != torch::kInt8)
    throw FileError(path, "int8 weights: key '" + p.weight_key + "' is " + c10::toString(values.scalar_type()) +
                              ", expected int8");
  if (values.sizes() != p.weight.sizes())
    throw FileError(path, "int8 weights: key '" + p.weight_key + "' has shape " + c10::str(values.sizes()) +
                              ", the model expects " + c10::str(p.weight.sizes()));
  const auto scale_key = int8_scale_key(p.weight_key);
  const auto& scales = find_tensor(state, scale_key, path);
  const auto outputs = p.weight.size(p.matrix ? 1 : 0);
  if (scales.dim() != 1 || scales.size(0) != outputs || scales.scalar_type() != torch::kFloat32)
    throw FileError(path, "int8 weights: key '" + scale_key + "' is " + c10::toString(scales.scalar_type()) + " " +
                              c10::str(scales.sizes()) + ", expected float32 [" + std::to_string(outputs) + "]");
  if (!(scales > 0).all().item<bool>())
    throw FileError(path, "int8 weights: key '" + scale_key + "' holds scales that are not positive");
  torch::Tensor bias;
  if (!p.bias_key.empty()) {
    bias = find_tensor(state, p.bias_key, path);
    if (bias.sizes() != p.bias.sizes())
      throw FileError(path, "int8 weights: key '" + p.bias_key + "' has shape " + c10::str(bias.sizes()) +
                                ", the model expects " + c10::str(p.bias.sizes()));
  }
  // A copy: the engine keeps the int8 tensor it is given, and one over the mapped file would keep
  // the file's pages resident beside the packed weights.
  auto linear = Int8Linear::from_int8((p.matrix ? values.t() : values).contiguous().clone(), scales, bias);
  io::release_mapped_pages(values);
  io::release_mapped_pages(scales);
  return linear;
}

void free_weight(torch::Tensor& weight) { weight.set_data(torch::empty({0}, weight.options())); }

}  // namespace

std::vector<Int8Projection> int8_projections(ClipModelImpl& clip) {
  std::vector<Int8Projection> out;
  for (const auto& item : clip.named_modules("", /*include_self=*/false)) {
    const auto& prefix = item.key();
    const auto& module = item.value();
    if (auto attention = std::dynamic_pointer_cast<SelfAttentionImpl>(module)) {
      out.push_back({join(prefix, "in_proj_weight"), join(prefix, "in_proj_bias"), false, attention->in_proj_weight,
                     attention->in_proj_bias, &attention->in_proj_int8});
      out.push_back(linear_projection(join(prefix, "out_proj"), attention->out_proj, attention->out_proj_int8));
    } else if (auto mlp = std::dynamic_pointer_cast<MlpImpl>(module)) {
      out.push_back(linear_projection(join(prefix, "c_fc"), mlp->c_fc, mlp->c_fc_int8));
      out.push_back(linear_projection(join(prefix, "c_proj"), mlp->c_proj, mlp->c_proj_int8));
    } else if (auto pool = std::dynamic_pointer_cast<AttentionPool2dImpl>(module)) {
      out.push_back(linear_projection(join(prefix, "q_proj"), pool->q_proj, pool->q_proj_int8));
      out.push_back(linear_projection(join(prefix, "k_proj"), pool->k_proj, pool->k_proj_int8));
      out.push_back(linear_projection(join(prefix, "v_proj"), pool->v_proj, pool->v_proj_int8));
      out.push_back(linear_projection(join(prefix, "c_proj"), pool->c_proj, pool->c_proj_int8));
    } else if (auto vit = std::dynamic_pointer_cast<VisionTransformerImpl>(module)) {
      out.push_back(matrix_projection(join(prefix, "proj"), vit->proj, vit->proj_int8));
    }
  }
  out.push_back(matrix_projection("text_projection", clip.text_projection, clip.text_projection_int8));
  return out;
}

void quantize_for_inference(ClipModelImpl& clip, Int8Encoders encoders) {
  torch::NoGradGuard no_grad;
  for (auto& p : int8_projections(clip)) {
    if (p.packed->defined() || (encoders == Int8Encoders::Image && !p.in_image_encoder_body())) continue;
    if (!p.weight.device().is_cpu())
      throw Error("int8 inference runs on CPUs only (libtorch's quantized engines); the model is on " +
                  p.weight.device().str());
    *p.packed = Int8Linear::quantize(p.matrix ? p.weight.t() : p.weight, p.bias);
    free_weight(p.weight);
  }
}

bool is_int8(ClipModelImpl& clip) {
  for (const auto& p : int8_projections(clip))
    if (p.packed->defined()) return true;
  return false;
}

std::string int8_scale_key(const std::string& weight_key) { return weight_key + ".scale"; }

void add_int8_weights(ClipModelImpl& clip, io::TensorMap& tensors, nlohmann::json& metadata) {
  metadata.erase("int8");
  std::vector<std::string> keys;
  for (const auto& p : int8_projections(clip)) {
    if (!p.packed->defined()) continue;
    auto weight = p.packed->int8_weight();
    tensors[p.weight_key] = p.matrix ? weight.values.t().contiguous() : weight.values;
    tensors[int8_scale_key(p.weight_key)] = weight.scales;
    keys.push_back(p.weight_key);
  }
  if (!keys.empty())
    metadata["int8"] = {{"scheme", "symmetric, per output channel: weight = values * scale"},
                      {"scale_suffix", ".scale"},
                      {"weights", keys}};
}

bool has_int8_weights(const nlohmann::json& metadata) { return metadata.is_object() && metadata.contains("int8"); }

void load_int8_weights(ClipModelImpl& clip, io::TensorMap& state, const nlohmann::json& metadata,
                       const std::string& path) {
  torch::NoGradGuard no_grad;
  const auto listed = metadata.at("int8").find("weights");
  if (listed == metadata.at("int8").end() || !listed->is_array())
    throw FileError(path, "int8 weights: the metadata's \"int8\" has no list of \"weights\"");
  std::set<std::string> int8_keys;
  for (const auto& key : *listed) {
    if (!key.is_string()) throw FileError(path, "int8 weights: the metadata's list holds " + key.dump());
    int8_keys.insert(key.get<std::string>());
  }
  for (auto& p : int8_projections(clip)) {
    if (!int8_keys.erase(p.weight_key)) continue;
    try {
      *p.packed = load_projection(p, state, path);
    } catch (const FileError&) {
      throw;
    } catch (const Error& e) {
      throw FileError(path, "int8 weights: key '" + p.weight_key + "': " + e.what());
    }
    free_weight(p.weight);
    state[p.weight_key] = torch::empty({0});
    state.erase(int8_scale_key(p.weight_key));
  }
  if (!int8_keys.empty())
    throw FileError(path, "int8 weights: '" + *int8_keys.begin() + "' is not a projection of this architecture");
}

}  // namespace actionclip
