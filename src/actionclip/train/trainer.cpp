#include "actionclip/train/trainer.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "actionclip/data/labels.h"
#include "actionclip/dist/gradient_sync.h"
#include "actionclip/dist/process_group.h"
#include "actionclip/dist/sharded_eval.h"
#include "actionclip/dist/sync_batch_norm.h"
#include "actionclip/inference/text_embedder.h"
#include "actionclip/model/model_io.h"
#include "actionclip/train/configured_model.h"
#include "actionclip/train/optimizer.h"
#include "actionclip/util/error.h"
#include "actionclip/util/ordered_prefetcher.h"

namespace actionclip {
namespace fs = std::filesystem;

ClipConfig clip_config_for_arch(const std::string& arch) {
  ClipConfig c;  // ViT-B/32
  if (arch == "ViT-B/32") return c;
  if (arch == "ViT-B/16") {
    c.vision_patch_size = 16;
    return c;
  }
  if (arch == "ViT-L/14" || arch == "ViT-L/14@336px") {
    c.embed_dim = 768;
    c.vision_width = 1024, c.vision_layers = 24, c.vision_heads = 16, c.vision_patch_size = 14;
    c.image_resolution = arch == "ViT-L/14" ? 224 : 336;
    c.text_width = 768, c.text_heads = 12;
    return c;
  }
  // The shapes of the parity fixtures (patch 8 at 32 pixels), and a finer-grained variant
  // (patch 4): for tests and quick experiments.
  if (arch == "tiny" || arch == "tiny/4") {
    c.embed_dim = 128;
    c.image_resolution = 32, c.vision_layers = 2, c.vision_width = 128, c.vision_heads = 2;
    c.vision_patch_size = arch == "tiny" ? 8 : 4;
    c.text_width = 128, c.text_heads = 2, c.text_layers = 2;
    return c;
  }
  // OpenAI's ResNets, and one of the RN parity fixture's shapes (64 pixels, one block per stage).
  if (arch == "RN50") return ClipConfig::modified_resnet({3, 4, 6, 3}, 64, 224, 1024, 512);
  if (arch == "RN101") return ClipConfig::modified_resnet({3, 4, 23, 3}, 64, 224, 512, 512);
  if (arch == "RN50x4") return ClipConfig::modified_resnet({4, 6, 10, 6}, 80, 288, 640, 640);
  if (arch == "RN50x16") return ClipConfig::modified_resnet({6, 8, 18, 8}, 96, 384, 768, 768);
  if (arch == "RN50x64") return ClipConfig::modified_resnet({3, 15, 36, 10}, 128, 448, 1024, 1024);
  if (arch == "tiny-rn") {
    c = ClipConfig::modified_resnet({1, 1, 1, 1}, 16, 64, 128, 64);
    c.text_layers = 2;
    return c;
  }
  throw Error("unknown network.arch '" + arch +
              "' (ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px, RN50, RN101, RN50x4, RN50x16, RN50x64, tiny, tiny/4, "
              "tiny-rn)");
}

namespace {

void set_requires_grad(torch::nn::Module& module, bool value) {
  for (auto& p : module.parameters()) p.set_requires_grad(value);
}

// Copies freshly initialised values over a subset of a model's parameters.
void reinitialize(torch::nn::Module& target, torch::nn::Module& fresh, bool visual) {
  torch::NoGradGuard no_grad;
  auto fresh_params = fresh.named_parameters();
  for (auto& p : target.named_parameters())
    if ((p.key().rfind("visual.", 0) == 0) == visual) p.value().copy_(fresh_params[p.key()]);
}

}  // namespace

Trainer::Trainer(TrainConfig config, std::shared_ptr<dist::ProcessGroup> group)
    : config_(std::move(config)), group_(std::move(group)), device_(torch::kCPU) {
  device_ = torch::Device(config_.device);
  if (is_main_rank())
    for (const auto& line : config_.notices) std::cerr << "actionclip: " << line << "\n";
  const int ranks = group_ ? group_->size() : 1;
  if (config_.data.batch_size % ranks != 0)
    throw FileError(config_.source, "data.batch_size " + std::to_string(config_.data.batch_size) +
                                        " is the global batch and must split evenly over the " + std::to_string(ranks) +
                                        " ranks");
  schedule_ = LearningRateSchedule::from_config(config_.solver, config_.source);
  if (config_.data.train_list.empty() && !config_.solver.evaluate)
    throw FileError(config_.source, "data.train_list is required for training");

  class_names_ = data::read_label_file(config_.data.label_list);
  if (config_.data.humanize_labels)
    for (auto& name : class_names_) name = data::humanize_label(name);
  if (config_.data.num_classes > 0 && static_cast<size_t>(config_.data.num_classes) != class_names_.size())
    throw FileError(config_.data.label_list, "has " + std::to_string(class_names_.size()) +
                                                 " labels but data.num_classes is " +
                                                 std::to_string(config_.data.num_classes));
  templates_ = resolve_templates(config_.data.templates);

  torch::manual_seed(config_.seed);
  build_model();
  start_epoch_ = config_.solver.start_epoch;

  auto report = [this](const std::string& what, const data::AnnotationReport& r) {
    if (r.skipped == 0 || !is_main_rank()) return;
    std::cerr << "actionclip: " << what << ": skipped " << r.skipped << " entries\n";
    for (size_t i = 0; i < r.problems.size() && i < 5; ++i) std::cerr << "  " << r.problems[i] << "\n";
    if (r.problems.size() > 5) std::cerr << "  ... and " << r.problems.size() - 5 << " more\n";
  };
  const int input_size = configured_input_size(config_, model_->clip->config());
  if (!config_.data.train_list.empty()) {
    auto train = read_annotations(config_.data.train_list, config_.data, class_names_, true);
    report(config_.data.train_list, train);
    if (config_.data.shots > 0)
      train.records = data::few_shot_subset(train.records, config_.data.shots, config_.data.shots_seed);
    if (train.records.size() < static_cast<size_t>(config_.data.batch_size))
      throw FileError(config_.data.train_list, "has " + std::to_string(train.records.size()) +
                                                   " usable videos, fewer than one batch of " +
                                                   std::to_string(config_.data.batch_size));
    train_set_ = std::make_unique<VideoDataset>(std::move(train.records), config_.data,
                                                static_cast<int64_t>(class_names_.size()), input_size);
  }
  if (!config_.data.val_list.empty()) {
    auto val = read_annotations(config_.data.val_list, config_.data, class_names_, false);
    report(config_.data.val_list, val);
    val_records_ = std::move(val.records);
  }
  build_optimizer();
  if (ranks > 1) {
    if (config_.network.sync_bn) dist::synchronize_batch_norm(*model_, group_);
    std::vector<torch::Tensor> trained;
    for (auto& g : optimizer_->param_groups())
      for (auto& p : g.params()) trained.push_back(p);
    gradient_averager_ = std::make_unique<dist::GradientAverager>(*group_, std::move(trained));
  }
}

Trainer::~Trainer() = default;

bool Trainer::is_main_rank() const { return !group_ || group_->is_main(); }

double Trainer::mean_over_ranks(double value) {
  if (!group_ || group_->size() == 1) return value;
  std::vector<torch::Tensor> sum{torch::tensor({value}, torch::kFloat64)};
  group_->all_reduce_sum(sum);
  return sum[0].item<double>() / group_->size();
}

void Trainer::build_model() {
  const auto& n = config_.network;
  auto loaded = load_configured_model(config_);
  model_ = loaded.model;
  tokenizer_ = loaded.tokenizer;
  if (n.random_init_text || n.random_init_visual) {
    ClipModel fresh(model_->clip->config());
    if (n.random_init_text) reinitialize(*model_->clip, *fresh, false);
    if (n.random_init_visual) reinitialize(*model_->clip, *fresh, true);
  }
  if (n.baseline == "unimodal") {
    classifier_ = torch::nn::Linear(model_->clip->config().embed_dim, static_cast<int64_t>(class_names_.size()));
  } else if (!n.baseline.empty()) {
    throw Error("unknown network.baseline '" + n.baseline + "' (unimodal)");
  }
  // fix_text is the reference's: the text embedding is detached, so the text encoder gets no
  // gradient (and AdamW skips it, weight decay included) while the logit scale still learns.
  if (n.freeze_text || n.fix_text) {
    for (auto& p : model_->clip->named_parameters())
      if (p.key().rfind("visual.", 0) != 0 && (n.freeze_text || p.key() != "logit_scale")) p.value().set_requires_grad(false);
  }
  if (n.freeze_visual) set_requires_grad(*model_->clip->visual, false);
  model_->clip->visual->freeze_batch_norm(n.freeze_bn);
  model_->to(device_);
  if (classifier_) classifier_->to(device_);
}

void Trainer::build_optimizer() {
  ParameterGroups groups;
  for (auto& p : model_->clip->named_parameters()) {
    if (!p.value().requires_grad()) continue;  // frozen: in no group, so no weight decay touches it either
    (p.key().rfind("visual.", 0) == 0 ? groups.visual : groups.text).push_back(p.value());
  }
  for (auto& p : model_->fusion->parameters()) groups.added.push_back(p);
  if (classifier_)
    for (auto& p : classifier_->parameters()) groups.added.push_back(p);
  auto configured = make_optimizer(config_.solver, std::move(groups));
  optimizer_ = std::move(configured.optimizer);
  base_learning_rates_ = std::move(configured.base_learning_rates);
}

std::vector<std::pair<std::string, torch::Tensor>> Trainer::named_state() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& p : model_->named_parameters()) out.emplace_back(p.key(), p.value());
  if (classifier_)
    for (auto& p : classifier_->named_parameters()) out.emplace_back("classifier." + p.key(), p.value());
  return out;
}

Evaluation Trainer::validate(const std::vector<data::VideoRecord>& records, Progress* progress) {
  model_->eval();
  VideoEncoderOptions options;
  options.views.frames = config_.data.num_segments;
  options.views.input_size = configured_input_size(config_, model_->clip->config());
  options.views.frame_template = config_.data.image_tmpl;
  options.views.sampling = config_.data.sampling;
  options.views.first_frame_number = config_.data.index_bias;
  options.batch_size = config_.data.batch_size;
  options.decode_threads = std::max(1, config_.data.workers);
  options.device = device_;
  VideoEncoder encoder(model_, options);
  ViewScorer scorer = classifier_scorer();
  LabelEmbeddings labels;
  if (!scorer) {
    TextEmbedder embedder(model_, tokenizer_);
    labels = embedder.embed_labels(class_names_, templates_);
    scorer = [&labels](const torch::Tensor& views) { return video_label_probabilities(views, labels); };
  }
  const auto classes = static_cast<int64_t>(class_names_.size());
  auto result = group_ ? dist::evaluate_sharded(*group_, encoder, scorer, records, classes,
                                                static_cast<size_t>(options.batch_size), progress)
                       : evaluate(encoder, scorer, records, classes, progress);
  model_->train();
  return result;
}

ViewScorer Trainer::classifier_scorer() {
  if (!classifier_) return {};
  return [classifier = classifier_, device = device_](const torch::Tensor& views) mutable {
    torch::NoGradGuard no_grad;
    return torch::softmax(classifier->forward(views.to(device)), -1).mean(0).cpu();
  };
}

TrainSummary Trainer::run(const TrainRunOptions& run) {
  TrainSummary summary;
  const auto& c = config_;
  const bool main = is_main_rank(), show_progress = run.progress && main;
  const auto rank = static_cast<size_t>(group_ ? group_->rank() : 0), ranks = static_cast<size_t>(group_ ? group_->size() : 1);
  if (main) fs::create_directories(c.logging.output_dir);
  const auto checkpoint_path = (fs::path(c.logging.output_dir) / "last.pt").string();
  const auto best_path = (fs::path(c.logging.output_dir) / "best.safetensors").string();
  const auto resume = run.resume.empty() ? c.resume : run.resume;
  if (!resume.empty()) load_checkpoint(resume);
  if (ranks > 1) {
    // Every rank starts from rank 0's weights (and batch-norm statistics), as DDP does.
    std::vector<torch::Tensor> state;
    for (auto& p : named_state()) state.push_back(p.second);
    for (auto& b : model_->buffers()) state.push_back(b);
    dist::broadcast_from_main(*group_, state);
  }

  const nlohmann::json export_metadata = {{"labels", class_names_}, {"templates", templates_.templates}};
  if (c.solver.evaluate) {
    summary.last_evaluation = validate(val_records_);
    return summary;
  }
  const auto batches = static_cast<int64_t>(train_set_->batches_per_epoch());
  const int accumulation = c.solver.grad_accumulation;
  int64_t steps_this_run = 0;
  int epochs_this_run = 0;
  model_->train();
  if (classifier_) classifier_->train();

  for (int epoch = start_epoch_; epoch < c.solver.epochs; ++epoch) {
    const int64_t first_batch = epoch == start_epoch_ ? start_batch_ : 0;
    // Dropout draws from torch's global generator: seeded per epoch, so a run does not depend on
    // what else used it; inside an epoch a resumed run continues from the checkpoint's state.
    // Each rank draws its own masks (rank 0 those of one process).
    if (first_batch == 0) {
      auto dropout_seed = derive_seed(c.seed, 0x64726f70ull, static_cast<uint64_t>(epoch));
      torch::manual_seed(rank == 0 ? dropout_seed : derive_seed(dropout_seed, rank));
    }
    const auto seed = c.seed;
    const auto* dataset = train_set_.get();
    OrderedPrefetcher<Batch> loader(
        static_cast<size_t>(batches - first_batch),
        [=](size_t i) { return dataset->load_train_batch(seed, epoch, static_cast<size_t>(first_batch) + i, rank, ranks); },
        std::max(1, c.data.workers), static_cast<size_t>(std::max(2, c.data.workers * 2)));
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.solver.epochs), batches - first_batch,
                      show_progress);
    progress.set_log_every(c.logging.print_freq);
    double loss_sum = 0;
    int64_t loss_count = 0, videos = 0;
    size_t skipped = 0;
    const auto epoch_start = std::chrono::steady_clock::now();
    bool interrupted = false;
    optimizer_->zero_grad();
    for (int64_t b = first_batch; b < batches; ++b) {
      auto batch = *loader.next();
      for (const auto& failure : batch.failures) std::cerr << "\nactionclip: skipped " << failure << "\n";
      skipped += batch.failures.size();
      const double factor = schedule_.factor(schedule_epoch(epoch, b, batches));
      for (size_t g = 0; g < optimizer_->param_groups().size(); ++g)
        optimizer_->param_groups()[g].options().set_lr(base_learning_rates_[g] * factor);
      if (batch.samples.empty() && ranks > 1)
        throw Error("rank " + std::to_string(rank) + ": no video of its share of batch " + std::to_string(b) +
                    " could be loaded (see above)");
      const bool step_now = (b + 1) % accumulation == 0 || b + 1 == batches;
      if (!batch.samples.empty()) {
        auto loss = training_loss(batch);
        if (gradient_averager_) gradient_averager_->prepare_for_backward(step_now);
        (loss / accumulation).backward();
        if (gradient_averager_ && step_now) gradient_averager_->finish();
        loss_sum += mean_over_ranks(loss.item<double>());
        ++loss_count;
        videos += static_cast<int64_t>(batch.samples.size() * ranks);
      }
      if (step_now) {
        if (c.solver.clip_gradient > 0) {
          std::vector<torch::Tensor> params;
          for (auto& group : optimizer_->param_groups())
            for (auto& p : group.params()) params.push_back(p);
          torch::nn::utils::clip_grad_norm_(params, c.solver.clip_gradient);
        }
        optimizer_->step();
        optimizer_->zero_grad();
        ++optimizer_steps_;
        ++steps_this_run;
      }
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      char status[160];
      std::snprintf(status, sizeof status, "loss %.4f | lr %.2e | %.1f videos/s | data wait %.1fs",
                    loss_count ? loss_sum / static_cast<double>(loss_count) : 0.0, c.solver.lr * factor,
                    static_cast<double>(videos) / std::max(elapsed, 1e-9), loader.wait_seconds());
      progress.advance(1, status);
      if (step_now && run.save_checkpoints && c.logging.checkpoint_every_steps > 0 && optimizer_steps_ % c.logging.checkpoint_every_steps == 0 &&
          b + 1 < batches)
        save_checkpoint(checkpoint_path, epoch, b + 1);
      if (step_now && run.stop_after_steps >= 0 && steps_this_run >= run.stop_after_steps && b + 1 < batches) {
        if (run.save_checkpoints) save_checkpoint(checkpoint_path, epoch, b + 1);
        interrupted = true;
        break;
      }
    }
    progress.finish();
    summary.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    summary.videos_per_second = static_cast<double>(videos) / std::max(summary.train_seconds, 1e-9);
    summary.data_wait_seconds = loader.wait_seconds();
    if (interrupted) break;
    summary.skipped_items += skipped;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    summary.last_loss = loss_count ? loss_sum / static_cast<double>(loss_count) : 0.0;
    nlohmann::json row = {{"epoch", epoch + 1},
                          {"step", optimizer_steps_},
                          {"train_loss", summary.last_loss},
                          {"lr", c.solver.lr * schedule_.factor(epoch + 1)},
                          {"videos_per_s", static_cast<double>(videos) / seconds},
                          {"data_wait_s", loader.wait_seconds()},
                          {"skipped", skipped}};
    // As the reference: after epochs 0, eval_freq, 2 eval_freq, ... (0-based); and after the last.
    const bool validate_now =
        !val_records_.empty() && (epoch % c.logging.eval_freq == 0 || epoch + 1 == c.solver.epochs);
    if (validate_now) {
      Progress val_progress("validate", static_cast<int64_t>(val_records_.size()), show_progress);
      summary.last_evaluation = validate(val_records_, &val_progress);
      val_progress.finish();
      const auto& e = summary.last_evaluation;
      const double score = e.multi_label ? e.mean_ap : e.top1;
      if (e.multi_label) row["val_map"] = e.mean_ap;
      else row["val_top1"] = e.top1, row["val_top5"] = e.top5, row["val_mean_class"] = e.mean_class_accuracy;
      if (score > best_top1_) {
        best_top1_ = score;
        if (main) save_model(best_path, model_, export_metadata);
        summary.best_model = best_path;
      }
      if (show_progress)
        std::cerr << "epoch " << epoch + 1 << ": loss " << summary.last_loss << ", val "
                  << (e.multi_label ? "mAP " : "top-1 ") << score << " (best " << best_top1_ << ")\n";
    }
    append_metrics(row);
    if (run.save_checkpoints) save_checkpoint(checkpoint_path, epoch + 1, 0);
    summary.last_checkpoint = checkpoint_path;
    summary.epochs_completed = epoch + 1;
    ++epochs_this_run;
    if (run.stop_after_epochs >= 0 && epochs_this_run >= run.stop_after_epochs) break;
  }
  if (val_records_.empty() && summary.epochs_completed == c.solver.epochs) {
    if (main) save_model(best_path, model_, export_metadata);  // no validation: the final weights
    summary.best_model = best_path;
  }
  summary.optimizer_steps = optimizer_steps_;
  summary.best_top1 = best_top1_;
  summary.last_checkpoint = checkpoint_path;
  start_epoch_ = summary.epochs_completed;
  start_batch_ = 0;
  if (group_) group_->barrier();  // rank 0, which hosts the rendezvous, leaves last
  return summary;
}

}  // namespace actionclip
