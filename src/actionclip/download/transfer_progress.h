#pragma once
// Progress of a download in bytes: on a terminal a live bar with bytes, rate and ETA (as
// util/progress.h draws items); elsewhere nothing until the closing line.
#include <chrono>
#include <cstdint>
#include <string>

namespace actionclip {

class TransferProgress {
 public:
  // Output goes to stderr; `enabled` false silences it entirely.
  TransferProgress(std::string label, bool enabled);

  // Bytes of the file that are there (`done`, resumed ones included) of `total` (0: unknown).
  // `resumed` of them were there before this download started, so they do not count in the rate.
  void update(uint64_t done, uint64_t total, uint64_t resumed);
  // The closing line: size, time and rate (on a terminal it replaces the bar).
  void finish();
  // Ends the bar's line so that a message can follow it.
  void interrupt();

 private:
  void draw();
  double rate() const;  // bytes per second of this download

  std::string label_;
  bool enabled_, tty_, drawn_ = false;
  uint64_t done_ = 0, total_ = 0, resumed_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "812 B", "12.3 KiB", "338.0 MiB", "1.6 GiB".
std::string format_bytes(uint64_t bytes);

}  // namespace actionclip
