#include "actionclip/video/video_writer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <utility>

#include "actionclip/util/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/rational.h>
#include <libswscale/swscale.h>
}

namespace actionclip::video {
namespace {

struct OutputFormatDeleter {
  void operator()(AVFormatContext* ctx) const {
    if (ctx->pb && !(ctx->oformat->flags & AVFMT_NOFILE)) avio_closep(&ctx->pb);
    avformat_free_context(ctx);
  }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* ctx) const { avcodec_free_context(&ctx); }
};
struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct SwsDeleter {
  void operator()(SwsContext* ctx) const { sws_freeContext(ctx); }
};

// avcodec_open2 takes AVDictionary** and may replace the dictionary, so it is owned by hand.
class Dictionary {
 public:
  Dictionary() = default;
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;
  ~Dictionary() { av_dict_free(&dict_); }
  void set(const char* key, const char* value) { av_dict_set(&dict_, key, value, 0); }
  AVDictionary** get() { return &dict_; }
  // The first option the component did not consume, or nullptr.
  const char* first_unused() const {
    const AVDictionaryEntry* entry = av_dict_get(dict_, "", nullptr, AV_DICT_IGNORE_SUFFIX);
    return entry ? entry->key : nullptr;
  }

 private:
  AVDictionary* dict_ = nullptr;
};

std::string av_error(int code) {
  char buffer[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buffer, sizeof buffer);
  return buffer;
}

const AVCodec* find_encoder(VideoCodec codec) {
  switch (codec) {
    case VideoCodec::H264: return avcodec_find_encoder_by_name("libx264");
    // By name: avcodec_find_encoder(AV_CODEC_ID_MPEG4) may return a hardware wrapper.
    case VideoCodec::Mpeg4: return avcodec_find_encoder_by_name("mpeg4");
    case VideoCodec::Vp9: return avcodec_find_encoder_by_name("libvpx-vp9");
    case VideoCodec::Auto: break;
  }
  return nullptr;
}

const char* codec_label(VideoCodec codec) {
  switch (codec) {
    case VideoCodec::H264: return "H.264 (libx264)";
    case VideoCodec::Mpeg4: return "MPEG-4 part 2";
    case VideoCodec::Vp9: return "VP9 (libvpx-vp9)";
    case VideoCodec::Auto: break;
  }
  return "automatic";
}

struct Container {
  const char* format;  // FFmpeg muxer name
  VideoCodec default_codec;
};

Container container_for(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".mp4")
    return {"mp4", video_encoder_available(VideoCodec::H264) ? VideoCodec::H264 : VideoCodec::Mpeg4};
  if (ext == ".avi") return {"avi", VideoCodec::Mpeg4};
  if (ext == ".webm") return {"webm", VideoCodec::Vp9};
  throw FileError(path, "unsupported video container '" + ext + "' (expected .mp4, .avi or .webm)");
}

}  // namespace

bool video_encoder_available(VideoCodec codec) {
  return codec == VideoCodec::Auto || find_encoder(codec) != nullptr;
}

struct VideoWriter::Impl {
  std::string path;
  int width = 0, height = 0;
  std::unique_ptr<AVFormatContext, OutputFormatDeleter> format;
  std::unique_ptr<AVCodecContext, CodecContextDeleter> encoder;
  std::unique_ptr<AVFrame, FrameDeleter> yuv;
  std::unique_ptr<AVPacket, PacketDeleter> packet;
  std::unique_ptr<SwsContext, SwsDeleter> to_yuv;
  AVStream* stream = nullptr;  // owned by `format`
  int64_t next_pts = 0;

  [[noreturn]] void fail(const std::string& problem, int code) const {
    throw FileError(path, problem + ": " + av_error(code));
  }

  void open(const VideoWriterOptions& options, double fps);
  // Sends `frame` (nullptr: end of stream) and muxes every packet the encoder hands back.
  void encode(const AVFrame* frame);
  void finish();
};

void VideoWriter::Impl::open(const VideoWriterOptions& options, double fps) {
  if (width <= 0 || height <= 0)
    throw FileError(path, "invalid frame size " + std::to_string(width) + "x" + std::to_string(height));
  if (width % 2 != 0 || height % 2 != 0)
    throw FileError(path, "frame size " + std::to_string(width) + "x" + std::to_string(height) +
                              " is odd; yuv420p video needs even width and height");
  if (!std::isfinite(fps) || fps <= 0) throw FileError(path, "invalid frame rate " + std::to_string(fps));
  if (options.keyframe_interval < 0)
    throw FileError(path, "invalid keyframe interval " + std::to_string(options.keyframe_interval));

  const Container container = container_for(path);
  const VideoCodec codec = options.codec == VideoCodec::Auto ? container.default_codec : options.codec;
  const AVCodec* encoder_codec = find_encoder(codec);
  if (!encoder_codec)
    throw FileError(path, std::string("this FFmpeg build has no ") + codec_label(codec) + " encoder");

  AVFormatContext* raw_format = nullptr;
  if (int rc = avformat_alloc_output_context2(&raw_format, nullptr, container.format, path.c_str()); rc < 0)
    fail("cannot set up the output container", rc);
  format.reset(raw_format);
  if (avformat_query_codec(format->oformat, encoder_codec->id, FF_COMPLIANCE_NORMAL) != 1)
    throw FileError(path, std::string("a .") + container.format + " file cannot hold " + codec_label(codec));
  // Without this, muxers stamp library versions and random UIDs (Matroska) into the file.
  format->flags |= AVFMT_FLAG_BITEXACT;

  stream = avformat_new_stream(format.get(), nullptr);
  encoder.reset(avcodec_alloc_context3(encoder_codec));
  if (!stream || !encoder) fail("cannot allocate the encoder", AVERROR(ENOMEM));

  // The MPEG-4 standard caps the time base denominator at 65535.
  const AVRational rate = av_d2q(fps, 65535);
  encoder->width = width;
  encoder->height = height;
  encoder->pix_fmt = AV_PIX_FMT_YUV420P;
  encoder->framerate = rate;
  encoder->time_base = av_inv_q(rate);
  encoder->color_range = AVCOL_RANGE_MPEG;
  encoder->colorspace = AVCOL_SPC_SMPTE170M;  // BT.601, what swscale converts with by default
  if (options.keyframe_interval > 0) encoder->gop_size = options.keyframe_interval;
  // Slice and frame threading make the bitstream depend on scheduling.
  encoder->thread_count = 1;
  encoder->flags |= AV_CODEC_FLAG_BITEXACT;
  if (format->oformat->flags & AVFMT_GLOBALHEADER) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

  Dictionary encoder_options;
  switch (codec) {
    case VideoCodec::Mpeg4:
      encoder->flags |= AV_CODEC_FLAG_QSCALE;
      encoder->global_quality = 2 * FF_QP2LAMBDA;
      break;
    case VideoCodec::H264:
      encoder_options.set("crf", std::to_string(options.crf).c_str());
      break;
    case VideoCodec::Vp9:
      encoder->bit_rate = 0;  // constant quality, no bitrate target
      encoder_options.set("crf", std::to_string(options.crf).c_str());
      // The realtime speed preset is ~8x faster than "good" on small clips; CRF still bounds the
      // loss. A positive cpu-used fixes the speed features instead of adapting them to timing.
      encoder_options.set("deadline", "realtime");
      encoder_options.set("cpu-used", "8");
      break;
    case VideoCodec::Auto: break;
  }
  if (int rc = avcodec_open2(encoder.get(), encoder_codec, encoder_options.get()); rc < 0)
    fail(std::string("cannot open the ") + encoder_codec->name + " encoder", rc);
  if (const char* unused = encoder_options.first_unused())
    throw FileError(path, std::string("the ") + encoder_codec->name + " encoder does not know option '" + unused + "'");

  if (int rc = avcodec_parameters_from_context(stream->codecpar, encoder.get()); rc < 0)
    fail("cannot describe the video stream", rc);
  stream->time_base = encoder->time_base;
  stream->avg_frame_rate = rate;

  if (!(format->oformat->flags & AVFMT_NOFILE)) {
    if (int rc = avio_open(&format->pb, path.c_str(), AVIO_FLAG_WRITE); rc < 0)
      fail("cannot open for writing", rc);
  }
  if (int rc = avformat_write_header(format.get(), nullptr); rc < 0) fail("cannot write the container header", rc);

  yuv.reset(av_frame_alloc());
  packet.reset(av_packet_alloc());
  if (!yuv || !packet) fail("cannot allocate frame buffers", AVERROR(ENOMEM));
  yuv->format = AV_PIX_FMT_YUV420P;
  yuv->width = width;
  yuv->height = height;
  if (int rc = av_frame_get_buffer(yuv.get(), 0); rc < 0) fail("cannot allocate frame buffers", rc);

  // BITEXACT + ACCURATE_RND pin swscale to its C reference path, so the conversion does not
  // change with the CPU's SIMD extensions.
  to_yuv.reset(sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                              SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT, nullptr, nullptr, nullptr));
  if (!to_yuv) throw FileError(path, "cannot set up rgb24 to yuv420p conversion");
}

void VideoWriter::Impl::encode(const AVFrame* frame) {
  if (int rc = avcodec_send_frame(encoder.get(), frame); rc < 0) fail("encoding failed", rc);
  for (;;) {
    const int rc = avcodec_receive_packet(encoder.get(), packet.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    if (rc < 0) fail("encoding failed", rc);
    av_packet_rescale_ts(packet.get(), encoder->time_base, stream->time_base);
    packet->stream_index = stream->index;
    if (int write_rc = av_interleaved_write_frame(format.get(), packet.get()); write_rc < 0)
      fail("writing a packet failed", write_rc);
  }
}

void VideoWriter::Impl::finish() {
  encode(nullptr);
  if (int rc = av_write_trailer(format.get()); rc < 0) fail("cannot write the container trailer", rc);
  if (!(format->oformat->flags & AVFMT_NOFILE)) {
    if (int rc = avio_closep(&format->pb); rc < 0) fail("cannot finish writing", rc);
  }
}

VideoWriter::VideoWriter() = default;
VideoWriter::VideoWriter(VideoWriter&&) noexcept = default;

VideoWriter::VideoWriter(const std::string& path, int width, int height, double fps,
                         const VideoWriterOptions& options) {
  open(path, width, height, fps, options);
}

VideoWriter& VideoWriter::operator=(VideoWriter&& other) noexcept {
  if (this != &other) {
    try {
      close();
    } catch (...) {
      // Assignment cannot report; as in the destructor, close() explicitly to see errors.
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}

VideoWriter::~VideoWriter() {
  try {
    close();
  } catch (...) {
    // A destructor must not throw; the file is left as complete as it got.
  }
}

void VideoWriter::open(const std::string& path, int width, int height, double fps, const VideoWriterOptions& options) {
  close();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->width = width;
  impl->height = height;
  impl->open(options, fps);
  impl_ = std::move(impl);
}

void VideoWriter::write(const Frame& frame) {
  if (!impl_) throw Error("VideoWriter::write: no video file is open");
  Impl& w = *impl_;
  if (frame.width != w.width || frame.height != w.height)
    throw FileError(w.path, "frame is " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                                " but the video is " + std::to_string(w.width) + "x" + std::to_string(w.height));
  if (frame.rgb.size() != static_cast<size_t>(w.width) * w.height * 3)
    throw FileError(w.path, "frame holds " + std::to_string(frame.rgb.size()) + " bytes, expected " +
                                std::to_string(static_cast<size_t>(w.width) * w.height * 3) + " for rgb24");

  // The encoder may still reference the previous picture.
  if (int rc = av_frame_make_writable(w.yuv.get()); rc < 0) w.fail("cannot allocate frame buffers", rc);
  const uint8_t* const src[] = {frame.rgb.data()};
  const int src_stride[] = {3 * frame.width};
  sws_scale(w.to_yuv.get(), src, src_stride, 0, frame.height, w.yuv->data, w.yuv->linesize);
  w.yuv->pts = w.next_pts++;
  // With AV_CODEC_FLAG_QSCALE the MPEG-4 encoder takes its quantiser from each frame.
  w.yuv->quality = w.encoder->global_quality;
  w.encode(w.yuv.get());
}

void VideoWriter::close() {
  // Moved out first so the writer ends up closed (and FFmpeg state freed) even if finish() throws.
  if (std::unique_ptr<Impl> impl = std::move(impl_)) impl->finish();
}

std::string VideoWriter::encoder_name() const { return impl_ ? impl_->encoder->codec->name : std::string(); }

int64_t VideoWriter::frames_written() const { return impl_ ? impl_->next_pts : 0; }

}  // namespace actionclip::video
