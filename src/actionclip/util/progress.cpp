#include "actionclip/util/progress.h"

#include <unistd.h>

#include <cmath>

#include "actionclip/util/notices.h"

namespace actionclip {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  return text;
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && notices_enabled()),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_ && done_ > 0) finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::rate() const {
  const double elapsed = elapsed_seconds();
  return elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
}

void Progress::advance(int64_t items, const std::string& status) {
  done_ += items;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // A terminal gets a live bar; a log gets a line at most every 30 s, so it stays readable.
  const auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(30000);
  const bool counted_line = !tty_ && log_every_ > 0 && done_ % log_every_ == 0;
  if (!counted_line && now - last_draw_ < interval && !(tty_ && done_ == total_)) return;
  last_draw_ = now;
  draw(false, status);
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true, status);
}

void Progress::draw(bool final_line, const std::string& status) {
  const double r = rate();
  std::string line = label_ + " " + std::to_string(done_);
  if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(fraction * kWidth);
      line = label_ + " [" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] " + std::to_string(done_);
    }
    line += "/" + std::to_string(total_);
  }
  char numbers[96];
  std::snprintf(numbers, sizeof numbers, " | %.1f/s", r);
  line += numbers;
  if (final_line)
    line += " | " + format_duration(elapsed_seconds());
  else if (total_ > 0 && r > 0)
    line += " | ETA " + format_duration(static_cast<double>(total_ - done_) / r);
  if (!status.empty()) line += " | " + status;
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace actionclip
