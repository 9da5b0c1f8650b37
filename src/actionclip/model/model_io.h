#pragma once
// One entry point from any weight file to a ready ActionClipModel, and the project's own
// format (safetensors + JSON metadata) back out.
#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actionclip/clip/int8_quantization.h"
#include "actionclip/clip/tokenizer.h"
#include "actionclip/io/checkpoint.h"
#include "actionclip/model/actionclip_model.h"
#include "actionclip/model/text_prompts.h"

namespace actionclip {

struct LoadOptions {
  // An ActionCLIP training checkpoint whose weights (CLIP and visual prompt) replace the
  // model file's, as the reference's `pretrain` option does.
  std::string checkpoint;
  std::optional<PromptType> prompt;  // default: from the weights (meanP for plain CLIP)
  std::optional<int64_t> num_frames; // default: from the metadata or 8
  std::string bpe_path;              // OpenAI merges file; default: searched (see find_bpe_file)
  bool load_tokenizer = true;
  torch::Device device = torch::kCPU;
  bool verify_checksums = false;  // also check tensor data against the archive's CRC-32s
  // CLIP's projections on int8 weights (quantize_for_inference), CPU only: the image encoder's,
  // or both encoders'. Files written by `convert --precision int8` load as the file says.
  bool int8 = false;
  Int8Encoders int8_encoders = Int8Encoders::Image;
};

struct LoadedModel {
  ActionClipModel model{nullptr};
  std::shared_ptr<const Tokenizer> tokenizer;
  io::CheckpointFormat format;
  std::string path;
  nlohmann::json metadata;  // labels, templates, ... when the file carries them
  std::vector<std::string> unused_keys;
  TemplateSet templates;    // the textual prompts to use when none are named (model_templates)
};

// PATH: a weights file or folder, or a released CLIP model's name (resolve_model_name). The
// tokenizer is the one the file carries (compact_vocabulary's, a Hugging Face folder's), else
// OpenAI's merges file (find_bpe_file).
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

// The one rule for the textual prompts of a model when a command names none: the templates stored
// in its file's metadata, else the reference's 16 for weights trained by ActionCLIP (its
// checkpoints learnt with them), else this project's default set.
TemplateSet model_templates(const nlohmann::json& metadata, bool actionclip_weights);

// Copies `tensors` into the module's parameters and buffers by name. A missing key or a
// shape mismatch is a FileError naming `path` and the key; returns keys the module lacks.
std::vector<std::string> assign_state(torch::nn::Module& module, const io::TensorMap& tensors, const std::string& path,
                                      const std::string& what);

// Joint's temporal embedding is [T, width], as the reference's; files written before held
// [1, T, width]: reshaped in place.
void normalize_time_embedding(io::TensorMap& clip_state);

// Writes the project format: CLIP under OpenAI names, the visual prompt under "fusion.",
// architecture and `extra_metadata` (labels, templates...) as JSON in the header. Floating-point
// tensors are stored as `storage` (float16 halves the file; loading reads them back as float32).
// A quantized model's projections are stored as int8 with their scales (add_int8_weights).
void save_model(const std::string& path, ActionClipModel& model, const nlohmann::json& extra_metadata = {},
                torch::Dtype storage = torch::kFloat32);

// The OpenAI BPE merges file: `explicit_path`, else $ACTIONCLIP_BPE, else
// bpe_simple_vocab_16e6.txt.gz beside the model, else in the installed data folder.
std::string find_bpe_file(const std::string& explicit_path, const std::string& model_path);

}  // namespace actionclip
