#include "actionclip/download/transfer_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "actionclip/util/progress.h"

namespace actionclip {

std::string format_bytes(uint64_t bytes) {
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) value /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

TransferProgress::TransferProgress(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double TransferProgress::rate() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return elapsed > 0 ? static_cast<double>(done_ - std::min(done_, resumed_)) / elapsed : 0.0;
}

void TransferProgress::update(uint64_t done, uint64_t total, uint64_t resumed) {
  done_ = done, total_ = total, resumed_ = resumed;
  if (!enabled_ || !tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void TransferProgress::draw() {
  std::string line = label_;
  if (total_ > 0) {
    constexpr int kWidth = 24;
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int filled = static_cast<int>(fraction * kWidth);
    line += " [" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] " + format_bytes(done_) + "/" +
            format_bytes(total_);
  } else {
    line += " " + format_bytes(done_);
  }
  const double r = rate();
  line += " | " + format_bytes(static_cast<uint64_t>(r)) + "/s";
  if (total_ > done_ && r > 0) line += " | ETA " + format_duration(static_cast<double>(total_ - done_) / r);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void TransferProgress::interrupt() {
  if (!drawn_) return;
  std::fprintf(stderr, "\n");
  drawn_ = false;
}

void TransferProgress::finish() {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = label_ + ": " + format_bytes(done_) + " in " + format_duration(elapsed) + " (" +
                     format_bytes(static_cast<uint64_t>(rate())) + "/s";
  if (resumed_ > 0) line += ", " + format_bytes(resumed_) + " resumed from an earlier run";
  line += ")";
  std::fprintf(stderr, tty_ && drawn_ ? "\r\033[K%s\n" : "%s\n", line.c_str());
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace actionclip
