#include "actionclip/util/install_paths.h"

#include <dlfcn.h>

#include "actionclip/build_paths.h"

namespace actionclip {

std::vector<std::filesystem::path> installed_data_dirs() {
  std::vector<std::filesystem::path> dirs;
  Dl_info info{};
  // Any symbol of this library tells the dynamic loader which file it came from.
  if (::dladdr(reinterpret_cast<const void*>(&installed_data_dirs), &info) && info.dli_fname)
    dirs.push_back((std::filesystem::path(info.dli_fname).parent_path() / ACTIONCLIP_DATA_DIR_FROM_LIBRARY)
                       .lexically_normal());
  dirs.emplace_back(ACTIONCLIP_DATA_DIR);
  return dirs;
}

}  // namespace actionclip
