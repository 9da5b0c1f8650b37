#pragma once
// The files under web/ (the page at /, its script and style, the label lists), compiled into
// the library at build time (cmake/embed_web_assets.cmake), so the binary serves them alone.
#include <string_view>
#include <vector>

namespace actionclip::serve {

struct WebAsset {
  std::string_view path;          // relative to web/: "index.html", "labels/ucf101.csv"
  std::string_view content_type;  // from the extension
  std::string_view body;
};

const std::vector<WebAsset>& web_assets();

}  // namespace actionclip::serve
