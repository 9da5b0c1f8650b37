#pragma once
// Options and helpers shared by the commands. The CLI stays a thin layer: every command
// parses flags, calls the library, and prints.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actionclip/inference/video_encoder.h"
#include "actionclip/model/model_io.h"
#include "actionclip/video/frame_source.h"

namespace actionclip::cli {

// A command's work, chosen by the parser and run after parsing; returns the exit code.
using Action = std::function<int()>;

struct ModelArgs {
  std::string model;
  std::string checkpoint;
  std::string bpe;
  std::string prompt;
  std::string device = "cpu";
  int frames = 0;  // 0: from the weights or 8
  std::string frame_template = video::kDefaultFrameTemplate;  // rawframe folders' file names
  int64_t index_bias = video::kDefaultFirstFrameNumber;       // rawframe folders' first file number
  std::string sampling = "actionclip";                         // test-time frame formula (or mmaction)
  std::string precision = "fp32";                  // or "bf16" for video encoding
  bool verify = false;                             // check tensor data against the CRC-32s
};

struct RuntimeArgs {
  int threads = 0;  // 0: all cores
};

void add_model_options(CLI::App* cmd, ModelArgs& args, bool video_options);
void add_device_option(CLI::App* cmd, std::string& device);
torch::Device parse_device(const std::string& name);
// Makes add_model_options' --model optional: without it, load_model_from_args loads the built-in
// model (builtin_model.h) and says so on stderr.
void allow_builtin_model(CLI::App* cmd);
LoadedModel load_model_from_args(const ModelArgs& args, bool need_tokenizer = true);

// Video encoding options for LOADED: --views "CROPSxCLIPS" at the model's frames and resolution,
// --batch-size, --workers (decoding threads), and --device, --image-tmpl, --index-bias, --sampling
// and --precision from ARGS.
VideoEncoderOptions video_encoder_options(const LoadedModel& loaded, const std::string& views, int batch, int workers,
                                          const ModelArgs& args);

// libtorch's intra-op threads: OpenMP starts with one thread on these machines.
void configure_threads(int threads);

// Labels from --labels "a,b,c" or --labels-file FILE (reference CSV, one per line, classInd).
std::vector<std::string> resolve_labels(const std::string& inline_labels, const std::string& labels_file, bool humanize);

// Writes [N, D] embeddings as .npy, or JSON ({"texts"/"paths": ..., "embeddings": [[...]]})
// to a .json path or stdout ("-").
void write_embeddings(const std::string& output, const torch::Tensor& embeddings, const std::string& names_key,
                      const std::vector<std::string>& names);

std::vector<std::pair<std::string, double>> top_k(const torch::Tensor& probabilities, const std::vector<std::string>& labels,
                                                   int k);

void print_json(const nlohmann::json& value);

// What each view of a video read: [{"frames": [...], "seconds": [...]}] for video files, with
// "files" (the numbers in the frame files' names) instead of "seconds" for frame folders.
nlohmann::json view_frames_json(const std::vector<ViewFrames>& views);

// Beside a score matrix written to SCORES_PATH (out.npy -> out.frames.json): for each row, the
// video and the frames of its views, with SETTINGS (views, sampling) at the top.
std::string scored_frames_path(const std::string& scores_path);
void write_scored_frames(const std::string& scores_path, const std::vector<std::string>& paths,
                         const std::vector<std::vector<ViewFrames>>& frames, nlohmann::json settings);

// Expands video arguments: files as given, folders recursively to their video files (or as
// one rawframe folder when they hold the first frame file ARGS names, img_00001.jpg by default),
// and .txt lists (one path per line, an optional trailing label ignored).
std::vector<std::string> expand_video_inputs(const std::vector<std::string>& inputs, const ModelArgs& args);

}  // namespace actionclip::cli
