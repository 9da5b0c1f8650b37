#include "actionclip/dist/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "actionclip/util/error.h"

namespace actionclip::dist {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHeartbeatInterval = std::chrono::milliseconds(300);
// Long enough for a live rank's heartbeat thread to beat several times.
constexpr auto kLivenessWindow = std::chrono::milliseconds(1500);

std::string seconds_text(std::chrono::milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

std::vector<uint8_t> to_bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string from_bytes(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  // As torch.distributed: GLOO_SOCKET_IFNAME names the interface; else the address this host's
  // name resolves to. A job on loopback stays on loopback.
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

std::string resolve_backend(const std::string& requested, const torch::Device& device) {
#ifdef USE_C10D_NCCL
  constexpr bool kHaveNccl = true;
#else
  constexpr bool kHaveNccl = false;
#endif
  if (requested == "auto") return device.is_cuda() && kHaveNccl ? "nccl" : "gloo";
  if (requested == "gloo") return requested;
  if (requested == "nccl") {
    if (!kHaveNccl) throw Error("--dist-backend nccl: this libtorch build has no NCCL (use gloo)");
    if (!device.is_cuda()) throw Error("--dist-backend nccl needs a CUDA device (--device cuda)");
    return requested;
  }
  throw Error("unknown --dist-backend '" + requested + "' (auto, gloo, nccl)");
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;  // this job's keys in the rendezvous store
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  torch::Device comm_device = torch::kCPU;
  std::thread heartbeat;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
};

ProcessGroup::ProcessGroup(const LaunchEnvironment& env, const GroupOptions& options)
    : env_(env), options_(options), backend_(resolve_backend(options.backend, options.device)),
      impl_(std::make_unique<Impl>()) {
  const auto where = env_.master_addr + ":" + std::to_string(env_.master_port);
  const auto me = "rank " + std::to_string(env_.rank) + "/" + std::to_string(env_.world_size);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(env_.master_port);
  // torchrun's agent hosts the store itself (and says so); its workers are all clients, with their
  // keys under the restart attempt, as torch.distributed's env:// rendezvous does.
  const bool agent_store = std::getenv("TORCHELASTIC_USE_AGENT_STORE") &&
                           std::string(std::getenv("TORCHELASTIC_USE_AGENT_STORE")) == "True";
  const char* attempt = std::getenv("TORCHELASTIC_RESTART_COUNT");
  const std::string key_prefix = agent_store ? "/worker/attempt_" + std::string(attempt ? attempt : "0") : "actionclip";
  store_options.isServer = env_.is_main() && !agent_store;
  store_options.waitWorkers = false;
  store_options.timeout = options_.timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(
        key_prefix, c10::make_intrusive<c10d::TCPStore>(env_.master_addr, store_options));
  } catch (const std::exception& e) {
    if (env_.is_main())
      throw Error(me + ": cannot open the rendezvous store on " + where + " (MASTER_ADDR:MASTER_PORT; is the port in use?): " +
                  e.what());
    throw Error(me + ": the rendezvous store at " + where + " (hosted by rank 0) did not answer within " +
                seconds_text(options_.timeout) + " (--dist-timeout): " + e.what());
  }

  // Every rank announces its world size; one that disagrees, or a rendezvous that does not fill
  // up in time, fails here rather than in the first collective.
  auto& store = *impl_->store;
  const auto world = std::to_string(env_.world_size);
  store.set("world_size/" + std::to_string(env_.rank), to_bytes(world));
  store.add("joined", 1);
  const auto deadline = Clock::now() + options_.timeout;
  for (;;) {
    for (int r = 0; r < env_.world_size; ++r) {
      const auto key = "world_size/" + std::to_string(r);
      if (!store.check({key})) continue;
      const auto theirs = from_bytes(store.get(key));
      if (theirs != world)
        throw Error(me + ": rank " + std::to_string(r) + " was started with WORLD_SIZE=" + theirs + ", this rank with " + world);
    }
    const auto joined = store.add("joined", 0);
    if (joined > env_.world_size)
      throw Error(me + ": " + std::to_string(joined) + " processes joined the rendezvous at " + where + " for a world of " + world +
                  " (a wrong WORLD_SIZE, or two jobs on one port?)");
    if (joined == env_.world_size) break;
    if (Clock::now() > deadline)
      throw Error(me + ": only " + std::to_string(joined) + " of " + world + " ranks joined the rendezvous at " + where +
                  " within " + seconds_text(options_.timeout) + " (--dist-timeout); check WORLD_SIZE and that every rank started");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  auto prefixed = c10::make_intrusive<c10d::PrefixStore>(backend_, impl_->store);
  try {
    if (backend_ == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(options_.timeout);
      gloo_options->devices.push_back(gloo_device(env_.master_addr));
      gloo_options->threads = 2;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env_.rank, env_.world_size, gloo_options);
    } else {
#ifdef USE_C10D_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options_.timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env_.rank, env_.world_size, nccl_options);
      impl_->comm_device = options_.device;
#endif
    }
  } catch (const std::exception& e) {
    throw Error(me + ": cannot set up the " + backend_ + " process group: " + e.what());
  }

  impl_->heartbeat = std::thread([impl = impl_.get(), env = env_, store_options, key_prefix]() mutable {
    try {
      store_options.isServer = false;
      c10d::PrefixStore beat(key_prefix, c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options));
      const auto key = "heartbeat/" + std::to_string(env.rank);
      std::unique_lock<std::mutex> lock(impl->mutex);
      while (!impl->stop) {
        beat.add(key, 1);
        impl->wake.wait_for(lock, kHeartbeatInterval, [impl] { return impl->stop; });
      }
    } catch (const std::exception&) {
      // The store is gone: rank 0 ended or died. The next collective says which.
    }
  });
}

ProcessGroup::~ProcessGroup() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
}

void ProcessGroup::publish_failure(const std::string& message) noexcept {
  try {
    impl_->store->set("failed/" + std::to_string(env_.rank), to_bytes(message));
  } catch (const std::exception&) {
  }
}

void ProcessGroup::fail(const std::string& operation, const std::string& cause) {
  const auto me = "rank " + std::to_string(env_.rank);
  std::string culprit;
  try {
    auto& store = *impl_->store;
    std::vector<int64_t> before(static_cast<size_t>(env_.world_size));
    for (int r = 0; r < env_.world_size; ++r) before[static_cast<size_t>(r)] = store.add("heartbeat/" + std::to_string(r), 0);
    std::this_thread::sleep_for(kLivenessWindow);
    std::vector<std::string> named;
    for (int r = 0; r < env_.world_size; ++r) {
      if (r == env_.rank) continue;
      const auto key = "failed/" + std::to_string(r);
      if (store.check({key})) {
        named.push_back("rank " + std::to_string(r) + " failed: " + from_bytes(store.get(key)));
      } else if (store.add("heartbeat/" + std::to_string(r), 0) == before[static_cast<size_t>(r)]) {
        named.push_back("rank " + std::to_string(r) + " died (no heartbeat)");
      }
    }
    for (const auto& n : named) culprit += (culprit.empty() ? "" : "; ") + n;
    if (culprit.empty())
      culprit = "every rank is alive, so one is stuck or far slower than the others (--dist-timeout " +
                seconds_text(options_.timeout) + ")";
  } catch (const std::exception&) {
    culprit = "rank 0 died (the rendezvous store it hosts at " + env_.master_addr + ":" +
              std::to_string(env_.master_port) + " no longer answers)";
  }
  throw Error(me + ": " + operation + " failed: " + culprit + " [" + cause + "]");
}

void ProcessGroup::run(const std::string& operation, const std::function<void()>& collective) {
  const auto start = Clock::now();
  try {
    collective();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(operation, e.what());
  }
  communication_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
}

struct ProcessGroup::PendingCollective {
  std::vector<torch::Tensor> targets, moved;
  c10::intrusive_ptr<c10d::Work> work;
};

void ProcessGroup::all_reduce_sum(std::vector<torch::Tensor>& tensors) { wait(start_all_reduce_sum(tensors)); }

ProcessGroup::Ticket ProcessGroup::start_all_reduce_sum(std::vector<torch::Tensor> tensors) {
  auto pending = std::make_shared<PendingCollective>();
  for (auto& t : tensors) pending->moved.push_back(t.to(impl_->comm_device).contiguous());
  pending->targets = std::move(tensors);
  run("all-reduce", [&] { pending->work = impl_->group->allreduce(pending->moved); });
  return pending;
}

void ProcessGroup::wait(const Ticket& ticket) {
  run("all-reduce", [&] { ticket->work->wait(); });
  for (size_t i = 0; i < ticket->targets.size(); ++i)
    if (!ticket->moved[i].is_same(ticket->targets[i])) ticket->targets[i].copy_(ticket->moved[i]);
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors, int root) {
  c10d::BroadcastOptions broadcast_options;
  broadcast_options.rootRank = root;
  for (auto& t : tensors) {
    std::vector<at::Tensor> moved{t.to(impl_->comm_device).contiguous()};
    run("broadcast", [&] { impl_->group->broadcast(moved, broadcast_options)->wait(); });
    if (!moved[0].is_same(t)) t.copy_(moved[0]);
  }
}

std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& tensor) {
  std::vector<at::Tensor> input{tensor.to(impl_->comm_device).contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < env_.world_size; ++r) output[0].push_back(torch::empty_like(input[0]));
  run("all-gather", [&] { impl_->group->allgather(output, input)->wait(); });
  std::vector<torch::Tensor> out;
  for (auto& t : output[0]) out.push_back(t.to(tensor.device()));
  return out;
}

std::vector<std::string> ProcessGroup::all_gather_bytes(const std::string& bytes) {
  const auto sizes = all_gather(torch::tensor({static_cast<int64_t>(bytes.size())}));
  int64_t longest = 0;
  for (const auto& s : sizes) longest = std::max(longest, s.item<int64_t>());
  auto padded = torch::zeros({std::max<int64_t>(longest, 1)}, torch::kUInt8);
  std::memcpy(padded.data_ptr(), bytes.data(), bytes.size());
  const auto gathered = all_gather(padded);
  std::vector<std::string> out;
  for (size_t r = 0; r < gathered.size(); ++r)
    out.emplace_back(static_cast<const char*>(gathered[r].data_ptr()), static_cast<size_t>(sizes[r].item<int64_t>()));
  return out;
}

void ProcessGroup::barrier() {
  run("barrier", [&] { impl_->group->barrier()->wait(); });
}

}  // namespace actionclip::dist
