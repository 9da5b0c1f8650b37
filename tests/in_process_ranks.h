#pragma once
// A data-parallel job inside one test process: W ranks, one thread each, joined in a Gloo process
// group over loopback, as separate processes would be.
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "actionclip/dist/process_group.h"
#include "loopback_port.h"

namespace actionclip::testing {

// Runs body(rank's group) on every rank and waits for all; rethrows the first rank's error.
inline void run_in_process_ranks(int world, const std::function<void(const std::shared_ptr<dist::ProcessGroup>&)>& body) {
  const int port = free_loopback_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> ranks;
  for (int r = 0; r < world; ++r)
    ranks.emplace_back([&, r] {
      try {
        dist::LaunchEnvironment env;
        env.rank = env.local_rank = r;
        env.world_size = env.local_world_size = world;
        env.master_port = port;
        dist::GroupOptions options;
        options.timeout = std::chrono::seconds(30);
        auto group = std::make_shared<dist::ProcessGroup>(env, options);
        body(group);
        group->barrier();  // rank 0 hosts the store: it leaves last
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : ranks) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace actionclip::testing
