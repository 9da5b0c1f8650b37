// The trainer's files: checkpoints that resume bit for bit (written by rank 0 alone), the
// reference's checkpoints as a starting point, and the metrics log.
#include <filesystem>
#include <fstream>

#include "actionclip/dist/process_group.h"
#include "actionclip/io/atomic_file.h"
#include "actionclip/io/checkpoint.h"
#include "actionclip/io/torch_file.h"
#include "actionclip/model/model_io.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/error.h"

namespace actionclip {
namespace fs = std::filesystem;

void Trainer::save_checkpoint(const std::string& path, int epoch, int64_t batch_in_epoch) {
  // Every rank's dropout generator, so that a resumed run at the same world size continues each.
  auto rng_state = at::detail::getDefaultCPUGenerator().get_state();
  torch::Tensor rank_rng_states;
  if (group_) rank_rng_states = torch::stack(group_->all_gather(rng_state));
  if (!is_main_rank()) return;
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  model_->save(model_archive);
  archive.write("model", model_archive);
  if (classifier_) {
    torch::serialize::OutputArchive classifier_archive;
    classifier_->save(classifier_archive);
    archive.write("classifier", classifier_archive);
  }
  optimizer_->save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("epoch", torch::tensor(static_cast<int64_t>(epoch)));
  archive.write("batch_in_epoch", torch::tensor(batch_in_epoch));
  archive.write("optimizer_steps", torch::tensor(optimizer_steps_));
  archive.write("best_top1", torch::tensor(best_top1_, torch::kFloat64));
  archive.write("seed", torch::tensor(static_cast<int64_t>(config_.seed)));
  archive.write("torch_rng", rng_state);
  if (rank_rng_states.defined()) archive.write("torch_rng_ranks", rank_rng_states);
  archive.write("config", c10::IValue(config_.source_text));
  io::write_file_atomically(path, [&](std::ostream& out) { archive.save_to(out); });
}

void Trainer::load_checkpoint(const std::string& path) {
  // The restricted reader looks at the file first: a reference checkpoint (torch.save) is read
  // by it alone, and this trainer's own last.pt (a TorchScript archive of attributes) reaches
  // libtorch's loader only when it declares no methods, so no code in the file can run.
  {
    io::TorchFile vetted(path);
    if (vetted.layout() != io::TorchFileLayout::TorchScript) {
      resume_reference_checkpoint(path);
      return;
    }
    if (vetted.declares_methods())
      throw FileError(path, "is a TorchScript archive with code (a model?), not a checkpoint written by actionclip train; "
                            "its code is never run");
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw FileError(path, std::string("cannot read as a training checkpoint: ") + e.what_without_backtrace());
  }
  try {
    torch::serialize::InputArchive model_archive, optimizer_archive;
    archive.read("model", model_archive);
    model_->load(model_archive);
    if (classifier_) {
      torch::serialize::InputArchive classifier_archive;
      archive.read("classifier", classifier_archive);
      classifier_->load(classifier_archive);
    }
    archive.read("optimizer", optimizer_archive);
    optimizer_->load(optimizer_archive);
    torch::Tensor epoch, batch, steps, best, rng;
    archive.read("epoch", epoch);
    archive.read("batch_in_epoch", batch);
    archive.read("optimizer_steps", steps);
    archive.read("best_top1", best);
    archive.read("torch_rng", rng);
    torch::Tensor rank_rngs;
    if (group_ && archive.try_read("torch_rng_ranks", rank_rngs) && rank_rngs.size(0) == group_->size())
      rng = rank_rngs[group_->rank()].contiguous();
    start_epoch_ = static_cast<int>(epoch.item<int64_t>());
    start_batch_ = batch.item<int64_t>();
    optimizer_steps_ = steps.item<int64_t>();
    best_top1_ = best.item<double>();
    auto generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  } catch (const c10::Error& e) {
    throw FileError(path, std::string("not a trainer checkpoint of this configuration: ") + e.what_without_backtrace());
  }
  model_->to(device_);
}

void Trainer::resume_reference_checkpoint(const std::string& path) {
  auto checkpoint = io::read_checkpoint(path);
  if (checkpoint.format != io::CheckpointFormat::ActionClipCheckpoint || !checkpoint.epoch)
    throw FileError(path, "is neither a trainer checkpoint (last.pt) nor an ActionCLIP checkpoint with its epoch");
  normalize_time_embedding(checkpoint.clip);
  assign_state(*model_->clip, checkpoint.clip, path, "CLIP");
  if (model_->fusion->has_parameters()) assign_state(*model_->fusion, checkpoint.fusion, path, "visual prompt");
  // The reference saves the epoch it has just trained and starts again there; it restores no
  // optimizer state either.
  start_epoch_ = static_cast<int>(*checkpoint.epoch);
  start_batch_ = 0;
}

void Trainer::append_metrics(const nlohmann::json& row) {
  if (!is_main_rank()) return;
  const bool csv = config_.logging.metrics_format == "csv";
  const auto path = fs::path(config_.logging.output_dir) / (csv ? "metrics.csv" : "metrics.jsonl");
  const bool fresh = !fs::exists(path);
  std::ofstream out(path, std::ios::app);
  if (!out) throw FileError(path.string(), "cannot append metrics");
  if (!csv) {
    out << row.dump() << '\n';
    return;
  }
  static const char* kColumns[] = {"epoch", "step", "train_loss", "lr", "videos_per_s", "data_wait_s",
                                   "skipped", "val_top1", "val_top5", "val_mean_class", "val_map"};
  if (fresh) {
    for (size_t i = 0; i < std::size(kColumns); ++i) out << (i ? "," : "") << kColumns[i];
    out << '\n';
  }
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    out << (i ? "," : "");
    if (row.contains(kColumns[i])) out << row[kColumns[i]].dump();
  }
  out << '\n';
}

}  // namespace actionclip
