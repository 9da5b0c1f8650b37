#include "common.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "actionclip/data/labels.h"
#include "actionclip/io/atomic_file.h"
#include "actionclip/io/npy.h"
#include "actionclip/model/builtin_model.h"
#include "actionclip/system/precision.h"
#include "actionclip/util/error.h"
#include "actionclip/util/notices.h"

namespace actionclip::cli {
namespace fs = std::filesystem;

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
}

void add_model_options(CLI::App* cmd, ModelArgs& args, bool video_options) {
  cmd->add_option("-m,--model", args.model,
                  "weights: OpenAI .pt archive, state dict, HF folder, ActionCLIP checkpoint or .safetensors")
      ->required();
  cmd->add_option("--bpe", args.bpe, "OpenAI tokenizer file bpe_simple_vocab_16e6.txt.gz (default: beside the model)");
  add_device_option(cmd, args.device);
  if (video_options) {
    cmd->add_option("-c,--checkpoint", args.checkpoint, "ActionCLIP training checkpoint (CLIP + visual prompt weights)");
    cmd->add_option("--prompt", args.prompt, "visual prompt: meanP, Conv_1D, LSTM, Transf, Transf_cls (default: from weights)");
    cmd->add_option("--frames", args.frames, "frames sampled per video (TSN segments)")->check(CLI::Range(1, 512));
    cmd->add_option("--image-tmpl", args.frame_template, "file names in rawframe folders")->capture_default_str();
    cmd->add_option("--index-bias", args.index_bias, "number of the first frame file in rawframe folders")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--sampling", args.sampling,
                    "test-time frames: actionclip (the reference's formula) or mmaction (mmaction2's centres)")
        ->check(CLI::IsMember({"actionclip", "mmaction"}))
        ->capture_default_str();
    cmd->add_option("--precision", args.precision,
                    "fp32; bf16 (video encoding under autocast, where the CPU or GPU has a bf16 unit); int8 (CPU: "
                    "CLIP's projections on int8 weights)")
        ->check(CLI::IsMember({"fp32", "bf16", "int8"}))
        ->capture_default_str();
  }
}

torch::Device parse_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error("unknown device '" + name + "' (use cpu or cuda)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw Error("--device " + name + ": this build or machine has no CUDA device");
  return device;
}

void allow_builtin_model(CLI::App* cmd) {
  cmd->get_option("--model")->required(false)->description(
      "weights: OpenAI .pt archive, state dict, HF folder, ActionCLIP checkpoint or .safetensors (default: the "
      "built-in model, synthetic videos only)");
}

LoadedModel load_model_from_args(const ModelArgs& args, bool need_tokenizer) {
  LoadOptions options;
  options.checkpoint = args.checkpoint;
  options.bpe_path = args.bpe;
  options.device = parse_device(args.device);
  options.load_tokenizer = need_tokenizer;
  options.verify_checksums = args.verify;
  options.int8 = decide_precision(precision_from_name(args.precision), options.device).used == Precision::Int8;
  if (!args.prompt.empty()) options.prompt = prompt_type_from_name(args.prompt);
  if (args.frames > 0) options.num_frames = args.frames;
  if (args.model.empty()) {
    notices() << builtin_model_notice() << "\n";
    return load_model(builtin_model_path(), options);
  }
  return load_model(args.model, options);
}

VideoEncoderOptions video_encoder_options(const LoadedModel& loaded, const std::string& views, int batch, int workers,
                                          const ModelArgs& args) {
  VideoEncoderOptions options;
  options.views = ViewOptions::parse(views, static_cast<int>(loaded.model->options().num_frames),
                                     static_cast<int>(loaded.model->clip->config().image_resolution));
  options.batch_size = batch;
  options.decode_threads = workers;
  options.views.frame_template = args.frame_template;
  options.views.first_frame_number = args.index_bias;
  options.views.sampling = video::sampling_from_name(args.sampling);
  options.device = parse_device(args.device);
  const auto precision = decide_precision(precision_from_name(args.precision), options.device);
  if (!precision.notice.empty()) notices() << "actionclip: " << precision.notice << "\n";
  options.bfloat16 = precision.used == Precision::BFloat16;
  return options;
}

void configure_threads(int threads) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The ranks of a data-parallel job on one machine share its cores (torchrun and --nproc set
  // LOCAL_WORLD_SIZE); -t wins.
  const char* local_ranks = std::getenv("LOCAL_WORLD_SIZE");
  const int sharing = local_ranks ? std::max(1, std::atoi(local_ranks)) : 1;
  torch::set_num_threads(threads > 0 ? threads : std::max(1, cores / sharing));
}

std::vector<std::string> resolve_labels(const std::string& inline_labels, const std::string& labels_file, bool humanize) {
  if (inline_labels.empty() == labels_file.empty()) throw Error("give exactly one of --labels and --labels-file");
  auto labels = labels_file.empty() ? data::parse_label_list(inline_labels) : data::read_label_file(labels_file);
  if (labels.empty()) throw Error("no labels given");
  if (humanize)
    for (auto& label : labels) label = data::humanize_label(label);
  return labels;
}

void print_json(const nlohmann::json& value) { std::cout << value.dump(2) << std::endl; }

nlohmann::json view_frames_json(const std::vector<ViewFrames>& views) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& view : views) {
    nlohmann::json entry = {{"frames", view.indices}};
    if (!view.seconds.empty()) entry["seconds"] = view.seconds;
    if (!view.file_numbers.empty()) entry["files"] = view.file_numbers;
    out.push_back(std::move(entry));
  }
  return out;
}

std::string scored_frames_path(const std::string& scores_path) {
  const fs::path scores(scores_path);
  return (scores.extension() == ".npy" ? fs::path(scores).replace_extension("") : scores).string() + ".frames.json";
}

void write_scored_frames(const std::string& scores_path, const std::vector<std::string>& paths,
                         const std::vector<std::vector<ViewFrames>>& frames, nlohmann::json settings) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < paths.size(); ++i) rows.push_back({{"path", paths[i]}, {"views", view_frames_json(frames[i])}});
  settings["scores"] = scores_path;
  settings["videos"] = std::move(rows);
  io::write_file_atomically(scored_frames_path(scores_path), [&](std::ostream& out) { out << settings.dump(1) << '\n'; });
}

void write_embeddings(const std::string& output, const torch::Tensor& embeddings, const std::string& names_key,
                      const std::vector<std::string>& names) {
  if (output.size() > 4 && output.substr(output.size() - 4) == ".npy") {
    io::save_npy(output, embeddings);
    return;
  }
  nlohmann::json rows = nlohmann::json::array();
  auto contiguous = embeddings.contiguous();
  for (int64_t i = 0; i < contiguous.size(0); ++i) {
    auto row = contiguous[i];
    rows.push_back(std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + row.numel()));
  }
  nlohmann::json doc = {{names_key, names}, {"embeddings", rows}};
  if (output.empty() || output == "-") {
    std::cout << doc.dump() << std::endl;
  } else {
    io::write_file_atomically(output, [&](std::ostream& out) { out << doc.dump() << '\n'; });
  }
}

std::vector<std::pair<std::string, double>> top_k(const torch::Tensor& probabilities, const std::vector<std::string>& labels,
                                                   int k) {
  const auto count = std::min<int64_t>(k, probabilities.numel());
  auto [values, indices] = probabilities.topk(count);
  std::vector<std::pair<std::string, double>> out;
  for (int64_t i = 0; i < count; ++i)
    out.emplace_back(labels[static_cast<size_t>(indices[i].item<int64_t>())], values[i].item<double>());
  return out;
}

namespace {

const std::set<std::string> kVideoExtensions = {".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg",
                                                ".mpeg", ".flv", ".wmv", ".3gp", ".ts", ".ogv"};

bool is_rawframe_folder(const fs::path& dir, const ModelArgs& args) {
  return fs::exists(video::RawFrameFolder(dir.string(), args.frame_template, args.index_bias).frame_path(0));
}

std::string lowercase_extension(const fs::path& p) {
  auto ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

std::vector<std::string> expand_video_inputs(const std::vector<std::string>& inputs, const ModelArgs& args) {
  std::vector<std::string> paths;
  for (const auto& input : inputs) {
    const fs::path p(input);
    if (fs::is_directory(p) && !is_rawframe_folder(p, args)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(p)) {
        if (entry.is_directory() && is_rawframe_folder(entry.path(), args)) found.push_back(entry.path().string());
        else if (entry.is_regular_file() && kVideoExtensions.count(lowercase_extension(entry.path())))
          found.push_back(entry.path().string());
      }
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (lowercase_extension(p) == ".txt" && fs::is_regular_file(p)) {
      std::ifstream in(p);
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string path;
        if (!(fields >> path)) continue;
        paths.push_back(fs::path(path).is_absolute() ? path : (p.parent_path() / path).string());
      }
    } else {
      paths.push_back(input);  // missing paths are reported by the decoder, with the others still run
    }
  }
  return paths;
}

}  // namespace actionclip::cli
