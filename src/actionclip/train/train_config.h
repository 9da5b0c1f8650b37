#pragma once
// Training configuration: the reference's YAML sections and keys (data, network, solver,
// logging), so an existing ActionCLIP config runs, plus this project's additions (marked
// "addition" and documented in the README).
#include <cstdint>
#include <string>
#include <vector>

#include "actionclip/data/augment.h"
#include "actionclip/video/frame_source.h"
#include "actionclip/video/sampling.h"

namespace actionclip {

struct DataConfig {
  std::string dataset;
  int num_segments = 8;
  int batch_size = 32;
  int workers = 2;
  int num_classes = 0;  // 0: from the label list
  std::string image_tmpl = video::kDefaultFrameTemplate;
  std::string train_list, val_list, label_list;
  int input_size = 0;  // frames are cropped to this size (0: the model's resolution)
  bool random_shift = true;  // training frames at random within segments (false: centres)
  int64_t index_bias = video::kDefaultFirstFrameNumber;  // number of the first frame file (rawframes)
  video::Sampling sampling = video::Sampling::kActionclip;  // addition: test-time frame formula
  data::TrainAugmentConfig augment;  // randaug.N/M, flip, gray_scale, color_jitter, scales (addition)
  // additions
  std::string root;            // relative list paths resolve here (default: the list's folder)
  std::string list_format = "auto";  // auto, video, rawframes, kinetics, ucf101, hmdb51
  int split = 1;               // reference key: the HMDB-51 split of the hmdb51 list format
  std::string templates = "actionclip";  // textual prompts: built-in set name or file
  bool humanize_labels = false;
  int shots = 0;               // few-shot: K training videos per class (0: all)
  uint64_t shots_seed = 0;
};

struct NetworkConfig {
  std::string arch = "ViT-B/32";  // a released CLIP model's name (found in the model cache), or a shape name
  std::string pretrained;      // addition: path of the CLIP weights (any supported format)
  std::string bpe;             // addition: OpenAI tokenizer file, when not beside the weights
  bool init = true;            // false: only the image encoder from the weights, the text encoder random
  bool tsm = false;            // in-network Shift prompt
  bool joint = false;          // pre-network Joint prompt
  std::string sim_header = "Transf";
  double emb_dropout = 0.0;    // dropout on the token embeddings of both encoders (training)
  double drop_out = 0.0;       // stochastic depth and attention dropout, rising to this over the blocks
  bool fix_text = false;       // the text encoder gets no gradient (logit scale still trains)
  // additions
  bool freeze_text = false, freeze_visual = false;
  bool random_init_text = false, random_init_visual = false;
  bool reference_conv1d = true;
  bool freeze_bn = false;      // ResNet batch norm in eval mode (fixed running statistics) while training
  std::string baseline;        // "unimodal": linear classifier + cross-entropy instead of text matching
  bool sync_bn = false;        // distributed: batch-norm statistics over the global batch (SyncBatchNorm)
};

struct SolverConfig {
  std::string type = "cosine";  // or multistep
  int epochs = 50;
  int start_epoch = 0;          // the first epoch trained (and the schedule's position there)
  std::string optim = "adamw";  // adamw, adam or sgd
  double lr = 5e-6;
  double lr_warmup_step = 5;
  double weight_decay = 0.2;
  double momentum = 0.9;  // sgd
  // multistep: decay by lr_decay_factor every lr_decay_step epochs, or at the listed epochs
  int lr_decay_step = 0;
  std::vector<double> lr_decay_milestones;
  double lr_decay_factor = 0.1;
  double ratio = 1;     // vision encoder lr = lr * ratio
  double f_ratio = 10;  // new modules (visual prompt, classifier) lr = lr * f_ratio
  double clip_gradient = 0;  // max global gradient norm; 0 disables
  // additions
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-8;
  int grad_accumulation = 1;
  std::string precision = "fp32";  // fp32 or bf16 (autocast)
  bool evaluate = false;           // reference key: only evaluate
  bool local_loss = false;         // distributed: each rank's rows against the global batch (open_clip's)
};

struct LoggingConfig {
  int print_freq = 10;
  int eval_freq = 1;
  // additions
  std::string output_dir = "runs/actionclip";
  std::string metrics_format = "jsonl";  // jsonl or csv
  int checkpoint_every_steps = 0;        // also checkpoint inside epochs
};

struct TrainConfig {
  uint64_t seed = 1024;
  std::string pretrain;  // reference key: an ActionCLIP checkpoint to start from
  std::string resume;    // reference key: a trainer checkpoint to continue
  std::string device = "cpu";
  DataConfig data;
  NetworkConfig network;
  SolverConfig solver;
  LoggingConfig logging;
  std::string source_text;  // the YAML as read, stored in checkpoints
  std::string source;       // where it was read from, for messages
  // One line per key that is accepted but changes nothing here, or acts otherwise than in the
  // reference's code, saying why; whoever runs the config prints them once.
  std::vector<std::string> notices;

  // Reads YAML; unknown keys are reported (FileError) so typos do not pass silently. A file
  // without a train_list (the reference's test and zero-shot files) parses: training checks.
  // Relative paths in the file are taken relative to the file's folder. `default_pretrained`
  // stands for network.pretrained when the file names no weights (eval's few-shot protocol
  // fine-tunes the model it was given).
  static TrainConfig load(const std::string& path, const std::string& default_pretrained = "");
  static TrainConfig parse(const std::string& yaml_text, const std::string& base_dir, const std::string& source_name,
                           const std::string& default_pretrained = "");
};

}  // namespace actionclip
