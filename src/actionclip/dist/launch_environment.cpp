#include "actionclip/dist/launch_environment.h"

#include <cstdlib>

#include "actionclip/util/error.h"
#include "actionclip/util/parse_int.h"

namespace actionclip::dist {
namespace {

int parse_int(const std::string& name, const std::string& value) {
  const auto parsed = parse_whole_int(value);
  if (!parsed) throw Error("environment variable " + name + "='" + value + "' is not a number");
  return *parsed;
}

// Splits at commas that are not inside brackets.
std::vector<std::string> split_top_level(const std::string& text) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (depth < 0) throw Error("Slurm host list '" + text + "': unbalanced ']'");
    if (c == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (depth != 0) throw Error("Slurm host list '" + text + "': unbalanced '['");
  parts.push_back(current);
  return parts;
}

// "01-03,7" -> 01 02 03 7: a range keeps the width of its lower bound, as Slurm pads.
std::vector<std::string> expand_ranges(const std::string& ranges, const std::string& list) {
  std::vector<std::string> values;
  for (const auto& item : split_top_level(ranges)) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      values.push_back(item);
      continue;
    }
    const auto low = item.substr(0, dash), high = item.substr(dash + 1);
    const int from = parse_int("SLURM_JOB_NODELIST (" + list + ")", low);
    const int to = parse_int("SLURM_JOB_NODELIST (" + list + ")", high);
    if (to < from) throw Error("Slurm host list '" + list + "': range " + item + " runs backwards");
    for (int v = from; v <= to; ++v) {
      auto digits = std::to_string(v);
      if (digits.size() < low.size()) digits.insert(0, low.size() - digits.size(), '0');
      values.push_back(digits);
    }
  }
  return values;
}

void expand_host(const std::string& pattern, const std::string& list, std::vector<std::string>& out) {
  const auto open = pattern.find('[');
  if (open == std::string::npos) {
    if (!pattern.empty()) out.push_back(pattern);
    return;
  }
  const auto close = pattern.find(']', open);
  if (close == std::string::npos) throw Error("Slurm host list '" + list + "': unbalanced '['");
  const auto prefix = pattern.substr(0, open), rest = pattern.substr(close + 1);
  for (const auto& value : expand_ranges(pattern.substr(open + 1, close - open - 1), list))
    expand_host(prefix + value + rest, list, out);
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist) {
  std::vector<std::string> hosts;
  for (const auto& part : split_top_level(nodelist)) expand_host(part, nodelist, hosts);
  return hosts;
}

std::vector<int> expand_slurm_tasks_per_node(const std::string& tasks_per_node) {
  std::vector<int> counts;
  for (const auto& item : split_top_level(tasks_per_node)) {
    const auto repeat = item.find("(x");
    const int tasks = parse_int("SLURM_TASKS_PER_NODE", item.substr(0, repeat));
    int times = 1;
    if (repeat != std::string::npos) {
      if (item.back() != ')') throw Error("SLURM_TASKS_PER_NODE='" + tasks_per_node + "' is malformed");
      times = parse_int("SLURM_TASKS_PER_NODE", item.substr(repeat + 2, item.size() - repeat - 3));
    }
    counts.insert(counts.end(), static_cast<size_t>(times), tasks);
  }
  return counts;
}

LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup) {
  LaunchEnvironment env;
  auto number = [&](const std::string& name) -> std::optional<int> {
    auto value = lookup(name);
    if (!value) return std::nullopt;
    return parse_int(name, *value);
  };
  const char* rank_name = "RANK";
  const char* world_name = "WORLD_SIZE";
  if (lookup("RANK") && lookup("WORLD_SIZE")) {
    env.launcher = "torchrun";
    env.rank = *number("RANK");
    env.world_size = *number("WORLD_SIZE");
    env.local_rank = number("LOCAL_RANK").value_or(env.rank);
    env.local_world_size = number("LOCAL_WORLD_SIZE").value_or(env.world_size);
  } else if (lookup("SLURM_PROCID") && lookup("SLURM_NTASKS")) {
    env.launcher = "slurm";
    rank_name = "SLURM_PROCID", world_name = "SLURM_NTASKS";
    env.rank = *number("SLURM_PROCID");
    env.world_size = *number("SLURM_NTASKS");
    env.local_rank = number("SLURM_LOCALID").value_or(0);
    env.local_world_size = 1;
    if (auto per_node = lookup("SLURM_TASKS_PER_NODE")) {
      const auto counts = expand_slurm_tasks_per_node(*per_node);
      const auto node = static_cast<size_t>(number("SLURM_NODEID").value_or(0));
      if (node < counts.size()) env.local_world_size = counts[node];
    }
    if (!lookup("MASTER_ADDR")) {
      auto nodelist = lookup("SLURM_JOB_NODELIST");
      if (!nodelist) nodelist = lookup("SLURM_NODELIST");
      if (nodelist) {
        const auto hosts = expand_slurm_nodelist(*nodelist);
        if (!hosts.empty()) env.master_addr = hosts.front();
      }
    }
  } else {
    return env;
  }
  if (auto addr = lookup("MASTER_ADDR")) env.master_addr = *addr;
  if (auto port = number("MASTER_PORT")) env.master_port = *port;
  if (env.world_size < 1) throw Error(std::string(world_name) + " must be at least 1");
  if (env.rank < 0 || env.rank >= env.world_size)
    throw Error(std::string(rank_name) + "=" + std::to_string(env.rank) + " is outside the world of " +
                std::to_string(env.world_size) + " (" + world_name + ")");
  if (env.local_world_size < 1 || env.local_rank < 0 || env.local_rank >= env.local_world_size)
    throw Error("local rank " + std::to_string(env.local_rank) + " is outside the " +
                std::to_string(env.local_world_size) + " processes of this node");
  if (env.master_port < 1 || env.master_port > 65535)
    throw Error("MASTER_PORT=" + std::to_string(env.master_port) + " is not a TCP port");
  return env;
}

}  // namespace actionclip::dist
