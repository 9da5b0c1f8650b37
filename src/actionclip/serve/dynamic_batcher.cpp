#include "actionclip/serve/dynamic_batcher.h"

namespace actionclip::serve {
namespace {

bool same_view_shape(const torch::Tensor& a, const torch::Tensor& b) {
  return a.dim() == b.dim() && a.sizes().slice(1) == b.sizes().slice(1) && a.dtype() == b.dtype();
}

}  // namespace

DynamicBatcher::DynamicBatcher(EncodeFn encode, BatcherOptions options, BatchObserver on_batch)
    : encode_(std::move(encode)), options_(options), on_batch_(std::move(on_batch)) {
  if (options_.max_batch < 1) throw Error("the largest batch must hold at least one video");
  worker_ = std::thread([this] { run(); });
}

DynamicBatcher::~DynamicBatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

std::future<torch::Tensor> DynamicBatcher::submit(torch::Tensor views) {
  Item item{std::move(views), {}, std::chrono::steady_clock::now()};
  auto future = item.result.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw QueueFullError("the server is shutting down");
    if (queue_.size() >= options_.max_queue)
      throw QueueFullError("the queue is full (" + std::to_string(options_.max_queue) + " videos waiting)");
    queue_.push_back(std::move(item));
  }
  changed_.notify_all();
  return future;
}

size_t DynamicBatcher::queue_depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

size_t DynamicBatcher::compatible_count(const torch::Tensor& first) const {
  size_t count = 0;
  for (const auto& item : queue_) count += same_view_shape(item.views, first) ? 1 : 0;
  return count;
}

std::vector<DynamicBatcher::Item> DynamicBatcher::take_batch() {
  std::vector<Item> batch;
  const auto first = queue_.front().views;
  for (auto it = queue_.begin(); it != queue_.end() && batch.size() < static_cast<size_t>(options_.max_batch);) {
    if (same_view_shape(it->views, first)) {
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  return batch;
}

void DynamicBatcher::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    const auto deadline = queue_.front().arrival + options_.max_delay;
    changed_.wait_until(lock, deadline, [&] {
      return stopping_ || compatible_count(queue_.front().views) >= static_cast<size_t>(options_.max_batch);
    });
    auto batch = take_batch();
    lock.unlock();
    encode_batch(batch);
    lock.lock();
  }
}

void DynamicBatcher::encode_batch(std::vector<Item>& batch) {
  const auto start = std::chrono::steady_clock::now();
  torch::Tensor features;
  std::exception_ptr failure;
  try {
    std::vector<torch::Tensor> views;
    for (const auto& item : batch) views.push_back(item.views);
    features = encode_(views.size() == 1 ? views.front() : torch::cat(views));
  } catch (...) {
    failure = std::current_exception();
  }
  // Observed before any caller is answered, so a caller's next look at the metrics includes its batch.
  if (on_batch_) on_batch_(batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  int64_t offset = 0;
  for (auto& item : batch) {
    if (failure) {
      item.result.set_exception(failure);
      continue;
    }
    const auto count = item.views.size(0);
    item.result.set_value(features.slice(0, offset, offset + count).clone());
    offset += count;
  }
}

}  // namespace actionclip::serve
