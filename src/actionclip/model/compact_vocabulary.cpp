#include "actionclip/model/compact_vocabulary.h"

#include "actionclip/model/text_prompts.h"
#include "actionclip/util/error.h"

namespace actionclip {

namespace {

io::TensorMap state_of(torch::nn::Module& module) {
  io::TensorMap out;
  for (const auto& p : module.named_parameters()) out.emplace(p.key(), p.value().detach());
  for (const auto& b : module.named_buffers()) out.emplace(b.key(), b.value().detach());
  return out;
}

}  // namespace

void compact_vocabulary(LoadedModel& loaded, const std::vector<std::string>& labels,
                        const std::vector<std::string>& templates) {
  if (!loaded.tokenizer) throw Error("compact_vocabulary: the model was loaded without its tokenizer");
  std::vector<std::string> prompts;
  for (const auto& label : labels)
    for (const auto& templ : templates) prompts.push_back(apply_template(templ, label));
  const auto subset = loaded.tokenizer->subset_for(prompts);

  auto clip_state = state_of(*loaded.model->clip);
  auto& embedding = clip_state.at("token_embedding.weight");
  const auto kept = torch::tensor(subset.kept_ids, torch::kLong).to(embedding.device());
  embedding = embedding.index_select(0, kept);

  ClipConfig config = loaded.model->clip->config();
  config.vocab_size = static_cast<int64_t>(subset.kept_ids.size());
  ActionClipModel compact(config, loaded.model->options());
  compact->to(embedding.device());
  assign_state(*compact->clip, clip_state, loaded.path, "CLIP");
  if (compact->fusion->has_parameters())
    assign_state(*compact->fusion, state_of(*loaded.model->fusion), loaded.path, "visual prompt");
  compact->train(loaded.model->is_training());

  loaded.model = compact;
  loaded.tokenizer = std::make_shared<const Tokenizer>(
      Tokenizer::from_hf_text(subset.vocab_json, subset.merges_txt, loaded.path, loaded.path));
  if (!loaded.metadata.is_object()) loaded.metadata = nlohmann::json::object();
  loaded.metadata["tokenizer"] = {{"vocab", nlohmann::json::parse(subset.vocab_json)}, {"merges", subset.merges_txt}};
}

std::shared_ptr<const Tokenizer> metadata_tokenizer(const nlohmann::json& metadata, const std::string& path) {
  if (!metadata.is_object() || !metadata.contains("tokenizer")) return nullptr;
  const auto& entry = metadata.at("tokenizer");
  if (!entry.is_object() || !entry.contains("vocab") || !entry.value("vocab", nlohmann::json()).is_object() ||
      !entry.value("merges", nlohmann::json()).is_string())
    throw FileError(path, "metadata 'tokenizer' needs a 'vocab' object (token -> id) and a 'merges' string");
  const std::string source = path + " (metadata 'tokenizer')";
  return std::make_shared<const Tokenizer>(
      Tokenizer::from_hf_text(entry.at("vocab").dump(), entry.at("merges").get<std::string>(), source, source));
}

}  // namespace actionclip
