#include "actionclip/train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "actionclip/util/error.h"

namespace actionclip {
namespace fs = std::filesystem;

namespace {

// Reads a section's keys into fields, and rejects keys nobody read.
class Section {
 public:
  Section(const YAML::Node& node, std::string name, std::string source)
      : node_(node), name_(std::move(name)), source_(std::move(source)) {
    if (node_ && !node_.IsMap()) throw FileError(source_, "section '" + name_ + "' must be a mapping");
  }

  template <typename T>
  void read(const char* key, T& value) {
    seen_.insert(key);
    if (!has(key)) return;
    try {
      value = node_[key].as<T>();
    } catch (const YAML::Exception& e) {
      throw FileError(source_, qualified(key) + ": " + e.msg);
    }
  }

  // Present with a value (a key left empty, as the reference's `describe:`, counts as absent).
  bool has(const char* key) const { return node_ && node_[key] && !node_[key].IsNull(); }
  bool is_list(const char* key) const { return has(key) && node_[key].IsSequence(); }
  std::string qualified(const std::string& key) const { return name_.empty() ? key : name_ + "." + key; }

  void read_path(const char* key, std::string& value, const std::string& base_dir) {
    read(key, value);
    if (!value.empty() && fs::path(value).is_relative() && !base_dir.empty() &&
        fs::exists(fs::path(base_dir) / value))
      value = (fs::path(base_dir) / value).string();
  }

  Section child(const char* key) {
    seen_.insert(key);
    return Section(node_ ? node_[key] : YAML::Node(), qualified(key), source_);
  }

  // Keys that are accepted for compatibility but have no effect here.
  void accept(std::initializer_list<const char*> keys) { seen_.insert(keys.begin(), keys.end()); }
  // Accepted keys that the reference's code never reads either: those present are listed in `unread`.
  void accept_unread(std::initializer_list<const char*> keys, std::vector<std::string>& unread) {
    for (const char* key : keys) {
      seen_.insert(key);
      if (has(key)) unread.push_back(qualified(key));
    }
  }

  void reject_unknown() const {
    if (!node_) return;
    for (const auto& entry : node_) {
      const auto key = entry.first.as<std::string>();
      if (!seen_.count(key)) throw FileError(source_, "unknown key '" + qualified(key) + "'");
    }
  }

 private:
  YAML::Node node_;
  std::string name_, source_;
  std::set<std::string> seen_;
};

// 0.5, 20, 1e-05: as the file would write it.
std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

TrainConfig TrainConfig::load(const std::string& path, const std::string& default_pretrained) {
  std::ifstream in(path);
  if (!in) throw FileError(path, "cannot open config");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), fs::path(path).parent_path().string(), path, default_pretrained);
}

TrainConfig TrainConfig::parse(const std::string& yaml_text, const std::string& base_dir, const std::string& source,
                               const std::string& default_pretrained) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw FileError(source, "invalid YAML: " + e.msg);
  }
  TrainConfig c;
  c.source_text = yaml_text;
  c.source = source;
  if (!root.IsMap()) throw FileError(source, "config must be a YAML mapping");
  std::vector<std::string> unread;  // keys present that the reference's code never reads either
  auto notice = [&c](const std::string& text) { c.notices.push_back(c.source + ": " + text); };
  Section top(root, "", source);
  top.read("seed", c.seed);
  top.read_path("pretrain", c.pretrain, base_dir);
  top.read_path("resume", c.resume, base_dir);
  top.read("device", c.device);
  top.accept_unread({"weight_save_dir", "working_dir"}, unread);

  auto data = top.child("data");
  auto& d = c.data;
  data.read("dataset", d.dataset);
  std::string modality = "RGB";
  int seg_length = 1;
  data.read("modality", modality);
  data.read("seg_length", seg_length);
  if (modality != "RGB")
    notice("data.modality '" + modality + "' has no effect: RGB frames are read (the reference reads RGB whatever it says)");
  if (seg_length != 1)
    notice("data.seg_length " + std::to_string(seg_length) +
           " has no effect: one frame per segment is read (the reference never passes seg_length to its loader)");
  data.read("num_segments", d.num_segments);
  data.read("batch_size", d.batch_size);
  data.read("workers", d.workers);
  data.read("num_classes", d.num_classes);
  data.read("image_tmpl", d.image_tmpl);
  data.read_path("train_list", d.train_list, base_dir);
  data.read_path("val_list", d.val_list, base_dir);
  data.read_path("label_list", d.label_list, base_dir);
  data.read("input_size", d.input_size);
  data.read("random_shift", d.random_shift);
  if (data.has("random_shift") && d.random_shift && data.has("train_list"))
    notice("data.random_shift: training frames are drawn at random within their segments; the reference's "
           "train.py passes config.random_shift (a key its files never set) instead, so it trained on the fixed "
           "validation frames");
  data.read("index_bias", d.index_bias);
  if (d.index_bias < 0) throw FileError(source, "data.index_bias must be the number of the first frame file (>= 0)");
  std::string sampling = video::sampling_name(d.sampling);
  data.read("sampling", sampling);
  try {
    d.sampling = video::sampling_from_name(sampling);
  } catch (const Error& e) {
    throw FileError(source, std::string("data.sampling: ") + e.what());
  }
  data.read_path("root", d.root, base_dir);
  data.read("list_format", d.list_format);
  data.read("split", d.split);
  data.read("templates", d.templates);
  data.read("humanize_labels", d.humanize_labels);
  data.read("shots", d.shots);
  data.read("shots_seed", d.shots_seed);
  data.read("flip", d.augment.flip);
  data.read("gray_scale", d.augment.gray_scale);
  data.read("color_jitter", d.augment.color_jitter.p);
  data.read("scales", d.augment.scales);
  auto randaug = data.child("randaug");
  randaug.read("N", d.augment.randaug.N);
  randaug.read("M", d.augment.randaug.M);
  randaug.reject_unknown();
  data.accept_unread({"gpus"}, unread);
  data.reject_unknown();
  d.augment.input_size = d.input_size;

  auto network = top.child("network");
  auto& n = c.network;
  network.read("arch", n.arch);
  network.read_path("pretrained", n.pretrained, base_dir);
  if (n.pretrained.empty()) n.pretrained = default_pretrained;
  network.read_path("bpe", n.bpe, base_dir);
  network.read("init", n.init);
  network.read("tsm", n.tsm);
  network.read("joint", n.joint);
  network.read("sim_header", n.sim_header);
  network.read("emb_dropout", n.emb_dropout);
  network.read("drop_out", n.drop_out);
  network.read("fix_text", n.fix_text);
  if (n.emb_dropout < 0 || n.emb_dropout >= 1 || n.drop_out < 0 || n.drop_out >= 1)
    throw FileError(source, "network.emb_dropout and network.drop_out must be in [0, 1)");
  bool fix_img = false;
  network.read("fix_img", fix_img);
  if (fix_img)
    notice("network.fix_img has no effect: the reference's code never reads it, so its image encoder trains "
           "(network.freeze_visual freezes it here)");
  network.read("freeze_text", n.freeze_text);
  network.read("freeze_visual", n.freeze_visual);
  network.read("random_init_text", n.random_init_text);
  network.read("random_init_visual", n.random_init_visual);
  network.read("reference_conv1d", n.reference_conv1d);
  network.read("freeze_bn", n.freeze_bn);
  network.read("baseline", n.baseline);
  network.read("sync_bn", n.sync_bn);
  network.accept({"type"});
  if (data.has("dataset") || network.has("type"))
    notice("data.dataset and network.type only name the reference's output folder (exp/<type>/<arch>/<dataset>); "
           "outputs go to logging.output_dir here");
  // The reference's test and zero-shot files carry these; its code reads none of them.
  network.accept_unread({"describe", "bn_momentum", "consensus_type", "ratio", "f_ratio"}, unread);
  network.reject_unknown();

  auto solver = top.child("solver");
  auto& s = c.solver;
  solver.read("type", s.type);
  solver.read("epochs", s.epochs);
  solver.read("start_epoch", s.start_epoch);
  solver.read("optim", s.optim);
  solver.read("lr", s.lr);
  solver.read("lr_warmup_step", s.lr_warmup_step);
  solver.read("weight_decay", s.weight_decay);
  solver.read("momentum", s.momentum);
  if (solver.is_list("lr_decay_step")) solver.read("lr_decay_step", s.lr_decay_milestones);
  else solver.read("lr_decay_step", s.lr_decay_step);
  solver.read("lr_decay_factor", s.lr_decay_factor);
  solver.read("ratio", s.ratio);
  solver.read("f_ratio", s.f_ratio);
  solver.read("clip_gradient", s.clip_gradient);
  solver.read("beta1", s.beta1);
  solver.read("beta2", s.beta2);
  solver.read("eps", s.eps);
  solver.read("grad_accumulation", s.grad_accumulation);
  solver.read("precision", s.precision);
  solver.read("evaluate", s.evaluate);
  solver.read("local_loss", s.local_loss);
  solver.accept_unread({"epoch_offset", "loss_type"}, unread);
  // Read by the reference only for other optimisers or schedules.
  if (s.optim != "sgd" && solver.has("momentum")) unread.push_back("solver.momentum (sgd only)");
  if (s.optim != "adamw" && solver.has("ratio")) unread.push_back("solver.ratio (adamw only)");
  if (s.type != "multistep") {
    if (solver.has("lr_decay_step")) unread.push_back("solver.lr_decay_step (multistep only)");
    if (solver.has("lr_decay_factor")) unread.push_back("solver.lr_decay_factor (multistep only)");
  } else if (s.lr_decay_factor != 0.1) {
    notice("solver.lr_decay_factor " + number(s.lr_decay_factor) +
           " is the multistep decay here; the reference always decays by 0.1 (it never passes the key on)");
  }
  if (s.optim == "adam" && s.weight_decay != 0.2)
    notice("solver.weight_decay " + number(s.weight_decay) +
           " is used with adam here; the reference's adam always uses 0.2");
  if (s.clip_gradient > 0)
    notice("solver.clip_gradient " + number(s.clip_gradient) +
           ": gradients are clipped to this norm here; the reference's train.py never clips (0 matches it)");
  solver.reject_unknown();

  auto logging = top.child("logging");
  logging.read("print_freq", c.logging.print_freq);
  logging.read("eval_freq", c.logging.eval_freq);
  logging.read("output_dir", c.logging.output_dir);
  logging.read("metrics_format", c.logging.metrics_format);
  logging.read("checkpoint_every_steps", c.logging.checkpoint_every_steps);
  logging.reject_unknown();
  top.reject_unknown();
  if (!unread.empty()) {
    std::string keys;
    for (const auto& key : unread) keys += (keys.empty() ? "" : ", ") + key;
    notice(keys + ": no effect, here as in the reference's code, which never reads " +
           (unread.size() == 1 ? "it" : "them"));
  }

  if (s.type != "cosine" && s.type != "multistep")
    throw FileError(source, "solver.type '" + s.type + "' is not supported (cosine, multistep)");
  if (s.optim != "adamw" && s.optim != "adam" && s.optim != "sgd")
    throw FileError(source, "solver.optim '" + s.optim + "' is not supported (adamw, adam, sgd)");
  if (s.precision == "int8")
    throw FileError(source, "solver.precision: int8 is for inference only (classify, embed-video, eval --precision "
                            "int8): training needs gradients, which int8 weights have not; use fp32 or bf16");
  if (s.precision != "fp32" && s.precision != "bf16")
    throw FileError(source, "solver.precision must be fp32 or bf16, got '" + s.precision + "'");
  if (d.batch_size < 1 || d.num_segments < 1 || s.epochs < 1 || s.grad_accumulation < 1)
    throw FileError(source, "batch_size, num_segments, epochs and grad_accumulation must be positive");
  if (s.start_epoch < 0) throw FileError(source, "solver.start_epoch must not be negative");
  if (c.logging.print_freq < 1 || c.logging.eval_freq < 1)
    throw FileError(source, "logging.print_freq and logging.eval_freq must be positive");
  if (c.logging.metrics_format != "jsonl" && c.logging.metrics_format != "csv")
    throw FileError(source, "logging.metrics_format must be jsonl or csv");
  if (d.label_list.empty()) throw FileError(source, "data.label_list is required");
  return c;
}

}  // namespace actionclip
