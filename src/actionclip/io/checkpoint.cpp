#include "actionclip/io/checkpoint.h"

#include <filesystem>
#include <fstream>

#include "actionclip/io/torch_file.h"
#include "actionclip/util/error.h"

namespace actionclip::io {
namespace fs = std::filesystem;

std::string format_name(CheckpointFormat format) {
  switch (format) {
    case CheckpointFormat::OpenAiTorchScript: return "openai-torchscript";
    case CheckpointFormat::TorchStateDict: return "torch-state-dict";
    case CheckpointFormat::HuggingFaceFolder: return "huggingface";
    case CheckpointFormat::ActionClipCheckpoint: return "actionclip-checkpoint";
    case CheckpointFormat::ActionClipSafetensors: return "actionclip-safetensors";
  }
  return "unknown";
}

namespace {

std::string read_prefix(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

bool is_zip(const std::string& prefix) { return prefix.rfind("PK\x03\x04", 0) == 0; }

bool is_safetensors(const std::string& prefix) { return prefix.size() > 9 && prefix[8] == '{'; }

// Strips the "module." prefix that DataParallel adds to every key.
TensorMap strip_module(TensorMap tensors) {
  TensorMap out;
  for (auto& [key, t] : tensors) out.emplace(key.rfind("module.", 0) == 0 ? key.substr(7) : key, std::move(t));
  return out;
}

TensorMap to_float32(TensorMap tensors) {
  for (auto& [_, t] : tensors)
    if (t.is_floating_point()) t = t.to(torch::kFloat32);
  return tensors;
}

// An ActionCLIP training checkpoint, a state dict (optionally under "state_dict"), or a
// TorchScript archive, all through the restricted reader: nothing in the file is executed.
}  // namespace

Checkpoint read_torch_checkpoint(TorchFile& file) {
  const auto& path = file.path();
  Checkpoint c{path, CheckpointFormat::TorchStateDict, {}, {}, nlohmann::json::object(), {}, {}, {}, false};
  if (file.layout() == TorchFileLayout::TorchScript) {
    c.format = CheckpointFormat::OpenAiTorchScript;
    c.clip = file.module_tensors();
    return c;
  }
  const auto& root = file.root();
  if (!root.is(pickle::Kind::Dict))
    throw FileError(path, std::string("expected a dictionary at the top level, found a ") + pickle::kind_name(root.kind));
  if (const auto* model = root.get("model_state_dict")) {
    // The optimizer state the reference saves beside the weights is never read.
    c.format = CheckpointFormat::ActionClipCheckpoint;
    c.clip = strip_module(file.tensors(*model, "model_state_dict"));
    if (const auto* fusion = root.get("fusion_model_state_dict"))
      c.fusion = strip_module(file.tensors(*fusion, "fusion_model_state_dict"));
    if (const auto* epoch = root.get("epoch"); epoch && epoch->is(pickle::Kind::Int)) c.epoch = epoch->integer;
  } else if (const auto* state = root.get("state_dict")) {
    c.clip = strip_module(file.tensors(*state, "state_dict"));
  } else {
    c.clip = strip_module(file.tensors(root, "the state dict"));
  }
  if (c.clip.count("text_model.embeddings.token_embedding.weight")) c.clip = hf_to_openai(c.clip);
  return c;
}

namespace {

Checkpoint read_huggingface(const std::string& dir, bool verify_checksums, TensorData data) {
  const auto config_path = fs::path(dir) / "config.json";
  nlohmann::json config;
  {
    std::ifstream in(config_path);
    if (!in) throw FileError(dir, "not a model folder: config.json is missing");
    try {
      config = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw FileError(config_path.string(), std::string("invalid JSON: ") + e.what());
    }
  }
  TensorMap hf;
  if (fs::exists(fs::path(dir) / "model.safetensors")) {
    hf = load_safetensors((fs::path(dir) / "model.safetensors").string(), nullptr, data);
  } else if (fs::exists(fs::path(dir) / "pytorch_model.bin")) {
    TorchFile bin((fs::path(dir) / "pytorch_model.bin").string(), verify_checksums, data);
    hf = bin.tensors(bin.root(), "pytorch_model.bin");
  } else {
    throw FileError(dir, "model folder has neither model.safetensors nor pytorch_model.bin");
  }
  Checkpoint c{dir, CheckpointFormat::HuggingFaceFolder, {}, {}, nlohmann::json::object(), {}, {}, {}, false};
  try {
    c.clip = hf_to_openai(hf);
  } catch (const Error& e) {
    throw FileError(dir, e.what());
  }
  const auto act = config.value("text_config", nlohmann::json::object()).value("hidden_act", std::string("quick_gelu"));
  c.gelu_activation = act == "gelu";
  for (const auto& [file, target] : {std::pair{"vocab.json", &c.hf_vocab_json}, std::pair{"merges.txt", &c.hf_merges_txt}})
    if (fs::exists(fs::path(dir) / file)) *target = (fs::path(dir) / file).string();
  return c;
}

Checkpoint read_project_safetensors(const std::string& path, TensorData data) {
  Metadata metadata;
  auto tensors = load_safetensors(path, &metadata, data);
  Checkpoint c{path, CheckpointFormat::ActionClipSafetensors, {}, {}, nlohmann::json::object(), {}, {}, {}, false};
  if (metadata.count("actionclip")) {
    try {
      c.metadata = nlohmann::json::parse(metadata.at("actionclip"));
    } catch (const nlohmann::json::exception& e) {
      throw FileError(path, std::string("metadata 'actionclip' is not valid JSON: ") + e.what());
    }
  }
  if (tensors.count("text_model.embeddings.token_embedding.weight")) {
    c.format = CheckpointFormat::HuggingFaceFolder;
    try {
      c.clip = hf_to_openai(tensors);
    } catch (const FileError&) {
      throw;
    } catch (const Error& e) {
      throw FileError(path, e.what());
    }
    return c;
  }
  for (auto& [key, t] : tensors) {
    if (key.rfind("fusion.", 0) == 0)
      c.fusion.emplace(key.substr(7), std::move(t));
    else
      c.clip.emplace(key, std::move(t));
  }
  if (!c.metadata.contains("format") && c.clip.count("visual.conv1.weight")) c.format = CheckpointFormat::TorchStateDict;
  return c;
}

}  // namespace

TensorMap hf_to_openai(const TensorMap& hf) {
  auto get = [&](const std::string& key) -> const torch::Tensor& {
    auto it = hf.find(key);
    if (it == hf.end()) throw Error("missing key '" + key + "'");
    return it->second;
  };
  TensorMap out;
  auto map_encoder = [&](const std::string& hf_prefix, const std::string& openai_prefix) {
    for (int64_t layer = 0;; ++layer) {
      const auto from = hf_prefix + std::to_string(layer) + ".";
      if (!hf.count(from + "layer_norm1.weight")) break;
      const auto to = openai_prefix + std::to_string(layer) + ".";
      for (const char* part : {"weight", "bias"}) {
        const std::string p = part;
        out[to + "attn.in_proj_" + p] = torch::cat(
            {get(from + "self_attn.q_proj." + p), get(from + "self_attn.k_proj." + p), get(from + "self_attn.v_proj." + p)});
        out[to + "attn.out_proj." + p] = get(from + "self_attn.out_proj." + p);
        out[to + "ln_1." + p] = get(from + "layer_norm1." + p);
        out[to + "ln_2." + p] = get(from + "layer_norm2." + p);
        out[to + "mlp.c_fc." + p] = get(from + "mlp.fc1." + p);
        out[to + "mlp.c_proj." + p] = get(from + "mlp.fc2." + p);
      }
    }
  };
  map_encoder("vision_model.encoder.layers.", "visual.transformer.resblocks.");
  map_encoder("text_model.encoder.layers.", "transformer.resblocks.");
  out["visual.class_embedding"] = get("vision_model.embeddings.class_embedding");
  out["visual.conv1.weight"] = get("vision_model.embeddings.patch_embedding.weight");
  out["visual.positional_embedding"] = get("vision_model.embeddings.position_embedding.weight");
  for (const char* p : {"weight", "bias"}) {
    out[std::string("visual.ln_pre.") + p] = get(std::string("vision_model.pre_layrnorm.") + p);
    out[std::string("visual.ln_post.") + p] = get(std::string("vision_model.post_layernorm.") + p);
    out[std::string("ln_final.") + p] = get(std::string("text_model.final_layer_norm.") + p);
  }
  out["visual.proj"] = get("visual_projection.weight").t().contiguous();
  out["text_projection"] = get("text_projection.weight").t().contiguous();
  out["token_embedding.weight"] = get("text_model.embeddings.token_embedding.weight");
  out["positional_embedding"] = get("text_model.embeddings.position_embedding.weight");
  out["logit_scale"] = get("logit_scale").reshape({});
  return out;
}

Checkpoint read_checkpoint(const std::string& path, bool verify_checksums, TensorData data) {
  if (!fs::exists(path)) throw FileError(path, "no such file or folder");
  Checkpoint c;
  if (fs::is_directory(path)) {
    c = read_huggingface(path, verify_checksums, data);
  } else {
    if (fs::file_size(path) == 0) throw FileError(path, "file is empty");
    const auto prefix = read_prefix(path, 16);
    if (is_safetensors(prefix)) {
      c = read_project_safetensors(path, data);
    } else if (is_zip(prefix) || (!prefix.empty() && static_cast<unsigned char>(prefix[0]) == 0x80)) {
      TorchFile file(path, verify_checksums, data);
      c = read_torch_checkpoint(file);  // the zip layout, or the legacy one (a pickle from the first byte)
    } else {
      throw FileError(path, "unknown model format (expected a TorchScript/torch.save zip archive, a safetensors file "
                            "or a Hugging Face model folder)");
    }
  }
  if (data == TensorData::Read) {
    c.clip = to_float32(std::move(c.clip));
    c.fusion = to_float32(std::move(c.fusion));
  }
  return c;
}

}  // namespace actionclip::io
