// actionclip bench train: training throughput of a ViT-B/32-shaped ActionCLIP, data loading included.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "actionclip/build_paths.h"
#include "actionclip/dist/process_group.h"
#include "actionclip/data/synth.h"
#include "actionclip/model/model_io.h"
#include "actionclip/train/trainer.h"
#include "bench.h"
#include "bench_train.h"
#include "common.h"

namespace actionclip::cli {
namespace fs = std::filesystem;

// One ViT-B/32 training epoch's first steps on generated 224x224 clips: decoding, sampling,
// augmentation and the optimizer step, with the time the trainer waited for data. With a group,
// this rank's part of a data-parallel run of the same global batch.
TrainMeasurement measure_training(const BenchArgs& a, std::shared_ptr<dist::ProcessGroup> group) {
  const auto device = parse_device(a.device);
  const auto dir = a.work_dir.empty() ? (fs::temp_directory_path() / "actionclip-bench-train").string() : a.work_dir;
  std::string bpe = a.bpe;
  if (bpe.empty()) {
    const auto beside_sources = fs::path(ACTIONCLIP_SOURCE_DIR) / ".." / "shared" / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz";
    bpe = fs::exists(beside_sources) ? beside_sources.string() : find_bpe_file("", "");
  }
  data::SynthOptions synth;
  synth.out_dir = (fs::path(dir) / "data").string();
  synth.videos_per_class = 8;
  synth.frames = 16;
  synth.width = synth.height = 224;
  synth.colors = {"red", "blue"};
  synth.shapes = {"square"};
  synth.motions = {"left", "right"};
  synth.val_fraction = 0;
  // Rank 0 writes the clips; the others wait for them.
  if ((!group || group->is_main()) && !fs::exists(fs::path(synth.out_dir) / "train.txt")) data::generate_synth_dataset(synth);
  if (group) group->barrier();
  const int batch = kBenchTrainBatch;
  const std::string yaml = "seed: 1\ndevice: " + device.str() +
                           "\ndata:\n  num_segments: " + std::to_string(a.frames) + "\n  batch_size: " + std::to_string(batch) +
                           "\n  workers: 2\n  train_list: " + synth.out_dir + "/train.txt\n  label_list: " + synth.out_dir +
                           "/labels.csv\nnetwork:\n  arch: ViT-B/32\n  init: false\n  sim_header: meanP\n  bpe: " + bpe +
                           "\nsolver:\n  epochs: 1\nlogging:\n  output_dir: " + dir + "/run\n";
  Trainer trainer(TrainConfig::parse(yaml, "", "bench"), group);
  TrainRunOptions run;
  run.progress = false;
  run.save_checkpoints = false;
  run.stop_after_steps = 1;
  trainer.run(run);  // warm-up
  run.stop_after_steps = std::min<int64_t>(a.steps, static_cast<int64_t>(trainer.train_set().batches_per_epoch()) - 1);
  TrainMeasurement measured;
  const double communication_before = group ? group->communication_seconds() : 0;
  measured.summary = trainer.run(run);
  measured.steps = run.stop_after_steps;
  if (group) measured.communication_seconds = group->communication_seconds() - communication_before;
  return measured;
}

int bench_train(const BenchArgs& a) {
  if (a.nproc > 1 || !a.result_file.empty()) return bench_train_scaling(a);
  const auto device = parse_device(a.device);
  const int batch = kBenchTrainBatch;
  const auto measured = measure_training(a, nullptr);
  const auto& summary = measured.summary;
  TrainRunOptions run;
  run.stop_after_steps = measured.steps;

  nlohmann::json python;
  const auto script = bench_script("train_reference.py");
  if (!device.is_cuda() && !script.empty())
    python = run_python(a.python, script, "--batch " + std::to_string(batch) + " --frames " + std::to_string(a.frames) +
                                              " --steps " + std::to_string(run.stop_after_steps) + " --threads " +
                                              std::to_string(torch::get_num_threads()));
  nlohmann::json result = {{"machine", machine_json()},
                           {"model", "ViT-B/32 (random weights), meanP"},
                           {"device", device.str()},
                           {"threads", torch::get_num_threads()},
                           {"batch", batch},
                           {"frames", a.frames},
                           {"steps", run.stop_after_steps},
                           {"videos_per_s", summary.videos_per_second},
                           {"data_wait_s", summary.data_wait_seconds},
                           {"seconds", summary.train_seconds},
                           {"python", python}};
  if (a.json) {
    print_json(result);
    return 0;
  }
  std::printf("actionclip bench train: ViT-B/32 shapes, %d frames, batch %d, device %s, %d threads, %lld steps\n", a.frames,
              batch, device.str().c_str(), torch::get_num_threads(), static_cast<long long>(run.stop_after_steps));
  print_ratio("training videos/s (with data loading)", summary.videos_per_second, python, "videos_per_s");
  std::printf("  %-34s %10.2f s of %.2f s\n", "trainer waited for data", summary.data_wait_seconds, summary.train_seconds);
  if (python.empty()) std::printf("  (python3-torch not found: no reference figures)\n");
  return 0;
}

}  // namespace actionclip::cli
