// actionclip info / convert
#include <fstream>
#include <iostream>

#include "actionclip/model/compact_vocabulary.h"
#include "actionclip/model/text_prompts.h"
#include "actionclip/system/system_info.h"
#include "actionclip/util/error.h"
#include "commands.h"
#include "common.h"

namespace actionclip::cli {
namespace {

int print_system_info(bool json) {
  const auto info = system_info();
  if (json) {
    print_json(info);
    return 0;
  }
  const auto& cpu = info["cpu"];
  std::string features;
  for (const auto& name : cpu["features"]) features += " " + name.get<std::string>();
  std::string engines;
  for (const auto& name : info["libtorch"]["quantized_engines"]) engines += " " + name.get<std::string>();
  std::cout << "cpu             " << cpu["model"].get<std::string>() << ", " << cpu["cores"] << " cores, "
            << cpu["logical_processors"] << " threads\n"
            << "features       " << (features.empty() ? " (none of note)" : features) << "\n"
            << "bf16            " << (cpu["native_bf16"].get<bool>() ? "native (AVX512_BF16 or AMX)" : "not native here: --precision bf16 runs float32") << "\n"
            << "int8 dot        " << (cpu["native_int8_dot"].get<bool>() ? "native (VNNI or AMX)" : "not native (AVX2 multiply-add)") << "\n"
            << "int8            " << (info["libtorch"]["int8_engine"].get<std::string>().empty() ? "unavailable (no quantized engine)" : "--precision int8 runs on " + info["libtorch"]["int8_engine"].get<std::string>()) << "\n"
            << "libtorch        " << info["libtorch"]["version"].get<std::string>() << ", "
            << info["libtorch"]["threads"] << " threads, oneDNN " << (info["libtorch"]["onednn"].get<bool>() ? "yes" : "no")
            << ", quantized engines" << (engines.empty() ? " none" : engines) << "\n"
            << "openblas        " << (info["libtorch"]["openblas_core"].get<std::string>().empty() ? "not loaded" : info["libtorch"]["openblas_core"].get<std::string>() + " kernels") << "\n"
            << "cuda            " << (info["cuda"]["available"].get<bool>() ? std::to_string(info["cuda"]["devices"].get<int>()) + " devices" : "none") << "\n";
  return 0;
}

}  // namespace

namespace {

nlohmann::json read_json_object(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FileError(path, "cannot open");
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, std::string("not valid JSON: ") + e.what());
  }
  if (!value.is_object()) throw FileError(path, "expected a JSON object");
  return value;
}

}  // namespace

void add_model_commands(CLI::App& app, Action& action) {
  {
    auto* cmd = app.add_subcommand("info", "Show a model file's format, architecture, sizes and parameter count");
    auto args = std::make_shared<ModelArgs>();
    auto json = std::make_shared<bool>(false);
    auto system = std::make_shared<bool>(false);
    cmd->add_option("model", args->model, "weights file or folder");
    cmd->add_option("-c,--checkpoint", args->checkpoint, "ActionCLIP training checkpoint to apply");
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->add_flag("--verify", args->verify, "also check every tensor against the archive's CRC-32 (corrupt downloads)");
    cmd->add_flag("--system", *system, "this machine instead: CPU features, the precisions that are fast here, libtorch, CUDA");
    cmd->callback([&action, args, json, system] {
      action = [args, json, system] {
        if (*system) return print_system_info(*json);
        if (args->model.empty()) throw Error("info needs a MODEL file or folder (or --system)");
        auto loaded = load_model_from_args(*args, false);
        const auto& c = loaded.model->clip->config();
        int64_t clip_params = 0, prompt_params = 0;
        for (const auto& p : loaded.model->clip->parameters()) clip_params += p.numel();
        for (const auto& p : loaded.model->fusion->parameters()) prompt_params += p.numel();
        nlohmann::json info = {{"path", loaded.path},
                               {"format", io::format_name(loaded.format)},
                               {"architecture", c},
                               {"visual_prompt", prompt_type_name(loaded.model->options().prompt)},
                               {"num_frames", loaded.model->options().num_frames},
                               {"parameters", {{"clip", clip_params}, {"visual_prompt", prompt_params}}},
                               {"unused_keys", loaded.unused_keys}};
        if (loaded.metadata.contains("labels")) info["labels"] = loaded.metadata.at("labels").size();
        if (*json) {
          print_json(info);
          return 0;
        }
        std::cout << "file            " << loaded.path << "\n"
                  << "format          " << io::format_name(loaded.format) << "\n"
                  << "image encoder   " << c.describe_image_encoder() << "\n"
                  << "text encoder    " << c.text_layers << " layers, width " << c.text_width << ", " << c.text_heads
                  << " heads, context " << c.context_length << ", vocabulary " << c.vocab_size << "\n"
                  << "embedding       " << c.embed_dim << "\n"
                  << "visual prompt   " << prompt_type_name(loaded.model->options().prompt) << " ("
                  << loaded.model->options().num_frames << " frames)\n"
                  << "parameters      " << clip_params + prompt_params << " (CLIP " << clip_params << ", prompt "
                  << prompt_params << ")\n"
                  << "logit scale     " << loaded.model->clip->logit_scale.exp().item<double>() << "\n";
        if (!loaded.unused_keys.empty()) std::cout << "unused keys     " << loaded.unused_keys.size() << "\n";
        return 0;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("convert", "Convert any supported weights to actionclip's safetensors format");
    auto args = std::make_shared<ModelArgs>();
    auto output = std::make_shared<std::string>();
    auto labels = std::make_shared<std::string>();
    auto labels_file = std::make_shared<std::string>();
    auto templates = std::make_shared<std::string>();
    cmd->add_option("input", args->model, "weights file or folder")->required();
    cmd->add_option("output", *output, "output .safetensors")->required();
    cmd->add_option("-c,--checkpoint", args->checkpoint, "ActionCLIP training checkpoint to merge in");
    cmd->add_option("--prompt", args->prompt, "visual prompt type to record (default: from weights)");
    cmd->add_option("--frames", args->frames, "frames per video to record");
    cmd->add_option("--labels", *labels, "comma-separated label names to store with the model");
    cmd->add_option("--labels-file", *labels_file, "label file to store with the model");
    cmd->add_option("--templates", *templates, "template set name or file to store with the model (default: the model's own)");
    auto compact = std::make_shared<bool>(false);
    auto fp16 = std::make_shared<bool>(false);
    auto extra_metadata = std::make_shared<std::string>();
    cmd->add_flag("--compact-vocabulary", *compact,
                  "keep only the tokens the stored labels and templates use; the tokenizer travels in the file");
    cmd->add_flag("--fp16", *fp16, "store the weights as float16 (half the size; loaded as float32)");
    cmd->add_option("--precision", args->precision,
                    "fp32, or int8: CLIP's projections stored as int8 with per-output-channel scales (a quarter of "
                    "their float32 size); such a file loads as an int8 model, on CPUs")
        ->check(CLI::IsMember({"fp32", "int8"}))
        ->capture_default_str();
    cmd->add_option("--metadata", *extra_metadata, "JSON file whose object is merged into the stored metadata");
    cmd->callback([&action, args, output, labels, labels_file, templates, compact, fp16, extra_metadata] {
      action = [args, output, labels, labels_file, templates, compact, fp16, extra_metadata] {
        auto loaded = load_model_from_args(*args, *compact);
        nlohmann::json& metadata = loaded.metadata;
        if (!metadata.is_object()) metadata = nlohmann::json::object();
        metadata["source"] = {{"path", loaded.path}, {"format", io::format_name(loaded.format)}};
        if (!labels->empty() || !labels_file->empty()) metadata["labels"] = resolve_labels(*labels, *labels_file, false);
        // The model's templates travel with it, so the converted file scores as the original does.
        metadata["templates"] = (templates->empty() ? loaded.templates : resolve_templates(*templates)).templates;
        if (!extra_metadata->empty()) metadata.update(read_json_object(*extra_metadata));
        if (*compact) {
          if (!metadata.contains("labels")) throw Error("--compact-vocabulary needs the labels to keep (--labels or --labels-file)");
          compact_vocabulary(loaded, metadata.at("labels").get<std::vector<std::string>>(),
                             metadata.at("templates").get<std::vector<std::string>>());
        }
        save_model(*output, loaded.model, metadata, *fp16 ? torch::kFloat16 : torch::kFloat32);
        std::cerr << "wrote " << *output << " (" << prompt_type_name(loaded.model->options().prompt) << ")\n";
        return 0;
      };
    });
  }
}

}  // namespace actionclip::cli
