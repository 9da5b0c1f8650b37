#pragma once
// Frame-accurate video decoding with FFmpeg. Frame i is the i-th picture a full decode of the
// best video stream yields (PyAV's `enumerate(container.decode(video=0))`), converted to rgb24
// exactly as PyAV's `frame.to_ndarray(format="rgb24")` converts it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actionclip/video/frame.h"

namespace actionclip::video {

class VideoReader {
 public:
  // Opens the file and its decoder. Throws actionclip::FileError naming the file when it is
  // missing or empty, is not a media file FFmpeg can read, has no video stream, or uses a codec
  // this FFmpeg cannot decode. `decoder_threads` = 0 lets FFmpeg choose; the default of one
  // thread suits data loaders that already decode many videos in parallel.
  explicit VideoReader(const std::string& path, int decoder_threads = 1);
  ~VideoReader();
  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;

  // Number of frames a full decode yields. Counted once by demuxing the stream (the container's
  // own count is wrong for truncated files and edit lists), then cached.
  int64_t frame_count();

  // Frames at 0-based indices, in the order asked, repeats allowed. Decodes forward and seeks to
  // the keyframe before a target when that skips enough frames; seeking is verified against
  // frame timestamps and abandoned for sequential decoding when the container cannot seek
  // exactly. Indices outside [0, frame_count()) throw std::out_of_range. A damaged stream
  // yields every frame it can; asking for a frame it cannot deliver throws FileError.
  // Rotation metadata is applied, so frames are upright.
  std::vector<Frame> read_frames(const std::vector<int64_t>& indices);

  // Presentation time of frame `index` in seconds after the stream's start (from its timestamp;
  // frame number / fps where the stream has none); nullopt when neither is known.
  std::optional<double> frame_seconds(int64_t index);

  double fps() const;               // average frame rate as FFmpeg guesses it
  int width() const;                // of the output frames, after rotation
  int height() const;
  std::string codec_name() const;   // FFmpeg's short name: "h264", "mpeg4", "vp9", ...
  double duration_seconds() const;  // from the stream, else the container; 0 when unknown
  int rotation() const;             // clockwise degrees applied to frames: 0, 90, 180 or 270
  const std::string& path() const;
  // Video packets sent to the decoder so far (including unreferenced pictures it was told to
  // skip): what seeking saves over decoding from the start.
  int64_t packets_decoded() const;
  // Pictures the decoder produced so far: the decoding work itself, since skipped pictures cost
  // next to nothing.
  int64_t pictures_decoded() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace actionclip::video
