#pragma once
// Progress of long jobs: a live bar with items, rate and ETA on a terminal; on a pipe or log
// file a line at most every 30 s and one at the end, so logs stay readable.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace actionclip {

class Progress {
 public:
  // `total` 0 means unknown. Output goes to stderr; `enabled` false silences it entirely, and so
  // do silenced notices (notices.h: the ranks of a job other than 0).
  Progress(std::string label, int64_t total, bool enabled = true);
  ~Progress();

  void advance(int64_t items = 1, const std::string& status = {});
  void set_total(int64_t total) { total_ = total; }
  // In a log, also a line every `items` items (training's logging.print_freq); 0: time-based only.
  void set_log_every(int64_t items) { log_every_ = items; }
  void finish(const std::string& status = {});
  double elapsed_seconds() const;
  double rate() const;  // items per second so far

 private:
  void draw(bool final_line, const std::string& status);

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  int64_t log_every_ = 0;
  bool enabled_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace actionclip
