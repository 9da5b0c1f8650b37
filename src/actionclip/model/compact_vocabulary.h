#pragma once
// A model that carries its own, smaller text vocabulary. CLIP's 49408-token embedding table is
// most of a tiny model (6.3M of its parameters at width 128), yet a model trained on a closed
// set of labels only ever sees a few hundred tokens. Cut to those, the table shrinks 100-fold
// and the tokenizer (a few kB of JSON) travels in the model file's metadata, so the model needs
// no tokenizer file beside it.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actionclip/model/model_io.h"

namespace actionclip {

// Keeps the tokens that `labels` in `templates` need (Tokenizer::subset_for) in LOADED's tokenizer
// and token embedding, and records the cut tokenizer in its metadata ("tokenizer": {"vocab",
// "merges"}), which save_model writes and load_model reads. Each of those prompts embeds exactly
// as before; other text falls back to the tokens kept. LOADED needs its tokenizer.
void compact_vocabulary(LoadedModel& loaded, const std::vector<std::string>& labels,
                        const std::vector<std::string>& templates);

// The tokenizer stored in a model file's metadata by compact_vocabulary, or nullptr when there
// is none. A malformed entry is a FileError naming `path`.
std::shared_ptr<const Tokenizer> metadata_tokenizer(const nlohmann::json& metadata, const std::string& path);

}  // namespace actionclip
