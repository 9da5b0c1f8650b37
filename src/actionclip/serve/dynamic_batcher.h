#pragma once
// Triton's dynamic batcher for video encoding: concurrent requests' views are queued, and one
// model call takes up to `max_batch` videos, waiting at most `max_delay` after the oldest queued
// video arrived for others to join. Only videos whose views have the same shape (frames, crop
// size) can share a call; others wait for the next one, oldest first.
#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "actionclip/util/error.h"

namespace actionclip::serve {

// The queue is full: the caller should retry later (HTTP 503 with Retry-After).
class QueueFullError : public Error {
 public:
  using Error::Error;
};

struct BatcherOptions {
  int max_batch = 8;                          // videos per model call
  std::chrono::microseconds max_delay{5000};  // longest wait for a batch to fill
  size_t max_queue = 64;                      // videos waiting; more are refused
};

class DynamicBatcher {
 public:
  // ENCODE maps views [N, ...] to features [N, D]; ON_BATCH (optional) hears each call's video
  // count and seconds before its callers are answered. Both run on the batcher's own thread.
  using EncodeFn = std::function<torch::Tensor(const torch::Tensor& views)>;
  using BatchObserver = std::function<void(size_t videos, double seconds)>;

  DynamicBatcher(EncodeFn encode, BatcherOptions options, BatchObserver on_batch = {});
  // Encodes what is queued (without waiting for batches to fill), then stops.
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // One video's views [V, ...]; the future holds its features [V, D] or the encoder's exception.
  // Throws QueueFullError when `max_queue` videos are already waiting.
  std::future<torch::Tensor> submit(torch::Tensor views);

  size_t queue_depth() const;

 private:
  struct Item {
    torch::Tensor views;
    std::promise<torch::Tensor> result;
    std::chrono::steady_clock::time_point arrival;
  };

  void run();
  size_t compatible_count(const torch::Tensor& first) const;  // queued items that can join FIRST's batch
  std::vector<Item> take_batch();
  void encode_batch(std::vector<Item>& batch);

  EncodeFn encode_;
  BatcherOptions options_;
  BatchObserver on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace actionclip::serve
