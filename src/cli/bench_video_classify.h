#pragma once
// bench video's end-to-end figure: classify (decode, sample, preprocess, ViT-B/32 + meanP) of the
// benchmark clips in each requested precision, as decide_precision lets it run.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "bench.h"

namespace actionclip::cli {

// {"fp32": {"used", "videos_per_s", "data_wait_s"}, "bf16": {...}, "int8": {...}} for the
// precisions in `a.video_precisions`; one that decide_precision turned into an already measured
// one carries "same_run_as", one it refuses "skipped" with the reason, any with a notice "notice".
nlohmann::json measure_classify_precisions(const BenchArgs& a, const std::vector<std::string>& paths,
                                           const torch::Device& device);

// One line per precision, with the ratio to the Python pipeline's `python["videos_per_s"]`.
void print_classify_precisions(const nlohmann::json& classify, const nlohmann::json& python);

}  // namespace actionclip::cli
