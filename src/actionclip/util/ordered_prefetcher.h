#pragma once
// Runs `produce(i)` for i = 0..count-1 on worker threads, at most `window` items ahead of
// the consumer, and hands results back in index order. The order, and so any result that
// depends only on i, is the same whatever the thread timing: data loading stays
// deterministic while decoding runs in parallel with the model.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace actionclip {

template <typename T>
class OrderedPrefetcher {
 public:
  OrderedPrefetcher(size_t count, std::function<T(size_t)> produce, int threads, size_t window)
      : count_(count), produce_(std::move(produce)), window_(std::max<size_t>(window, 1)) {
    for (int i = 0; i < std::max(threads, 1); ++i) workers_.emplace_back([this] { work(); });
  }

  ~OrderedPrefetcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (auto& w : workers_) w.join();
  }

  OrderedPrefetcher(const OrderedPrefetcher&) = delete;
  OrderedPrefetcher& operator=(const OrderedPrefetcher&) = delete;

  // The next result in index order, or nullopt after the last. Rethrows what produce threw.
  std::optional<T> next() {
    if (consumed_ == count_) return std::nullopt;
    const auto wait_start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return ready_.count(consumed_) > 0; });
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
    auto node = ready_.extract(consumed_);
    ++consumed_;
    lock.unlock();
    changed_.notify_all();
    auto& [value, error] = node.mapped();
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }

  // Seconds the consumer spent waiting for data: zero when the workers keep up.
  double wait_seconds() const { return wait_seconds_; }

 private:
  void work() {
    for (;;) {
      size_t index;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return stopping_ || next_index_ == count_ || next_index_ < consumed_ + window_; });
        if (stopping_ || next_index_ == count_) return;
        index = next_index_++;
      }
      std::pair<std::optional<T>, std::exception_ptr> result;
      try {
        result.first.emplace(produce_(index));
      } catch (...) {
        result.second = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.emplace(index, std::move(result));
      }
      changed_.notify_all();
    }
  }

  const size_t count_;
  const std::function<T(size_t)> produce_;
  const size_t window_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<size_t, std::pair<std::optional<T>, std::exception_ptr>> ready_;
  size_t next_index_ = 0;
  size_t consumed_ = 0;
  bool stopping_ = false;
  double wait_seconds_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace actionclip
