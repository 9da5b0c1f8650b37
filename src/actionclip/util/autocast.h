#pragma once
// bfloat16 autocast for a scope: matrix products run in bf16 (on CPUs with AVX-512 BF16 or AMX,
// and on GPUs), reductions and normalisations stay in float32.
#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>

namespace actionclip {

class AutocastScope {
 public:
  AutocastScope(bool enabled, const c10::Device& device) : enabled_(enabled), cuda_(device.is_cuda()) {
    if (!enabled_) return;
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (cuda_) at::autocast::set_enabled(false);
    else at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_, cuda_;
};

// Float32 for a scope inside a CPU autocast region, for modules whose libtorch kernels reject
// the bf16/float32 mix autocast produces. Restores whatever was set before.
class CpuAutocastSuspended {
 public:
  CpuAutocastSuspended() : was_enabled_(at::autocast::is_cpu_enabled()) { at::autocast::set_cpu_enabled(false); }
  ~CpuAutocastSuspended() { at::autocast::set_cpu_enabled(was_enabled_); }
  CpuAutocastSuspended(const CpuAutocastSuspended&) = delete;
  CpuAutocastSuspended& operator=(const CpuAutocastSuspended&) = delete;

 private:
  bool was_enabled_;
};

}  // namespace actionclip
