#pragma once
// The model that ships with actionclip, so that it runs with no download: a tiny ActionCLIP
// trained from scratch (scripts/train_builtin_model.sh) on the project's synthetic videos,
// coloured shapes moving, labelled in words. It knows only that world; real videos need a CLIP
// (--model ViT-B/32). It carries its labels, templates and tokenizer, and under "builtin" in its
// metadata what it was trained on: {"trained_on": "...", "held_out": [labels never trained on]}.
#include <string>
#include <vector>

namespace actionclip {

inline constexpr const char* kBuiltinModelFile = "actionclip-synth.safetensors";

// The built-in model's file: in the installed data folder (share/actionclip beside the library,
// then the configured prefix's), else this source tree's models/builtin. Throws Error naming
// every place looked in when it is in none.
std::string builtin_model_path();

// The line commands print on stderr when they use the built-in model instead of a --model.
std::string builtin_model_notice();

}  // namespace actionclip
