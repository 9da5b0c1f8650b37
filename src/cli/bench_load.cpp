// actionclip bench load: how long reading a checkpoint takes and how much memory it needs,
// next to Python's torch.load, for an ActionCLIP checkpoint as released and a ViT-B/32-shaped
// torch.save file; and the peak resident memory of `classify` with a ViT-B/32 model file in
// each form convert writes.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <filesystem>
#include <fstream>

#include "actionclip/build_paths.h"
#include "actionclip/clip/clip_model.h"
#include "actionclip/clip/int8_quantization.h"
#include "actionclip/data/synth.h"
#include "actionclip/io/checkpoint.h"
#include "actionclip/io/torch_save.h"
#include "actionclip/model/builtin_model.h"
#include "actionclip/model/model_io.h"
#include "actionclip/system/child_process.h"
#include "actionclip/system/precision.h"
#include "actionclip/util/error.h"
#include "actionclip/video/video_writer.h"
#include "bench.h"

namespace actionclip::cli {
namespace fs = std::filesystem;
namespace {

double resident_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// One file in a fresh process (this binary again), so that the peak memory is this load's alone.
nlohmann::json measure_in_child(const std::string& path, int repeat) {
  const auto command = "/proc/" + std::to_string(::getpid()) + "/exe -t " + std::to_string(torch::get_num_threads()) +
                       " bench load --measure-one '" + path + "' --repeat " + std::to_string(repeat);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string output;
  char buffer[4096];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe.get())) output += buffer;
  try {
    return nlohmann::json::parse(output);
  } catch (const nlohmann::json::exception&) {
    return {{"error", "measuring " + path + " failed: " + output}};
  }
}

// ViT-B/32's state dict (random weights) as torch.save writes it on a GPU machine.
std::string vit_b32_file(const std::string& work_dir) {
  const auto path = (fs::path(work_dir) / "vit-b-32-state-dict.pt").string();
  if (fs::exists(path)) return path;
  fs::create_directories(work_dir);
  torch::manual_seed(0);
  ClipModel model(ClipConfig::vit_b32());
  io::TensorMap state;
  for (const auto& p : model->named_parameters()) state.emplace(p.key(), p.value().detach());
  io::save_torch_state_dict(path, state, "cuda:0");
  return path;
}

enum class ModelFileForm { Float32, Float16, Int8 };

// A ViT-B/32-shaped ActionCLIP (random weights, meanP) as `convert` writes it: float32, float16, or
// with its projections as int8 (`convert --precision int8` saves the quantized float32 model).
std::string vit_b32_model_file(const std::string& work_dir, ModelFileForm form) {
  const char* name = form == ModelFileForm::Float16 ? "vit-b-32-fp16.safetensors"
                     : form == ModelFileForm::Int8  ? "vit-b-32-int8.safetensors"
                                                    : "vit-b-32-fp32.safetensors";
  const auto path = (fs::path(work_dir) / name).string();
  if (fs::exists(path)) return path;
  fs::create_directories(work_dir);
  torch::manual_seed(0);
  ActionClipModel model(ClipConfig::vit_b32(), ActionClipOptions{PromptType::MeanP, 8, true});
  if (form == ModelFileForm::Int8) quantize_for_inference(*model->clip);
  save_model(path, model, {}, form == ModelFileForm::Float16 ? torch::kFloat16 : torch::kFloat32);
  return path;
}

// A short synthetic clip (2 s, 112x112) for classify to chew on.
std::string short_clip(const std::string& work_dir) {
  const auto path = (fs::path(work_dir) / "short-clip.avi").string();
  if (fs::exists(path)) return path;
  data::SynthOptions synth;
  synth.frames = 16;
  synth.colors = {"red"};
  synth.shapes = {"square"};
  synth.motions = {"left"};
  video::VideoWriterOptions options;
  options.codec = video::VideoCodec::Mpeg4;
  video::VideoWriter writer(path, synth.width, synth.height, synth.fps, options);
  for (const auto& frame : data::render_synth_video(synth, data::synth_classes(synth).front(), 0)) writer.write(frame);
  writer.close();
  return path;
}

std::string find_tokenizer(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  const auto beside_sources = fs::path(ACTIONCLIP_SOURCE_DIR) / ".." / "shared" / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz";
  return fs::exists(beside_sources) ? beside_sources.string() : find_bpe_file("", "");
}

// Peak resident memory of one `classify` process per model file, next to the file's size.
nlohmann::json classify_memory(const BenchArgs& a, const std::string& work_dir) {
  std::string bpe;
  try {
    bpe = find_tokenizer(a.bpe);
  } catch (const Error& e) {
    return {{"skipped", e.what()}};
  }
  const auto clip = short_clip(work_dir);
  const auto self = "/proc/" + std::to_string(::getpid()) + "/exe";
  struct Form {
    std::string what, path;
    std::vector<std::string> options;  // classify's, beyond the common ones
  };
  std::vector<Form> forms = {
      {"built-in model (1.8 MB; the process without large weights)", builtin_model_path(), {}},
      {"ViT-B/32, float32", vit_b32_model_file(work_dir, ModelFileForm::Float32), {}},
      {"ViT-B/32, float16", vit_b32_model_file(work_dir, ModelFileForm::Float16), {}}};
  std::string int8_skipped;
  try {
    decide_precision(Precision::Int8, torch::kCPU);
    forms.push_back({"ViT-B/32, int8 (convert --precision int8)", vit_b32_model_file(work_dir, ModelFileForm::Int8), {}});
    forms.push_back({"ViT-B/32, float32, classify --precision int8", forms[1].path, {"--precision", "int8"}});
  } catch (const Error& e) {
    int8_skipped = e.what();
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& form : forms) {
    std::vector<std::string> command = {self, "-t", std::to_string(torch::get_num_threads()), "classify", "-q",
                                        "--no-cache", "-m", form.path, "--bpe", bpe, "--labels", "surfing,cooking"};
    command.insert(command.end(), form.options.begin(), form.options.end());
    command.push_back(clip);
    const auto run = run_child(command);
    if (run.exit_code != 0) throw Error("classify with " + form.path + " failed: " + run.output);
    rows.push_back({{"form", form.what},
                    {"path", form.path},
                    {"file_mb", static_cast<double>(fs::file_size(form.path)) / (1024.0 * 1024.0)},
                    {"peak_rss_mb", run.peak_rss_mb},
                    {"seconds", run.seconds}});
  }
  if (!int8_skipped.empty()) rows.push_back({{"form", "ViT-B/32, int8"}, {"skipped", int8_skipped}});
  return rows;
}

}  // namespace

int bench_load_one(const std::string& path, int repeat) {
  const double before = resident_mb();
  double seconds = 1e30, peak_added_mb = 0, weights_mb = 0;
  for (int i = 0; i < repeat; ++i) {
    const double start = now_seconds();
    auto checkpoint = io::read_checkpoint(path);
    seconds = std::min(seconds, now_seconds() - start);
    if (i == 0) peak_added_mb = peak_memory_mb() - before;
    double bytes = 0;
    for (const auto* map : {&checkpoint.clip, &checkpoint.fusion})
      for (const auto& [_, t] : *map) bytes += static_cast<double>(t.nbytes());
    weights_mb = bytes / (1024.0 * 1024.0);
  }
  double verified_seconds = 1e30;
  for (int i = 0; i < repeat; ++i) {
    const double start = now_seconds();
    io::read_checkpoint(path, true);
    verified_seconds = std::min(verified_seconds, now_seconds() - start);
  }
  std::printf("%s\n", nlohmann::json{{"seconds", seconds},
                                     {"verified_seconds", verified_seconds},
                                     {"peak_added_mb", peak_added_mb},
                                     {"weights_mb", weights_mb}}
                          .dump()
                          .c_str());
  return 0;
}

int bench_load(const BenchArgs& a) {
  if (!a.measure_one.empty()) return bench_load_one(a.measure_one, a.repeat);
  const auto work_dir = a.work_dir.empty() ? (fs::temp_directory_path() / "actionclip-bench-load").string() : a.work_dir;
  std::vector<std::pair<std::string, std::string>> files;
  const auto released = fs::path(ACTIONCLIP_SOURCE_DIR) / ".." / "shared" / "fixtures" / "reference" /
                        "actionclip-tiny-transf-as-released.pt";
  if (fs::exists(released)) files.emplace_back("ActionCLIP checkpoint as released (tiny)", released.string());
  files.emplace_back("ViT-B/32 state dict, torch.save, cuda:0", vit_b32_file(work_dir));
  for (const auto& path : a.files) files.emplace_back(fs::path(path).filename().string(), path);

  const auto script = bench_script("load_reference.py");
  nlohmann::json results = nlohmann::json::array();
  for (const auto& [what, path] : files) {
    const auto ours = measure_in_child(path, a.repeat);
    if (ours.contains("error")) throw Error(ours["error"].get<std::string>());
    nlohmann::json python;
    if (!script.empty()) python = run_python(a.python, script, "'" + path + "' --repeat " + std::to_string(a.repeat));
    results.push_back({{"file", what},
                       {"path", path},
                       {"file_mb", static_cast<double>(fs::file_size(path)) / (1024.0 * 1024.0)},
                       {"seconds", ours["seconds"]},
                       {"verified_seconds", ours["verified_seconds"]},
                       {"peak_added_mb", ours["peak_added_mb"]},
                       {"weights_mb", ours["weights_mb"]},
                       {"python", python}});
  }
  const auto classify = classify_memory(a, work_dir);
  if (a.json) {
    std::printf("%s\n",
                nlohmann::json{{"machine", machine_json()}, {"files", results}, {"classify_memory", classify}}.dump(2).c_str());
    return 0;
  }
  std::printf("checkpoint loading, fastest of %d (peak memory added by one load, weights as loaded in float32)\n", a.repeat);
  for (const auto& r : results) {
    std::printf("  %s (%.1f MB file)\n", r["file"].get<std::string>().c_str(), r["file_mb"].get<double>());
    std::printf("    actionclip  %8.1f ms   peak +%7.1f MB   weights %7.1f MB\n", 1e3 * r["seconds"].get<double>(),
                r["peak_added_mb"].get<double>(), r["weights_mb"].get<double>());
    std::printf("    actionclip  %8.1f ms   with --verify (CRC-32 of every tensor)\n", 1e3 * r["verified_seconds"].get<double>());
    const auto& py = r["python"];
    if (py.contains("seconds"))
      std::printf("    torch.load  %8.1f ms   peak +%7.1f MB   (torch %s)   ratio %.2fx\n", 1e3 * py["seconds"].get<double>(),
                  py["peak_added_mb"].get<double>(), py["torch"].get<std::string>().c_str(),
                  py["seconds"].get<double>() / r["seconds"].get<double>());
    else
      std::printf("    (python3-torch not found: no torch.load figure)\n");
  }
  if (classify.is_object()) {
    std::printf("classify peak memory: (%s)\n", classify["skipped"].get<std::string>().c_str());
    return 0;
  }
  std::printf("classify of one short clip, peak resident memory of the process (one process per file)\n");
  for (const auto& r : classify)
    if (r.contains("skipped"))
      std::printf("  %-60s skipped: %s\n", r["form"].get<std::string>().c_str(), r["skipped"].get<std::string>().c_str());
    else
      std::printf("  %-60s %7.1f MB file   peak %7.1f MB   %6.2f s\n", r["form"].get<std::string>().c_str(),
                  r["file_mb"].get<double>(), r["peak_rss_mb"].get<double>(), r["seconds"].get<double>());
  return 0;
}

}  // namespace actionclip::cli
