#pragma once
// Still images (JPEG, PNG, BMP, ...) decoded by FFmpeg to rgb24.
#include <string>

#include "actionclip/video/frame.h"

namespace actionclip::video {

// Throws actionclip::FileError naming the file when it is missing or not a decodable image.
// Alpha is dropped, as PIL's convert("RGB") does.
Frame read_image(const std::string& path);

}  // namespace actionclip::video
