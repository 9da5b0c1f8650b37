#pragma once
// The folder actionclip caches into (text embeddings, model files).
#include <string>

namespace actionclip {

// $ACTIONCLIP_CACHE, else $XDG_CACHE_HOME/actionclip, else ~/.cache/actionclip; empty when
// none of them is set.
std::string default_cache_dir();

}  // namespace actionclip
