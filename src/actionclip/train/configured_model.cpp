#include "actionclip/train/configured_model.h"


#include "actionclip/model/compact_vocabulary.h"
#include "actionclip/model/model_names.h"
#include "actionclip/train/trainer.h"
#include "actionclip/util/error.h"
#include "actionclip/util/notices.h"

namespace actionclip {

PromptType prompt_of(const NetworkConfig& n) {
  if (n.tsm) return PromptType::Shift;
  if (n.joint) return PromptType::Joint;
  return prompt_type_from_name(n.sim_header);
}

namespace {

// The CLIP file the model starts from; empty for random weights.
std::string starting_weights(const TrainConfig& c) {
  const auto& n = c.network;
  if (!n.pretrained.empty()) return resolve_model_name(n.pretrained);
  // An ActionCLIP checkpoint holds every CLIP weight, so the released model under it is not needed.
  if (!c.pretrain.empty()) return c.pretrain;
  if (released_model_file_name(n.arch)) {
    if (auto found = find_released_model(n.arch)) return *found;
    if (n.init) return resolve_model_name(n.arch);  // downloaded (or an error saying where to put the file)
    notices() << "actionclip: " << c.source << ": network.init is false and " << n.arch
              << " is not in the model cache (" << model_cache_dir()
              << "): both encoders start random (the reference would load the image encoder's weights; "
              << "`actionclip models --download " << n.arch << "` fetches them)\n";
    return {};
  }
  if (n.init) {
    std::string names;
    for (const auto& model : released_models()) names += (names.empty() ? "" : ", ") + model.name;
    throw FileError(c.source, "network.arch '" + n.arch + "' is no released CLIP model (" + names +
                                  "): give network.pretrained, or network.init: false for random weights of its shape");
  }
  return {};
}

// The reference's network.init false: the text encoder (and logit scale) keep a fresh initialisation.
void reinitialize_text_encoder(ClipModelImpl& clip) {
  torch::NoGradGuard no_grad;
  ClipModel fresh(clip.config());
  auto fresh_params = fresh->named_parameters();
  for (auto& p : clip.named_parameters())
    if (p.key().rfind("visual.", 0) != 0) p.value().copy_(fresh_params[p.key()]);
}

void assign_checkpoint(ActionClipModel& model, io::Checkpoint& checkpoint, const std::string& path, bool prompt_required) {
  normalize_time_embedding(checkpoint.clip);
  // Joint's temporal embedding is new to plain CLIP weights: it starts at zero.
  if (model->options().prompt == PromptType::Joint && !checkpoint.clip.count("visual.time_embedding"))
    checkpoint.clip.emplace("visual.time_embedding",
                            model->clip->vision_transformer("the Joint prompt")->time_embedding.detach().clone());
  assign_state(*model->clip, checkpoint.clip, path, "CLIP");
  if (!model->fusion->has_parameters()) return;
  // The reference loads a `pretrain` checkpoint's prompt strictly; plain CLIP weights bring none, and
  // a prompt of another kind stored with network.pretrained is left for the new one to replace.
  if (prompt_required || (!checkpoint.fusion.empty() && infer_prompt_type(checkpoint.fusion) == model->options().prompt))
    assign_state(*model->fusion, checkpoint.fusion, path, "visual prompt");
}

}  // namespace

LoadedModel load_configured_model(const TrainConfig& c) {
  const auto& n = c.network;
  const ActionClipOptions options{prompt_of(n), c.data.num_segments, n.reference_conv1d};
  LoadedModel out;
  const auto weights = starting_weights(c);
  if (weights.empty()) {
    out.model = ActionClipModel(clip_config_for_arch(n.arch), options);
    out.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_openai_bpe(find_bpe_file(n.bpe, "")));
  } else {
    auto checkpoint = io::read_checkpoint(weights);
    ClipConfig clip_config;
    try {
      clip_config = checkpoint.metadata.contains("clip") ? checkpoint.metadata.at("clip").get<ClipConfig>()
                                                         : ClipConfig::infer(checkpoint.clip);
    } catch (const std::exception& e) {
      throw FileError(weights, e.what());
    }
    if (checkpoint.gelu_activation) clip_config.activation = Activation::Gelu;
    out.model = ActionClipModel(clip_config, options);
    const bool from_pretrain = weights == c.pretrain;
    assign_checkpoint(out.model, checkpoint, weights, from_pretrain);
    if (!n.init && !from_pretrain) reinitialize_text_encoder(*out.model->clip);
    if (!c.pretrain.empty() && !from_pretrain) {
      auto pretrain = io::read_checkpoint(c.pretrain);
      assign_checkpoint(out.model, pretrain, c.pretrain, true);
    }
    if (auto carried = metadata_tokenizer(checkpoint.metadata, weights))
      out.tokenizer = std::move(carried);
    else
      out.tokenizer = checkpoint.hf_vocab_json.empty()
                          ? std::make_shared<const Tokenizer>(Tokenizer::from_openai_bpe(find_bpe_file(n.bpe, weights)))
                          : std::make_shared<const Tokenizer>(
                                Tokenizer::from_hf_files(checkpoint.hf_vocab_json, checkpoint.hf_merges_txt));
    out.format = checkpoint.format;
    out.path = weights;
    out.metadata = checkpoint.metadata;
  }
  const auto& clip_config = out.model->clip->config();
  // Other sizes than the model's resolution interpolate the positional embedding; the grid must be whole.
  if (c.data.input_size < 0 || c.data.input_size % clip_config.vision_patch_size != 0)
    throw FileError(c.source, "data.input_size " + std::to_string(c.data.input_size) +
                                  " is not a multiple of the image encoder's patch size " +
                                  std::to_string(clip_config.vision_patch_size));
  out.model->clip->set_dropout(n.emb_dropout, n.drop_out);
  const bool actionclip_weights =
      !c.pretrain.empty() || (!weights.empty() && out.format == io::CheckpointFormat::ActionClipCheckpoint);
  out.templates = model_templates(out.metadata, actionclip_weights);
  out.model->train();
  return out;
}

int configured_input_size(const TrainConfig& config, const ClipConfig& model) {
  return config.data.input_size > 0 ? config.data.input_size : static_cast<int>(model.image_resolution);
}

}  // namespace actionclip
