#pragma once
// Encodes rgb24 frames into a video file with FFmpeg. Used to make synthetic datasets and
// benchmark clips, so it favours fidelity and reproducibility over file size:
//  * quality is high by default (MPEG-4 part 2 at qscale 2, x264 and VP9 at CRF 15), so what a
//    reader decodes is close to what was written;
//  * encoders run single-threaded with FFmpeg's bitexact flags, so identical frames give
//    byte-identical files on a given FFmpeg build.
// Pixels are stored as yuv420p (BT.601, limited range), the format every decoder accepts.
// 4:2:0 halves the chroma planes, so width and height must be even: odd sizes are rejected
// rather than padded, since a silently enlarged picture would not round-trip.
#include <cstdint>
#include <memory>
#include <string>

#include "actionclip/video/frame.h"

namespace actionclip::video {

enum class VideoCodec {
  Auto,   // by container: .mp4 -> H264 (MPEG-4 part 2 without libx264), .avi -> Mpeg4, .webm -> Vp9
  H264,   // libx264
  Mpeg4,  // FFmpeg's native MPEG-4 part 2 encoder
  Vp9,    // libvpx-vp9
};

struct VideoWriterOptions {
  VideoCodec codec = VideoCodec::Auto;
  // Distance between keyframes in frames; 0 keeps the encoder's default. 1 (intra-only) makes
  // every decoded frame depend on its own picture alone, independent of frame order.
  int keyframe_interval = 0;
  // Constant rate factor of x264 and VP9: 15 is close to lossless; 23 is x264's own default, the
  // quality dataset caches are usually stored at. MPEG-4 part 2 always uses qscale 2.
  int crf = 15;
};

// Whether this FFmpeg build has the encoder behind `codec` (Auto: always true, since the
// native MPEG-4 encoder is the fallback).
bool video_encoder_available(VideoCodec codec);

// Writes one video file. The container is chosen by the path's extension (.mp4, .avi, .webm).
// Every failure throws actionclip::FileError naming the path.
class VideoWriter {
 public:
  VideoWriter();
  VideoWriter(const std::string& path, int width, int height, double fps, const VideoWriterOptions& options = {});
  VideoWriter(VideoWriter&&) noexcept;
  VideoWriter& operator=(VideoWriter&&) noexcept;
  // Finishes the file if close() was not called; errors are swallowed there, so call close()
  // to see them.
  ~VideoWriter();

  // Finishes any file already open, then creates `path` (overwriting it).
  void open(const std::string& path, int width, int height, double fps, const VideoWriterOptions& options = {});
  // Appends a frame; it must have the size given to open().
  void write(const Frame& frame);
  // Flushes the encoder and writes the container trailer. The writer is closed afterwards
  // even when this throws.
  void close();

  bool is_open() const { return impl_ != nullptr; }
  // The FFmpeg encoder in use ("libx264", "mpeg4", "libvpx-vp9"); empty when closed.
  std::string encoder_name() const;
  int64_t frames_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace actionclip::video
