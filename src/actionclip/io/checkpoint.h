#pragma once
// Reads every weight format users hold into one canonical form: CLIP tensors under OpenAI's
// names (float32) and visual-prompt tensors under the reference's fusion-model names.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "actionclip/io/safetensors.h"

namespace actionclip::io {

enum class CheckpointFormat {
  OpenAiTorchScript,     // OpenAI's released ViT-B-32.pt / ViT-B-16.pt archives
  TorchStateDict,        // a torch.save()d state dict with OpenAI names
  HuggingFaceFolder,     // config.json + model.safetensors or pytorch_model.bin
  ActionClipCheckpoint,  // the reference's training checkpoints (model_state_dict + fusion_model_state_dict)
  ActionClipSafetensors, // this project's own format: safetensors + JSON metadata
};

std::string format_name(CheckpointFormat format);

struct Checkpoint {
  std::string path;
  CheckpointFormat format;
  TensorMap clip;           // OpenAI names, float32 (as stored when read Mapped)
  TensorMap fusion;         // visual prompt, without the DataParallel "module." prefix
  nlohmann::json metadata;  // this project's metadata ({} for other formats)
  std::optional<int64_t> epoch;
  // Tokenizer files that travel with the weights (HF folders), empty otherwise.
  std::string hf_vocab_json, hf_merges_txt;
  bool gelu_activation = false;  // HF configs may name plain GELU instead of QuickGELU
};

// Detects the format of `path` (file or folder) and reads it. Every failure is a FileError
// naming the path and the problem (missing key, unknown format, truncated or corrupt file).
// With `verify_checksums`, tensor data is also checked against the zip CRC-32s (torch.load does
// not; a load then reads the weights once more through the checksum). With `data` Mapped, the
// tensors the file holds as they are stay in the file until touched and keep the dtype they
// are stored in (float16 too), for a caller that copies each into a model's parameter
// (assign_state): the weights are then in memory once, not twice.
Checkpoint read_checkpoint(const std::string& path, bool verify_checksums = false, TensorData data = TensorData::Read);

class TorchFile;
// The weights of a torch.save file or TorchScript archive already opened (what
// read_checkpoint does for such files; the source may be bytes in memory).
Checkpoint read_torch_checkpoint(TorchFile& file);

// Maps Hugging Face CLIPModel parameter names to OpenAI's (separate q/k/v are fused).
TensorMap hf_to_openai(const TensorMap& hf);

}  // namespace actionclip::io
