#include "actionclip/util/cache_dir.h"

#include <cstdlib>
#include <filesystem>

namespace actionclip {
namespace fs = std::filesystem;

std::string default_cache_dir() {
  if (const char* dir = std::getenv("ACTIONCLIP_CACHE")) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME")) return (fs::path(xdg) / "actionclip").string();
  if (const char* home = std::getenv("HOME")) return (fs::path(home) / ".cache" / "actionclip").string();
  return {};
}

}  // namespace actionclip
