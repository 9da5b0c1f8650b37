// actionclip train / eval
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <set>

#include "actionclip/clip/int8_quantization.h"
#include "actionclip/dist/sharded_eval.h"
#include "actionclip/eval/metrics.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/io/npy.h"
#include "actionclip/data/labels.h"
#include "actionclip/system/precision.h"
#include "actionclip/train/configured_model.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/error.h"
#include "actionclip/util/notices.h"
#include "commands.h"
#include "distributed.h"

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
  DistArgs dist;
};

TrainConfig config_from(const TrainArgs& a, const std::string& default_pretrained = "") {
  auto config = TrainConfig::load(a.config, default_pretrained);
  if (!a.output.empty()) config.logging.output_dir = a.output;
  if (!a.device.empty()) config.device = a.device;
  if (a.epochs > 0) config.solver.epochs = a.epochs;
  if (a.shots > 0) config.data.shots = a.shots, config.data.shots_seed = a.shots_seed;
  const auto precision = decide_precision(precision_from_name(config.solver.precision), parse_device(config.device));
  if (!precision.notice.empty()) config.notices.push_back(config.source + ": solver.precision: " + precision.notice);
  config.solver.precision = precision_name(precision.used);
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
  add_dist_options(cmd, a.dist);
}

struct EvalArgs {
  ModelArgs model;
  std::string list, labels, labels_file, templates, views = "1x1", confusion, scores;
  DataConfig data;  // list reading (format, root, split, humanize) when no config gives it
  int batch = 8, workers = 2;
  double scale = 100.0;
  bool json = false, quiet = false;
  TrainArgs few_shot;          // --config, --shots, --seed
  std::set<std::string> given;  // options set on the command line, which win over the config
};

// The model to evaluate, with the unimodal baseline's classifier when the few-shot protocol trained one.
struct EvalModel {
  LoadedModel loaded;
  ViewScorer classifier;
};

EvalModel eval_model(const EvalArgs& a, std::optional<TrainConfig>& config, std::shared_ptr<dist::ProcessGroup> group) {
  EvalModel out;
  if (!config) {
    auto model_args = a.model;
    model_args.device = rank_device(model_args.device);  // cuda:LOCAL_RANK, where the rank encodes
    out.loaded = load_model_from_args(model_args);
    return out;
  }
  if (config->network.bpe.empty()) config->network.bpe = a.model.bpe;
  if (a.few_shot.shots <= 0) {
    if (config->network.baseline == "unimodal")
      throw FileError(config->source, "network.baseline unimodal: its classifier is trained only by --shots");
    for (const auto& line : config->notices) notices() << "actionclip: " << line << "\n";
    out.loaded = load_configured_model(*config);
    out.loaded.templates = resolve_templates(config->data.templates);
    out.loaded.model->to(parse_device(rank_device(config->device)));
    return out;
  }
  notices() << "few-shot: fine-tuning on " << a.few_shot.shots << " videos per class (seed " << a.few_shot.shots_seed << ")\n";
  config->device = rank_device(config->device);
  Trainer trainer(*config, group);
  TrainRunOptions run;
  run.progress = !a.quiet;
  trainer.run(run);
  out.loaded.model = trainer.model();
  out.loaded.tokenizer = trainer.tokenizer();
  out.loaded.templates = trainer.templates();
  out.classifier = trainer.classifier_scorer();
  return out;
}

int run_eval(const EvalArgs& a, std::shared_ptr<dist::ProcessGroup> group) {
  const bool main = !group || group->is_main();
  std::optional<TrainConfig> config;
  if (!a.few_shot.config.empty()) {
    auto recipe = a.few_shot;
    if (a.given.count("--device")) recipe.device = a.model.device;
    config = config_from(recipe, a.model.model);
  } else if (a.few_shot.shots > 0) {
    throw Error("--shots needs --config (the fine-tuning recipe)");
  }
  auto given = [&a](const char* option) { return a.given.count(option) > 0; };
  // The config's list settings, unless the command line names its own.
  DataConfig data = config ? config->data : a.data;
  if (config) {
    if (given("--list-format")) data.list_format = a.data.list_format;
    if (given("--root")) data.root = a.data.root;
    if (given("--split")) data.split = a.data.split;
    data.humanize_labels = data.humanize_labels || a.data.humanize_labels;
  }
  std::vector<std::string> class_names;
  if (config && a.labels.empty() && a.labels_file.empty()) {
    class_names = data::read_label_file(config->data.label_list);
    if (data.humanize_labels)
      for (auto& name : class_names) name = data::humanize_label(name);
  } else {
    class_names = resolve_labels(a.labels, a.labels_file, data.humanize_labels);
  }
  const auto list = !a.list.empty() ? a.list : config ? config->data.val_list : std::string();
  if (list.empty()) throw Error("eval needs --list, or --config with data.val_list");

  if (config && config->network.baseline == "unimodal") {
    const auto trained = data::read_label_file(config->data.label_list).size();
    if (trained != class_names.size())
      throw Error("the unimodal baseline's classifier scores the " + std::to_string(trained) + " labels of " +
                  config->data.label_list + "; the evaluation names " + std::to_string(class_names.size()));
  }
  auto model = eval_model(a, config, group);
  auto& loaded = model.loaded;
  // A config's model and a few-shot one are not loaded by load_model_from_args, which quantizes.
  if (a.model.precision == "int8") quantize_for_inference(*loaded.model->clip);
  const auto records = read_annotations(list, data, class_names, false);
  if (main)
    for (const auto& p : records.problems) std::cerr << "actionclip: skipped " << p << "\n";
  if (records.records.empty()) throw FileError(list, "no usable videos");

  // One device for training and scoring: the command line's, else the config's.
  const std::string device = config && !given("--device") ? config->device : a.model.device;
  auto options = video_encoder_options(loaded, a.views, a.batch, a.workers, a.model);
  options.device = parse_device(rank_device(device));
  if (config) {
    options.views.input_size = configured_input_size(*config, loaded.model->clip->config());
    if (!given("--image-tmpl")) options.views.frame_template = config->data.image_tmpl;
    if (!given("--index-bias")) options.views.first_frame_number = config->data.index_bias;
    if (!given("--sampling")) options.views.sampling = config->data.sampling;
    if (!given("--batch-size")) options.batch_size = config->data.batch_size;
    if (!given("--workers")) options.decode_threads = std::max(1, config->data.workers);
  }
  loaded.model->eval();
  VideoEncoder encoder(loaded.model, options);
  ViewScorer scorer = model.classifier;
  LabelEmbeddings label_embeddings;
  if (!scorer) {
    TextEmbedder embedder(loaded.model, loaded.tokenizer);
    label_embeddings =
        embedder.embed_labels(class_names, a.templates.empty() ? loaded.templates : resolve_templates(a.templates));
    scorer = [&label_embeddings, scale = a.scale](const torch::Tensor& v) {
      return video_label_probabilities(v, label_embeddings, scale);
    };
  }
  Progress progress("eval", static_cast<int64_t>(records.records.size()), !a.quiet && main);
  const auto classes = static_cast<int64_t>(class_names.size());
  auto result = group ? dist::evaluate_sharded(*group, encoder, scorer, records.records, classes,
                                               static_cast<size_t>(options.batch_size), &progress)
                      : evaluate(encoder, scorer, records.records, classes, &progress);
  progress.finish();
  if (!main) return result.failures.empty() ? 0 : 2;  // rank 0 reports and writes
  for (const auto& f : result.failures) std::cerr << "actionclip: failed: " << f << "\n";
  if (!a.confusion.empty() && result.videos() && !result.multi_label)
    write_confusion_csv(a.confusion, confusion_matrix(result.scores, result.labels, static_cast<int64_t>(class_names.size())),
                        class_names);
  if (!a.scores.empty() && result.videos()) {
    io::save_npy(a.scores, result.scores);
    write_scored_frames(a.scores, result.paths, result.frames,
                        {{"views", a.views}, {"sampling", video::sampling_name(options.views.sampling)}});
  }
  auto out = evaluation_json(result);
  out["skipped_list_entries"] = records.skipped;
  if (a.json) print_json(out);
  else print_evaluation(result);
  return result.failures.empty() ? 0 : 2;
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
        auto config = config_from(*a);
        return run_as_rank(a->dist, config.device, [a, config](std::shared_ptr<dist::ProcessGroup> group) mutable {
          config.device = rank_device(config.device);
          Trainer trainer(config, group);
          TrainRunOptions run;
          run.resume = a->resume;
          run.progress = !a->quiet;
          auto summary = trainer.run(run);
          if (group && !group->is_main()) return 0;  // rank 0 reports
          nlohmann::json out = {{"epochs", summary.epochs_completed}, {"optimizer_steps", summary.optimizer_steps},
                                {"last_loss", summary.last_loss},      {"best", summary.best_top1},
                                {"skipped_items", summary.skipped_items}, {"checkpoint", summary.last_checkpoint},
                                {"best_model", summary.best_model}};
          if (summary.last_evaluation.videos()) out["validation"] = evaluation_json(summary.last_evaluation);
          if (a->json) print_json(out);
          else std::cout << "trained " << summary.epochs_completed << " epochs; best model " << summary.best_model << "\n";
          return 0;
        });
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("eval", "Evaluate a model on a labelled video list: top-1/5, mean class accuracy, mAP");
    auto a = std::make_shared<EvalArgs>();
    add_model_options(cmd, a->model, true);
    allow_builtin_model(cmd);
    cmd->add_option("--list", a->list, "labelled list: video list, rawframe list, Kinetics CSV, UCF/HMDB split (default: the config's data.val_list)");
    cmd->add_option("--list-format", a->data.list_format, "auto, video, rawframes, kinetics, ucf101, hmdb51")->capture_default_str();
    cmd->add_option("--root", a->data.root, "folder that relative list paths start from");
    cmd->add_option("--split", a->data.split, "HMDB-51 split number")->capture_default_str();
    cmd->add_option("-l,--labels", a->labels, "comma-separated label names, in id order");
    cmd->add_option("--labels-file", a->labels_file, "label file (reference CSV, one per line, classInd)");
    cmd->add_flag("--humanize", a->data.humanize_labels, "turn dataset names into words");
    cmd->add_option("--templates", a->templates,
                    "textual prompts: default, actionclip, none, or a file (default: the model's, see README)");
    cmd->add_option("--views", a->views, "CROPSxCLIPS test views (the paper's best: 3x10)")->capture_default_str();
    cmd->add_option("--confusion", a->confusion, "write the confusion matrix as CSV");
    cmd->add_option("--scores", a->scores, "write the score matrix [videos, classes] as .npy (and the frames read, as .frames.json)");
    cmd->add_option("--batch-size", a->batch, "videos per model call")->capture_default_str();
    cmd->add_option("--workers", a->workers, "decoding threads")->capture_default_str();
    cmd->add_option("--logit-scale", a->scale, "softmax temperature")->capture_default_str();
    cmd->add_flag("--json", a->json, "machine-readable output");
    cmd->add_flag("-q,--quiet", a->quiet, "no progress bar");
    cmd->add_option("--shots", a->few_shot.shots, "few-shot protocol: fine-tune on K videos per class first (needs --config)");
    cmd->add_option("--seed", a->few_shot.shots_seed, "seed of the few-shot draw")->capture_default_str();
    add_dist_options(cmd, a->few_shot.dist);
    cmd->add_option("--config", a->few_shot.config,
                    "the reference's test or zero-shot YAML (model, lists, frames from it), or with --shots the fine-tuning recipe");
    cmd->callback([&action, cmd, a] {
      for (const char* option : {"--device", "--image-tmpl", "--index-bias", "--sampling", "--batch-size", "--workers",
                                 "--list-format", "--root", "--split"})
        if (cmd->count(option)) a->given.insert(option);
      action = [a] {
        return run_as_rank(a->few_shot.dist, a->model.device,
                           [a](std::shared_ptr<dist::ProcessGroup> group) { return run_eval(*a, group); });
      };
    });
  }
}

}  // namespace actionclip::cli
