#include "actionclip/model/model_io.h"

#include <cstdlib>
#include <filesystem>

#include "actionclip/clip/int8_quantization.h"
#include "actionclip/io/mapped_file.h"
#include "actionclip/io/safetensors.h"
#include "actionclip/model/compact_vocabulary.h"
#include "actionclip/model/model_names.h"
#include "actionclip/util/install_paths.h"
#include "actionclip/util/error.h"

namespace actionclip {
namespace fs = std::filesystem;

namespace {

constexpr const char* kBpeFileName = "bpe_simple_vocab_16e6.txt.gz";

io::TensorMap state_of(torch::nn::Module& module, const std::string& prefix) {
  io::TensorMap out;
  for (const auto& p : module.named_parameters()) out.emplace(prefix + p.key(), p.value().detach());
  for (const auto& b : module.named_buffers()) out.emplace(prefix + b.key(), b.value().detach());
  return out;
}

}  // namespace

void normalize_time_embedding(io::TensorMap& clip_state) {
  auto it = clip_state.find("visual.time_embedding");
  if (it != clip_state.end() && it->second.dim() == 3 && it->second.size(0) == 1) it->second = it->second.squeeze(0);
}

std::vector<std::string> assign_state(torch::nn::Module& module, const io::TensorMap& tensors, const std::string& path,
                                      const std::string& what) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  auto assign = [&](const std::string& name, torch::Tensor& target) {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw FileError(path, what + ": missing key '" + name + "'");
    if (it->second.sizes() != target.sizes())
      throw FileError(path, what + ": key '" + name + "' has shape " + c10::str(it->second.sizes()) +
                                ", the model expects " + c10::str(target.sizes()));
    target.copy_(it->second);
    io::release_mapped_pages(it->second);
    used.insert(name);
  };
  for (auto& p : module.named_parameters()) assign(p.key(), p.value());
  for (auto& b : module.named_buffers()) assign(b.key(), b.value());
  std::vector<std::string> unused;
  for (const auto& [key, _] : tensors)
    if (!used.count(key)) unused.push_back(key);
  return unused;
}

std::string find_bpe_file(const std::string& explicit_path, const std::string& model_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* env = std::getenv("ACTIONCLIP_BPE")) return env;
  std::vector<fs::path> candidates;
  if (!model_path.empty()) {
    const fs::path model(model_path);
    candidates.push_back((fs::is_directory(model) ? model : model.parent_path()) / kBpeFileName);
  }
  for (const auto& dir : installed_data_dirs()) candidates.push_back(dir / kBpeFileName);
  for (const auto& c : candidates)
    if (fs::exists(c)) return c.string();
  throw Error(std::string("the CLIP tokenizer file ") + kBpeFileName +
              " was not found beside the model; pass --bpe PATH or set ACTIONCLIP_BPE");
}

TemplateSet model_templates(const nlohmann::json& metadata, bool actionclip_weights) {
  if (metadata.is_object() && metadata.contains("templates"))
    return {"model", metadata.at("templates").get<std::vector<std::string>>()};
  return builtin_templates(actionclip_weights ? "actionclip" : "default");
}

LoadedModel load_model(const std::string& name_or_path, const LoadOptions& options) {
  const auto path = resolve_model_name(name_or_path);
  // Mapped: each tensor comes from the file as it is copied into its parameter, so the weights
  // are in memory once (the model's), not also as the file's tensors.
  auto checkpoint = io::read_checkpoint(path, options.verify_checksums, io::TensorData::Mapped);
  LoadedModel loaded;
  loaded.format = checkpoint.format;
  loaded.path = path;
  loaded.metadata = checkpoint.metadata;

  // An ActionCLIP training checkpoint replaces the CLIP weights and brings the prompt.
  io::TensorMap clip_state = std::move(checkpoint.clip);
  io::TensorMap fusion_state = std::move(checkpoint.fusion);
  std::string weights_path = path;
  if (!options.checkpoint.empty()) {
    auto extra = io::read_checkpoint(options.checkpoint, options.verify_checksums, io::TensorData::Mapped);
    if (!extra.clip.empty()) clip_state = std::move(extra.clip), weights_path = options.checkpoint;
    fusion_state = std::move(extra.fusion);
  }

  ClipConfig config;
  try {
    config = loaded.metadata.contains("clip") ? loaded.metadata.at("clip").get<ClipConfig>() : ClipConfig::infer(clip_state);
  } catch (const std::exception& e) {
    throw FileError(weights_path, e.what());
  }
  if (checkpoint.gelu_activation) config.activation = Activation::Gelu;

  ActionClipOptions model_options;
  const auto& prompt_meta = loaded.metadata.value("prompt", nlohmann::json::object());
  if (options.prompt)
    model_options.prompt = *options.prompt;
  else if (prompt_meta.contains("type"))
    model_options.prompt = prompt_type_from_name(prompt_meta.at("type").get<std::string>());
  else if (clip_state.count("visual.time_embedding"))
    model_options.prompt = PromptType::Joint;
  else
    model_options.prompt = infer_prompt_type(fusion_state);
  model_options.num_frames = options.num_frames.value_or(prompt_meta.value("num_frames", int64_t{8}));
  if (model_options.prompt == PromptType::TransfCls && fusion_state.count("transformer.pos_embed"))
    model_options.num_frames = fusion_state.at("transformer.pos_embed").size(1) - 1;
  normalize_time_embedding(clip_state);
  if (model_options.prompt == PromptType::Joint && clip_state.count("visual.time_embedding"))
    model_options.num_frames = clip_state.at("visual.time_embedding").size(0);
  model_options.reference_conv1d = prompt_meta.value("reference_conv1d", true);

  loaded.model = ActionClipModel(config, model_options);
  // Joint's temporal embedding is new to plain CLIP weights: it starts at zero.
  if (model_options.prompt == PromptType::Joint && !clip_state.count("visual.time_embedding"))
    clip_state.emplace("visual.time_embedding",
                       loaded.model->clip->vision_transformer("the Joint prompt")->time_embedding.detach().clone());
  const bool int8_file = weights_path == path && has_int8_weights(loaded.metadata);
  if ((int8_file || options.int8) && !options.device.is_cpu())
    throw FileError(path, std::string(int8_file ? "holds int8 weights, which run" : "int8 inference runs") +
                              " on CPUs only (libtorch's quantized engines), not on " + options.device.str());
  if (int8_file) load_int8_weights(*loaded.model->clip, clip_state, loaded.metadata, weights_path);
  loaded.unused_keys = assign_state(*loaded.model->clip, clip_state, weights_path, "CLIP");
  if (options.int8) quantize_for_inference(*loaded.model->clip, options.int8_encoders);
  if (loaded.model->fusion->has_parameters()) {
    if (fusion_state.empty())
      throw FileError(options.checkpoint.empty() ? path : options.checkpoint,
                      "has no weights for the " + prompt_type_name(model_options.prompt) + " visual prompt");
    auto unused_fusion = assign_state(*loaded.model->fusion, fusion_state,
                                      options.checkpoint.empty() ? path : options.checkpoint, "visual prompt");
    for (auto& k : unused_fusion) loaded.unused_keys.push_back("fusion." + k);
  }
  loaded.model->eval();
  loaded.model->to(options.device);

  if (options.load_tokenizer) {
    if (auto carried = metadata_tokenizer(loaded.metadata, path))
      loaded.tokenizer = std::move(carried);
    else if (!checkpoint.hf_vocab_json.empty() && !checkpoint.hf_merges_txt.empty())
      loaded.tokenizer = std::make_shared<const Tokenizer>(
          Tokenizer::from_hf_files(checkpoint.hf_vocab_json, checkpoint.hf_merges_txt));
    else
      loaded.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_openai_bpe(find_bpe_file(options.bpe_path, path)));
  }
  loaded.templates = model_templates(
      loaded.metadata, checkpoint.format == io::CheckpointFormat::ActionClipCheckpoint || !options.checkpoint.empty());
  return loaded;
}

void save_model(const std::string& path, ActionClipModel& model, const nlohmann::json& extra_metadata,
                torch::Dtype storage) {
  auto tensors = state_of(*model->clip, "");
  for (auto& [k, v] : state_of(*model->fusion, "fusion.")) tensors.emplace(k, v);
  for (auto& [_, t] : tensors)
    if (t.is_floating_point()) t = t.to(storage);
  nlohmann::json meta = extra_metadata.is_object() ? extra_metadata : nlohmann::json::object();
  add_int8_weights(*model->clip, tensors, meta);
  meta["format"] = "actionclip";
  meta["format_version"] = 1;
  meta["clip"] = model->clip->config();
  meta["prompt"] = {{"type", prompt_type_name(model->options().prompt)},
                    {"num_frames", model->options().num_frames},
                    {"reference_conv1d", model->options().reference_conv1d}};
  io::save_safetensors(path, tensors, {{"actionclip", meta.dump()}});
}

}  // namespace actionclip
