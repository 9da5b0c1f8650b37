#include "actionclip/video/image_reader.h"

#include "actionclip/util/error.h"
#include "actionclip/video/video_reader.h"

namespace actionclip::video {

// FFmpeg demuxes a still image as a one-frame video (image2 and the *_pipe demuxers), so the
// video reader's decoding, pixel conversion and error reporting serve images unchanged.
Frame read_image(const std::string& path) {
  VideoReader reader(path);
  if (reader.frame_count() < 1) throw FileError(path, "contains no decodable image");
  return reader.read_frames({0}).front();
}

}  // namespace actionclip::video
