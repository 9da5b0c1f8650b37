#include "actionclip/util/notices.h"

#include <atomic>
#include <iostream>

namespace actionclip {
namespace {

std::atomic<bool> g_notices_enabled{true};

}  // namespace

std::ostream& notices() {
  // An ostream without a buffer sets badbit and writes nothing.
  static std::ostream dropped(nullptr);
  return g_notices_enabled ? std::cerr : dropped;
}

void silence_notices() { g_notices_enabled = false; }

bool notices_enabled() { return g_notices_enabled; }

}  // namespace actionclip
