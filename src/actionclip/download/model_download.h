#pragma once
// Released CLIP models fetched into the model cache, as openai/CLIP's clip.load does.
#include <string>

#include "actionclip/download/http_download.h"
#include "actionclip/model/model_names.h"

namespace actionclip {

// Where a released model is fetched from: OpenAI's URL, or, with ACTIONCLIP_MODEL_BASE_URL set
// (a mirror), that URL's path under the base: <base>/clip/models/<sha256>/ViT-B-32.pt, and
// <base>/openai/CLIP/main/clip/bpe_simple_vocab_16e6.txt.gz for the tokenizer.
std::string released_model_url(const ReleasedModel& model);

// Downloads a released model to released_model_cache_path(model), verified against its SHA-256,
// and returns that path; CLIP's tokenizer too (released_tokenizer()) when it is not beside it. Offline or unreachable, the Error says which URL to fetch by other
// means and the exact path to put the file at.
std::string download_released_model(const ReleasedModel& model,
                                    const DownloadOptions& options = DownloadOptions::from_environment());

}  // namespace actionclip
