#pragma once
// One rank's membership of a data-parallel job, on PyTorch's c10d: a TCPStore rendezvous at
// MASTER_ADDR:MASTER_PORT (rank 0 hosts it), then ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA,
// when this libtorch build has it). Every collective is bounded by the timeout; when one fails,
// the error names the rank that died or stopped answering (each rank beats a counter in the
// store; the ones that stopped are named).
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actionclip/dist/launch_environment.h"

namespace actionclip::dist {

struct GroupOptions {
  std::string backend = "auto";  // auto (NCCL for CUDA devices when built in, else Gloo), gloo, nccl
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
  torch::Device device = torch::kCPU;
};

// The backend `auto` picks for `device`, or `requested` after checking this build has it.
std::string resolve_backend(const std::string& requested, const torch::Device& device);

class ProcessGroup {
 public:
  // Joins the job: every rank of env.world_size must do the same within options.timeout.
  ProcessGroup(const LaunchEnvironment& env, const GroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  bool is_main() const { return env_.rank == 0; }
  const LaunchEnvironment& environment() const { return env_; }
  const std::string& backend() const { return backend_; }

  // Collectives: every rank calls them in the same order. Tensors may live on any device; they
  // travel on the backend's.
  void all_reduce_sum(std::vector<torch::Tensor>& tensors);
  // The same, started in the background (so that it overlaps computation): the sums are in
  // `tensors` once wait() has returned for the ticket. Only the time blocked in wait() counts as
  // communication.
  struct PendingCollective;
  using Ticket = std::shared_ptr<PendingCollective>;
  Ticket start_all_reduce_sum(std::vector<torch::Tensor> tensors);
  void wait(const Ticket& ticket);
  void broadcast(std::vector<torch::Tensor>& tensors, int root = 0);
  // Every rank's `tensor` (the same shape on all), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor);
  // Every rank's bytes, any length, in rank order.
  std::vector<std::string> all_gather_bytes(const std::string& bytes);
  void barrier();

  // Tells the other ranks why this one is about to fail, so their errors can say so.
  void publish_failure(const std::string& message) noexcept;
  // Seconds spent in collectives so far.
  double communication_seconds() const { return communication_seconds_; }

 private:
  struct Impl;
  [[noreturn]] void fail(const std::string& operation, const std::string& cause);
  void run(const std::string& operation, const std::function<void()>& collective);

  LaunchEnvironment env_;
  GroupOptions options_;
  std::string backend_;
  std::unique_ptr<Impl> impl_;
  double communication_seconds_ = 0;
};

}  // namespace actionclip::dist
