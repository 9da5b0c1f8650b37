#pragma once
// The model a training or test config describes, built as the reference's train.py and test.py
// build theirs: CLIP from network.pretrained or from the released model network.arch names (with
// network.init false, only its image encoder), the ActionCLIP checkpoint `pretrain` over that,
// and the dropout of network.drop_out and network.emb_dropout for training.
#include "actionclip/model/model_io.h"
#include "actionclip/train/train_config.h"

namespace actionclip {

PromptType prompt_of(const NetworkConfig& network);

// Weights in the precedence above; without any (network.init false and no released weights, or
// a shape name such as `tiny`), random weights of network.arch's shape, with a notice when
// weights could have been loaded. The model is on the CPU, in training mode.
LoadedModel load_configured_model(const TrainConfig& config);

// data.input_size, or the model's resolution when the config names none.
int configured_input_size(const TrainConfig& config, const ClipConfig& model);

}  // namespace actionclip
