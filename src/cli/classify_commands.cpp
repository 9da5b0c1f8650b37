// actionclip zero-shot-image / classify
#include <iomanip>
#include <iostream>

#include "actionclip/dist/sharded_encode.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/inference/video_encoder.h"
#include "actionclip/util/error.h"
#include "commands.h"
#include "distributed.h"

namespace actionclip::cli {

torch::Tensor embed_images(LoadedModel& loaded, const std::vector<std::string>& paths, torch::Device device);

namespace {

struct LabelArgs {
  std::string labels, labels_file, templates;  // empty: the model's (model_templates)
  bool humanize = false;
  bool no_cache = false;
  double scale = 100.0;
};

void add_label_options(CLI::App* cmd, LabelArgs& args) {
  cmd->add_option("-l,--labels", args.labels, "comma-separated label names");
  cmd->add_option("--labels-file", args.labels_file, "labels: reference id,name CSV, one per line, or classInd.txt");
  cmd->add_option("--templates", args.templates,
                  "textual prompts: default, actionclip, none, or a file (one per line, {} = label); default: the "
                  "model's (stored with it, else actionclip for ActionCLIP checkpoints, else default)");
  cmd->add_flag("--humanize", args.humanize, "turn dataset names into words (ApplyEyeMakeup -> apply eye makeup)");
  cmd->add_flag("--no-cache", args.no_cache, "do not read or write the text embedding cache");
  cmd->add_option("--logit-scale", args.scale, "softmax temperature (the reference tests with 100)")->capture_default_str();
}

LabelEmbeddings embed_labels(LoadedModel& loaded, const ModelArgs& model_args, const LabelArgs& args) {
  std::vector<std::string> labels;
  if (args.labels.empty() && args.labels_file.empty() && loaded.metadata.contains("labels"))
    labels = loaded.metadata.at("labels").get<std::vector<std::string>>();  // stored by `convert --labels`
  else
    labels = resolve_labels(args.labels, args.labels_file, args.humanize);
  const TemplateSet templates = args.templates.empty() ? loaded.templates : resolve_templates(args.templates);
  TextEmbedderOptions options;
  if (!args.no_cache) {
    options.cache_dir = default_cache_dir();
    options.model_identity = file_identity(loaded.path) + "|" + file_identity(model_args.checkpoint);
  }
  TextEmbedder embedder(loaded.model, loaded.tokenizer, options);
  return embedder.embed_labels(labels, templates);
}

nlohmann::json predictions_json(const std::vector<std::pair<std::string, double>>& top) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [label, p] : top) out.push_back({{"label", label}, {"probability", p}});
  return out;
}

void print_predictions(const std::string& path, const nlohmann::json& predictions) {
  std::cout << path << "\n";
  for (const auto& p : predictions)
    std::cout << "  " << std::fixed << std::setprecision(4) << p["probability"].get<double>() << "  "
              << p["label"].get<std::string>() << "\n";
}

}  // namespace

void add_classify_commands(CLI::App& app, Action& action) {
  {
    auto* cmd = app.add_subcommand("zero-shot-image", "Zero-shot classification of still images with any labels");
    auto args = std::make_shared<ModelArgs>();
    auto label_args = std::make_shared<LabelArgs>();
    auto images = std::make_shared<std::vector<std::string>>();
    auto k = std::make_shared<int>(5);
    auto json = std::make_shared<bool>(false);
    add_model_options(cmd, *args, false);
    allow_builtin_model(cmd);
    add_label_options(cmd, *label_args);
    cmd->add_option("image", *images, "image files")->required();
    cmd->add_option("-k,--top-k", *k, "labels to show per image (0: all)")->capture_default_str();
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->callback([&action, args, label_args, images, k, json] {
      action = [args, label_args, images, k, json] {
        auto loaded = load_model_from_args(*args);
        auto labels = embed_labels(loaded, *args, *label_args);
        auto probabilities = label_probabilities(embed_images(loaded, *images, parse_device(args->device)), labels,
                                                 label_args->scale);
        const int shown = *k > 0 ? *k : static_cast<int>(labels.labels.size());
        nlohmann::json out = nlohmann::json::array();
        for (size_t i = 0; i < images->size(); ++i) {
          const auto predictions = predictions_json(top_k(probabilities[static_cast<int64_t>(i)], labels.labels, shown));
          if (*json) out.push_back({{"path", (*images)[i]}, {"predictions", predictions}});
          else print_predictions((*images)[i], predictions);
        }
        if (*json) print_json(out);
        return 0;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("classify", "Classify videos with any label list (ActionCLIP zero-shot or fine-tuned)");
    auto args = std::make_shared<ModelArgs>();
    auto label_args = std::make_shared<LabelArgs>();
    auto inputs = std::make_shared<std::vector<std::string>>();
    auto views = std::make_shared<std::string>("1x1");
    auto k = std::make_shared<int>(5);
    auto batch = std::make_shared<int>(8);
    auto workers = std::make_shared<int>(2);
    auto json = std::make_shared<bool>(false);
    auto quiet = std::make_shared<bool>(false);
    auto dist_args = std::make_shared<DistArgs>();
    add_model_options(cmd, *args, true);
    allow_builtin_model(cmd);
    add_label_options(cmd, *label_args);
    cmd->add_option("videos", *inputs, "video files, rawframe folders, folders of videos, or .txt lists")->required();
    cmd->add_option("--views", *views, "CROPSxCLIPS: 1x1 single view, 3x10 = 3 crops x 10 clips")->capture_default_str();
    cmd->add_option("-k,--top-k", *k, "labels to show per video")->capture_default_str();
    cmd->add_option("--batch-size", *batch, "videos per model call")->capture_default_str();
    cmd->add_option("--workers", *workers, "decoding threads")->capture_default_str();
    cmd->add_flag("--json", *json, "machine-readable output (one JSON document)");
    cmd->add_flag("-q,--quiet", *quiet, "no progress bar");
    add_dist_options(cmd, *dist_args);
    cmd->callback([&action, args, label_args, inputs, views, k, batch, workers, json, quiet, dist_args] {
      action = [args, label_args, inputs, views, k, batch, workers, json, quiet, dist_args] {
        return run_as_rank(*dist_args, args->device, [=](std::shared_ptr<dist::ProcessGroup> group) {
          auto model_args = *args;
          model_args.device = rank_device(args->device);
          auto loaded = load_model_from_args(model_args);
          auto labels = embed_labels(loaded, model_args, *label_args);
          auto paths = expand_video_inputs(*inputs, model_args);
          if (paths.empty()) throw Error("no videos found in the given inputs");

          const auto options = video_encoder_options(loaded, *views, *batch, *workers, model_args);
          VideoEncoder encoder(loaded.model, options);

          nlohmann::json results = nlohmann::json::array();
          Progress progress("classify", static_cast<int64_t>(paths.size()), !*quiet);
          auto summarize = [&](EncodedVideo& video) -> nlohmann::json {
            if (!video.error.empty()) return {{"path", video.path}, {"error", video.error}};
            auto probabilities = video_label_probabilities(video.view_features, labels, label_args->scale);
            return {{"path", video.path},
                    {"predictions", predictions_json(top_k(probabilities, labels.labels, *k))},
                    {"views", view_frames_json(video.view_frames)}};
          };
          auto report = [&](const nlohmann::json& result) {
            if (result.contains("error"))
              std::cerr << (std::string(*quiet ? "" : "\r\033[K")) << "actionclip: failed: "
                        << result["error"].get<std::string>() << "\n";
            else if (!*json)
              print_predictions(result["path"].get<std::string>(), result["predictions"]);
            results.push_back(result);
          };
          auto stats = dist::encode_in_order(group.get(), encoder, paths, static_cast<size_t>(options.batch_size),
                                             summarize, report, &progress);
          progress.finish(std::to_string(stats.failed) + " failed");
          const int status = stats.failed > 0 ? 2 : 0;
          if (group && !group->is_main()) return status;  // rank 0 prints
          if (*json)
            print_json({{"model", args->model}, {"views", *views}, {"sampling", args->sampling}, {"results", results},
                        {"videos", stats.videos}, {"failed", stats.failed}, {"seconds", stats.seconds}});
          return status;
        });
      };
    });
  }
}

}  // namespace actionclip::cli
