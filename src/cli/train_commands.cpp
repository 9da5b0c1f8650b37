// actionclip train / eval
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "actionclip/eval/metrics.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/io/npy.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/error.h"
#include "commands.h"

namespace actionclip::cli {
namespace {

nlohmann::json evaluation_json(const Evaluation& e) {
  nlohmann::json out = {{"videos", e.videos()}, {"failed", e.failures.size()}, {"seconds", e.seconds}};
  if (e.multi_label) out["mAP"] = e.mean_ap;
  else out["top1"] = e.top1, out["top5"] = e.top5, out["mean_class_accuracy"] = e.mean_class_accuracy;
  if (!e.failures.empty()) out["failures"] = e.failures;
  return out;
}

void print_evaluation(const Evaluation& e) {
  std::cout << std::fixed << std::setprecision(2);
  if (e.multi_label) std::cout << "mAP            " << 100 * e.mean_ap << "\n";
  else
    std::cout << "top-1          " << 100 * e.top1 << "\n"
              << "top-5          " << 100 * e.top5 << "\n"
              << "mean class acc " << 100 * e.mean_class_accuracy << "\n";
  std::cout << "videos         " << e.videos() << " (" << e.failures.size() << " failed)\n";
}

struct TrainArgs {
  std::string config, resume, output, device;
  int epochs = 0, shots = 0;
  uint64_t shots_seed = 0;
  bool quiet = false, json = false;
};

TrainConfig config_from(const TrainArgs& a, const std::string& default_pretrained = "") {
  auto config = TrainConfig::load(a.config, default_pretrained);
  if (!a.output.empty()) config.logging.output_dir = a.output;
  if (!a.device.empty()) config.device = a.device;
  if (a.epochs > 0) config.solver.epochs = a.epochs;
  if (a.shots > 0) config.data.shots = a.shots, config.data.shots_seed = a.shots_seed;
  parse_device(config.device);
  return config;
}

void add_train_options(CLI::App* cmd, TrainArgs& a) {
  cmd->add_option("--config", a.config, "YAML config (the reference's data/network/solver/logging sections)")->required();
  cmd->add_option("--output", a.output, "output folder (overrides logging.output_dir)");
  cmd->add_option("--device", a.device, "cpu or cuda (overrides the config)");
  cmd->add_option("--epochs", a.epochs, "override solver.epochs");
  cmd->add_option("--shots", a.shots, "few-shot: K training videos per class");
  cmd->add_option("--shots-seed", a.shots_seed, "seed of the few-shot draw");
  cmd->add_flag("-q,--quiet", a.quiet, "no progress output");
  cmd->add_flag("--json", a.json, "print the summary as JSON");
}

}  // namespace

void add_train_commands(CLI::App& app, Action& action) {
  {
    auto* cmd = app.add_subcommand("train", "Fine-tune ActionCLIP (or train the unimodal baseline) from a YAML config");
    auto a = std::make_shared<TrainArgs>();
    add_train_options(cmd, *a);
    cmd->add_option("--resume", a->resume, "continue from a trainer checkpoint (last.pt)");
    cmd->callback([&action, a] {
      action = [a] {
        Trainer trainer(config_from(*a));
        TrainRunOptions run;
        run.resume = a->resume;
        run.progress = !a->quiet;
        auto summary = trainer.run(run);
        nlohmann::json out = {{"epochs", summary.epochs_completed}, {"optimizer_steps", summary.optimizer_steps},
                              {"last_loss", summary.last_loss},      {"best", summary.best_top1},
                              {"skipped_items", summary.skipped_items}, {"checkpoint", summary.last_checkpoint},
                              {"best_model", summary.best_model}};
        if (summary.last_evaluation.videos()) out["validation"] = evaluation_json(summary.last_evaluation);
        if (a->json) print_json(out);
        else std::cout << "trained " << summary.epochs_completed << " epochs; best model " << summary.best_model << "\n";
        return 0;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("eval", "Evaluate a model on a labelled video list: top-1/5, mean class accuracy, mAP");
    auto args = std::make_shared<ModelArgs>();
    auto list = std::make_shared<std::string>();
    auto data = std::make_shared<DataConfig>();
    auto labels = std::make_shared<std::string>();
    auto labels_file = std::make_shared<std::string>();
    auto views = std::make_shared<std::string>("1x1");
    auto confusion = std::make_shared<std::string>();
    auto scores_out = std::make_shared<std::string>();
    auto batch = std::make_shared<int>(8);
    auto workers = std::make_shared<int>(2);
    auto scale = std::make_shared<double>(100.0);
    auto json = std::make_shared<bool>(false);
    auto quiet = std::make_shared<bool>(false);
    auto few_shot = std::make_shared<TrainArgs>();
    add_model_options(cmd, *args, true);
    cmd->add_option("--list", *list, "labelled list: video list, rawframe list, Kinetics CSV, UCF/HMDB split")->required();
    cmd->add_option("--list-format", data->list_format, "auto, video, rawframes, kinetics, ucf101, hmdb51")->capture_default_str();
    cmd->add_option("--root", data->root, "folder that relative list paths start from");
    cmd->add_option("--split", data->split, "HMDB-51 split number")->capture_default_str();
    cmd->add_option("-l,--labels", *labels, "comma-separated label names, in id order");
    cmd->add_option("--labels-file", *labels_file, "label file (reference CSV, one per line, classInd)");
    cmd->add_flag("--humanize", data->humanize_labels, "turn dataset names into words");
    cmd->add_option("--templates", data->templates, "textual prompts: default, actionclip, none, or a file")->capture_default_str();
    cmd->add_option("--views", *views, "CROPSxCLIPS test views (the paper's best: 3x10)")->capture_default_str();
    cmd->add_option("--confusion", *confusion, "write the confusion matrix as CSV");
    cmd->add_option("--scores", *scores_out, "write the score matrix [videos, classes] as .npy (and the frames read, as .frames.json)");
    cmd->add_option("--batch-size", *batch, "videos per model call")->capture_default_str();
    cmd->add_option("--workers", *workers, "decoding threads")->capture_default_str();
    cmd->add_option("--logit-scale", *scale, "softmax temperature")->capture_default_str();
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->add_flag("-q,--quiet", *quiet, "no progress bar");
    cmd->add_option("--shots", few_shot->shots, "few-shot protocol: fine-tune on K videos per class first (needs --config)");
    cmd->add_option("--seed", few_shot->shots_seed, "seed of the few-shot draw")->capture_default_str();
    cmd->add_option("--config", few_shot->config, "training config for the few-shot protocol");
    cmd->callback([&action, args, list, data, labels, labels_file, views, confusion, scores_out, batch, workers, scale,
                   json, quiet, few_shot] {
      action = [=] {
        std::vector<std::string> class_names = resolve_labels(*labels, *labels_file, data->humanize_labels);
        LoadedModel loaded;
        if (few_shot->shots > 0) {
          if (few_shot->config.empty()) throw Error("--shots needs --config (the fine-tuning recipe)");
          auto config = config_from(*few_shot, args->model);
          if (config.network.bpe.empty()) config.network.bpe = args->bpe;
          std::cerr << "few-shot: fine-tuning on " << few_shot->shots << " videos per class (seed "
                    << few_shot->shots_seed << ")\n";
          Trainer trainer(config);
          TrainRunOptions run;
          run.progress = !*quiet;
          trainer.run(run);
          loaded.model = trainer.model();
          loaded.tokenizer = trainer.tokenizer();
        } else {
          loaded = load_model_from_args(*args);
        }
        const auto records = read_annotations(*list, *data, class_names, false);
        for (const auto& p : records.problems) std::cerr << "actionclip: skipped " << p << "\n";
        if (records.records.empty()) throw FileError(*list, "no usable videos");

        const auto options = video_encoder_options(loaded, *views, *batch, *workers, *args);
        loaded.model->eval();
        VideoEncoder encoder(loaded.model, options);
        TextEmbedder embedder(loaded.model, loaded.tokenizer);
        auto label_embeddings = embedder.embed_labels(class_names, resolve_templates(data->templates));
        const double s = *scale;
        Progress progress("eval", static_cast<int64_t>(records.records.size()), !*quiet);
        auto result = evaluate(encoder, [&](const torch::Tensor& v) { return video_label_probabilities(v, label_embeddings, s); },
                               records.records, static_cast<int64_t>(class_names.size()), &progress);
        progress.finish();
        for (const auto& f : result.failures) std::cerr << "actionclip: failed: " << f << "\n";
        if (!confusion->empty() && result.videos() && !result.multi_label)
          write_confusion_csv(*confusion, confusion_matrix(result.scores, result.labels, static_cast<int64_t>(class_names.size())),
                              class_names);
        if (!scores_out->empty() && result.videos()) {
          io::save_npy(*scores_out, result.scores);
          write_scored_frames(*scores_out, result.paths, result.frames, {{"views", *views}, {"sampling", args->sampling}});
        }
        auto out = evaluation_json(result);
        out["skipped_list_entries"] = records.skipped;
        if (*json) print_json(out);
        else print_evaluation(result);
        return result.failures.empty() ? 0 : 2;
      };
    });
  }
}

}  // namespace actionclip::cli
