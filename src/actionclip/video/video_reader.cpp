#include "actionclip/video/video_reader.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "actionclip/util/error.h"

namespace actionclip::video {
namespace {

struct FormatCloser {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecFreer {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameFreer {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFreer {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFreer>;

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

// Seeking back and forth costs a decoder flush and a re-decode from the keyframe; below this
// many skipped frames, decoding straight on is cheaper.
constexpr int64_t kMinFramesSkippedBySeek = 8;

// What one demuxing pass learns about the video packets, in presentation order.
struct PacketIndex {
  std::vector<int64_t> pts;               // sorted: pts[i] is the timestamp of frame i
  std::vector<int64_t> keyframes;         // frame indices of keyframes, ascending
  std::map<int64_t, int64_t> seek_stamp;  // keyframe index -> timestamp to seek to
  bool seekable = false;                  // every packet has a distinct pts
};

// Clockwise rotation that makes frames upright, from the display matrix (as ffmpeg's autorotate).
int rotation_of(const AVStream* stream) {
  const auto* matrix =
      reinterpret_cast<const int32_t*>(av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr));
  if (!matrix) return 0;
  const double ccw = av_display_rotation_get(matrix);
  if (std::isnan(ccw)) return 0;
  const int cw = static_cast<int>(std::lround(-ccw / 90.0)) * 90;
  return ((cw % 360) + 360) % 360;
}

// MP4/MOV headers describe each video stream completely: size, codec configuration and, from the
// composition offsets, the reordering delay. Probing them decodes a picture and demuxes dozens of
// packets for nothing: 1.2 ms per open of a 320x240 clip.
bool header_describes_video(const AVFormatContext& format) {
  if (std::string_view(format.iformat->name).rfind("mov,", 0) != 0) return false;
  bool any_video = false;
  for (unsigned i = 0; i < format.nb_streams; ++i) {
    const AVCodecParameters& par = *format.streams[i]->codecpar;
    if (par.codec_type != AVMEDIA_TYPE_VIDEO) continue;
    if (par.codec_id == AV_CODEC_ID_NONE || par.width <= 0 || par.height <= 0 || par.extradata_size <= 0)
      return false;
    any_video = true;
  }
  return any_video;
}

Frame rotate(Frame in, int degrees) {
  if (degrees == 0) return in;
  const bool transposed = degrees != 180;
  Frame out{transposed ? in.height : in.width, transposed ? in.width : in.height,
            std::vector<uint8_t>(in.rgb.size())};
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx, sy;
      if (degrees == 90) {
        sx = y, sy = in.height - 1 - x;
      } else if (degrees == 180) {
        sx = in.width - 1 - x, sy = in.height - 1 - y;
      } else {
        sx = in.width - 1 - y, sy = x;
      }
      std::copy_n(&in.rgb[(static_cast<size_t>(sy) * in.width + sx) * 3], 3,
                  &out.rgb[(static_cast<size_t>(y) * out.width + x) * 3]);
    }
  }
  return out;
}

}  // namespace

struct VideoReader::Impl {
  std::string path;
  int threads = 1;
  FormatPtr format;
  CodecPtr codec;
  AVStream* stream = nullptr;
  FramePtr frame{av_frame_alloc()};
  PacketPtr packet{av_packet_alloc()};
  SwsPtr sws;
  int rotation = 0;
  std::optional<PacketIndex> index;

  // Decoder position. After opening, frames are numbered by counting; after a seek, by looking
  // their timestamps up in the index (frames before `seek_floor` may lack references: dropped).
  int64_t last_index = -1;
  bool numbered_by_pts = false;
  int64_t seek_floor = 0;
  bool seek_trusted = true;
  bool flushed = false;  // the end of the stream was sent to the decoder
  bool demuxed_to_end = false;  // the index pass left the demuxer at the end; the next read seeks
  // The next read seeks anyway: once the target's packet is in, drain the decoder instead of
  // decoding the packets its reordering delay would otherwise wait for.
  bool drain_after_target = false;
  bool drained = false;  // drained that way: the next read must seek
  int64_t packets_decoded = 0;
  int64_t pictures_decoded = 0;
  // Presentation timestamp of the frame being decoded towards.
  int64_t target_pts = AV_NOPTS_VALUE;
  // Timestamps of every frame the current read_frames call wants, sorted. While frames are
  // numbered by timestamp, pictures no other picture references (B-frames, mostly) are decoded
  // only when wanted: skipping them is exact and saves most of the work between keyframes. (Not
  // just the current target: the reordering delay sends the packets after it to the decoder
  // before it comes out, and those may be the next wanted frames.)
  std::vector<int64_t> wanted_pts;

  [[noreturn]] void fail(const std::string& problem) const { throw FileError(path, problem); }

  // `count_frames`: frames will be numbered by counting decoder output rather than by timestamp.
  void open(bool count_frames) {
    AVFormatContext* raw = nullptr;
    if (int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); err < 0)
      fail("not a readable media file (" + av_error(err) + ")");
    format.reset(raw);
    // Unprobed streams are only read by timestamp, which verifies every frame against the index.
    // Counting probes as PyAV does: a decoder that learns its reordering delay late may emit the
    // first pictures out of order.
    if (count_frames || !header_describes_video(*format))
      if (int err = avformat_find_stream_info(format.get(), nullptr); err < 0)
        fail("cannot read stream information (" + av_error(err) + ")");
    const AVCodec* decoder = nullptr;
    const int found = av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    // Cover art in audio files is a one-picture "video" stream; it is not a video.
    if (found == AVERROR_STREAM_NOT_FOUND ||
        (found >= 0 && format->streams[found]->disposition & AV_DISPOSITION_ATTACHED_PIC))
      fail("no video stream");
    if (found == AVERROR_DECODER_NOT_FOUND) {
      const int any = av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
      fail("unsupported video codec '" + std::string(avcodec_get_name(format->streams[any]->codecpar->codec_id)) +
           "'");
    }
    if (found < 0) fail("cannot select a video stream (" + av_error(found) + ")");
    stream = format->streams[found];
    for (unsigned i = 0; i < format->nb_streams; ++i)
      if (static_cast<int>(i) != found) format->streams[i]->discard = AVDISCARD_ALL;

    codec.reset(avcodec_alloc_context3(decoder));
    if (!codec) throw std::bad_alloc();
    if (int err = avcodec_parameters_to_context(codec.get(), stream->codecpar); err < 0)
      fail("bad codec parameters (" + av_error(err) + ")");
    codec->pkt_timebase = stream->time_base;
    codec->thread_count = threads;
    if (int err = avcodec_open2(codec.get(), decoder, nullptr); err < 0)
      fail("cannot open the " + std::string(decoder->name) + " decoder (" + av_error(err) + ")");
    rotation = rotation_of(stream);
    last_index = -1;
    numbered_by_pts = false;
    flushed = false;
    demuxed_to_end = drained = false;
  }

  // One demuxing pass over the whole file; cheap next to decoding. Read errors end the pass the
  // way they end decoding, so a truncated file counts only the packets it really holds.
  void build_index() {
    PacketIndex idx;
    struct Entry {
      int64_t pts, seek_ts;
      bool key;
    };
    std::vector<Entry> entries;
    bool all_pts = true;
    while (av_read_frame(format.get(), packet.get()) >= 0) {
      const AVPacket& p = *packet;
      if (p.stream_index == stream->index && p.size > 0 && !(p.flags & AV_PKT_FLAG_DISCARD)) {
        all_pts &= p.pts != AV_NOPTS_VALUE;
        // Seek by the keyframe's pts: Matroska indexes by pts, and MP4's demuxer first subtracts
        // the B-frame delay from the request, so a keyframe's dts would land one keyframe early
        // (decoding a whole extra GOP). Where the index holds dts, a keyframe's pts still comes
        // before the next keyframe's dts. Verification after the seek catches any demuxer that
        // lands elsewhere.
        const int64_t seek_ts = p.pts == AV_NOPTS_VALUE ? p.dts : p.pts;
        entries.push_back({p.pts, seek_ts, (p.flags & AV_PKT_FLAG_KEY) != 0});
      }
      av_packet_unref(packet.get());
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.pts < b.pts; });
    idx.seekable = all_pts && !entries.empty();
    for (size_t i = 0; i < entries.size(); ++i) {
      idx.pts.push_back(entries[i].pts);
      if (i > 0 && entries[i].pts == entries[i - 1].pts) idx.seekable = false;
      if (entries[i].key && entries[i].seek_ts != AV_NOPTS_VALUE) {
        idx.keyframes.push_back(static_cast<int64_t>(i));
        idx.seek_stamp[static_cast<int64_t>(i)] = entries[i].seek_ts;
      }
    }
    index = std::move(idx);
    // Demuxing consumed the file. A seekable stream seeks (verified) to its first wanted
    // keyframe next; otherwise decoding starts from a fresh open.
    if (index->seekable) demuxed_to_end = true;
    else open(true);
  }

  int64_t frame_count() {
    if (!index) build_index();
    return static_cast<int64_t>(index->pts.size());
  }

  // Keyframe at or before `target` in presentation order, or -1.
  int64_t keyframe_before(int64_t target) const {
    const auto& keys = index->keyframes;
    auto it = std::upper_bound(keys.begin(), keys.end(), target);
    return it == keys.begin() ? -1 : *std::prev(it);
  }

  // Whether reaching `target` from decoder position `position` warrants a seek.
  bool seek_skips_enough(int64_t target, int64_t position) const {
    return keyframe_before(target) > position + kMinFramesSkippedBySeek;
  }

  bool seek_to_keyframe(int64_t key) {
    if (av_seek_frame(format.get(), stream->index, index->seek_stamp.at(key), AVSEEK_FLAG_BACKWARD) < 0)
      return false;
    avcodec_flush_buffers(codec.get());
    flushed = false;
    numbered_by_pts = true;
    demuxed_to_end = drained = false;
    seek_floor = key;
    last_index = key - 1;  // provisional until the first frame reports where the seek landed
    return true;
  }

  void rewind() {
    if (last_index == -1 && !numbered_by_pts) return;
    open(true);
  }

  // Next decoded picture into `frame`; false at the end of the stream.
  bool decode_next() {
    for (;;) {
      const int got = avcodec_receive_frame(codec.get(), frame.get());
      if (got == 0) {
        ++pictures_decoded;
        return true;
      }
      if (got == AVERROR_EOF) return false;
      if (got != AVERROR(EAGAIN)) fail("decoding failed (" + av_error(got) + ")");
      if (flushed) return false;
      const int read = av_read_frame(format.get(), packet.get());
      if (read < 0) {
        // Truncation and read errors end the stream; the decoder still owes its delayed frames.
        avcodec_send_packet(codec.get(), nullptr);
        flushed = true;
        continue;
      }
      if (packet->stream_index == stream->index && packet->size > 0) {
        // Frame-threaded decoders read skip_frame asynchronously: only single-threaded ones skip.
        // Intra-only codecs (MJPEG, PNG, ...) gain nothing from skipping and are left alone.
        const bool intra_only = codec->codec_descriptor && (codec->codec_descriptor->props & AV_CODEC_PROP_INTRA_ONLY);
        const bool may_skip = !intra_only && numbered_by_pts && !wanted_pts.empty() &&
                              codec->active_thread_type != FF_THREAD_FRAME && packet->pts != AV_NOPTS_VALUE;
        const bool wanted = std::binary_search(wanted_pts.begin(), wanted_pts.end(), packet->pts);
        codec->skip_frame = may_skip && !wanted ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        ++packets_decoded;
        const int sent = avcodec_send_packet(codec.get(), packet.get());
        // A corrupt packet costs its picture (the decoder conceals what it can), not the video.
        if (sent < 0 && sent != AVERROR_INVALIDDATA) {
          av_packet_unref(packet.get());
          fail("decoding failed (" + av_error(sent) + ")");
        }
        if (drain_after_target && numbered_by_pts && packet->pts == target_pts) {
          avcodec_send_packet(codec.get(), nullptr);
          flushed = drained = true;
        }
      }
      av_packet_unref(packet.get());
    }
  }

  // Index of the picture in `frame`; -1 when its timestamp is not in the index.
  int64_t number_decoded_frame() const {
    if (!numbered_by_pts) return last_index + 1;
    const int64_t pts = frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
    const auto& table = index->pts;
    auto it = std::lower_bound(table.begin(), table.end(), pts);
    return it != table.end() && *it == pts ? it - table.begin() : -1;
  }

  // Leaves the decoder having just produced frame `target`. Returns false when a seek proved
  // inexact (the caller then retries sequentially).
  bool advance_to(int64_t target) {
    target_pts = index->pts.at(static_cast<size_t>(target));
    if (seek_trusted && index->seekable) {
      const int64_t key = keyframe_before(target);
      const bool behind = target <= last_index;
      // From a fresh open a seek to the first keyframe costs nothing and numbers frames by
      // timestamp from then on, which allows skipping unreferenced pictures.
      const bool at_start = last_index == -1 && !numbered_by_pts && target > key;
      if (key >= 0 && (behind || at_start || demuxed_to_end || drained || seek_skips_enough(target, last_index))) {
        if (!seek_to_keyframe(key)) return false;
      } else if (behind || demuxed_to_end || drained) {
        open(true);
      }
    } else if (target <= last_index) {
      rewind();
    }
    while (decode_next()) {
      const int64_t number = number_decoded_frame();
      if (numbered_by_pts) {
        if (number < 0) return false;
        if (number < seek_floor) continue;
        if (number > target || (last_index == seek_floor - 1 && number != seek_floor)) return false;
      }
      last_index = number;
      if (number == target) return true;
    }
    // A seek that leads to no picture at all (single-image demuxers) proves nothing about the
    // stream: decode from the start instead.
    if (numbered_by_pts && last_index == seek_floor - 1) return false;
    fail("frame " + std::to_string(target) + " cannot be decoded: the stream ends after " +
         std::to_string(last_index + 1) + " of " + std::to_string(index->pts.size()) + " frames");
  }

  // Converts `frame` as PyAV's reformat does: SWS_BILINEAR, the decoder's pixel format and the
  // swscale default colourspace, into a 16-byte aligned picture like PyAV's own.
  Frame to_rgb() {
    const int w = frame->width, h = frame->height;
    sws.reset(sws_getCachedContext(sws.release(), w, h, static_cast<AVPixelFormat>(frame->format), w, h,
                                   AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
    if (!sws) fail("cannot convert pixel format " + std::string(av_get_pix_fmt_name(
                                                       static_cast<AVPixelFormat>(frame->format))) + " to rgb24");
    uint8_t* data[4] = {};
    int linesize[4] = {};
    if (av_image_alloc(data, linesize, w, h, AV_PIX_FMT_RGB24, 16) < 0) throw std::bad_alloc();
    std::unique_ptr<uint8_t, void (*)(void*)> owner(data[0], av_free);
    sws_scale(sws.get(), frame->data, frame->linesize, 0, h, data, linesize);
    Frame out{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (int y = 0; y < h; ++y)
      std::copy_n(data[0] + static_cast<ptrdiff_t>(y) * linesize[0], w * 3, &out.rgb[static_cast<size_t>(y) * w * 3]);
    return rotate(std::move(out), rotation);
  }

  std::vector<Frame> read_frames(const std::vector<int64_t>& indices) {
    const int64_t count = frame_count();
    for (int64_t i : indices)
      if (i < 0 || i >= count)
        throw std::out_of_range(path + ": frame index " + std::to_string(i) + " outside [0, " +
                                std::to_string(count) + ")");
    std::vector<int64_t> wanted(indices);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    wanted_pts.clear();
    for (int64_t i : wanted) wanted_pts.push_back(index->pts.at(static_cast<size_t>(i)));
    std::map<int64_t, Frame> decoded;
    for (size_t i = 0; i < wanted.size(); ++i) {
      const int64_t target = wanted[i];
      drain_after_target = seek_trusted && index->seekable &&
                           (i + 1 == wanted.size() || seek_skips_enough(wanted[i + 1], target));
      if (!advance_to(target)) {
        // The container does not seek exactly: number frames by counting from the start.
        seek_trusted = false;
        open(true);
        advance_to(target);
      }
      decoded.emplace(target, to_rgb());
    }
    std::map<int64_t, int> uses;
    for (int64_t i : indices) ++uses[i];
    std::vector<Frame> out;
    out.reserve(indices.size());
    for (int64_t i : indices) out.push_back(--uses[i] == 0 ? std::move(decoded.at(i)) : decoded.at(i));
    return out;
  }
};

VideoReader::VideoReader(const std::string& path, int decoder_threads) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->threads = decoder_threads;
  if (!impl_->frame || !impl_->packet) throw std::bad_alloc();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) impl_->fail("no such file");
  if (std::filesystem::is_directory(status)) impl_->fail("is a directory, not a video file");
  if (std::filesystem::is_regular_file(status) && std::filesystem::file_size(path, ec) == 0 && !ec)
    impl_->fail("file is empty");
  // Until the index shows whether the stream seeks exactly, assume it does (the usual case).
  impl_->open(false);
}

VideoReader::~VideoReader() = default;
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;

int64_t VideoReader::frame_count() { return impl_->frame_count(); }

std::vector<Frame> VideoReader::read_frames(const std::vector<int64_t>& indices) {
  return impl_->read_frames(indices);
}

std::optional<double> VideoReader::frame_seconds(int64_t index) {
  const int64_t count = frame_count();
  if (index < 0 || index >= count)
    throw std::out_of_range(impl_->path + ": frame index " + std::to_string(index) + " outside [0, " +
                            std::to_string(count) + ")");
  const auto& pts = impl_->index->pts;
  const AVStream* s = impl_->stream;
  // Sorted, so a packet without a timestamp would come first.
  if (pts.front() != AV_NOPTS_VALUE) {
    const int64_t start = s->start_time != AV_NOPTS_VALUE ? s->start_time : pts.front();
    return static_cast<double>(pts[static_cast<size_t>(index)] - start) * av_q2d(s->time_base);
  }
  const double rate = fps();
  if (rate > 0) return static_cast<double>(index) / rate;
  return std::nullopt;
}

double VideoReader::fps() const {
  const AVRational rate = av_guess_frame_rate(impl_->format.get(), impl_->stream, nullptr);
  return rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
}

int VideoReader::width() const {
  return impl_->rotation % 180 ? impl_->stream->codecpar->height : impl_->stream->codecpar->width;
}

int VideoReader::height() const {
  return impl_->rotation % 180 ? impl_->stream->codecpar->width : impl_->stream->codecpar->height;
}

std::string VideoReader::codec_name() const { return avcodec_get_name(impl_->stream->codecpar->codec_id); }

double VideoReader::duration_seconds() const {
  const AVStream* s = impl_->stream;
  if (s->duration != AV_NOPTS_VALUE && s->duration > 0) return s->duration * av_q2d(s->time_base);
  const int64_t d = impl_->format->duration;
  return d != AV_NOPTS_VALUE && d > 0 ? static_cast<double>(d) / AV_TIME_BASE : 0.0;
}

int VideoReader::rotation() const { return impl_->rotation; }

const std::string& VideoReader::path() const { return impl_->path; }

int64_t VideoReader::packets_decoded() const { return impl_->packets_decoded; }

int64_t VideoReader::pictures_decoded() const { return impl_->pictures_decoded; }

}  // namespace actionclip::video
