#pragma once
// Which OpenBLAS kernels libtorch's float32 BLAS calls run on. Debian's libtorch sends matrix
// products that do not go to oneDNN (attention's batched products, Python's nn.Linear) to OpenBLAS,
// which picks its kernels from the CPU model when the library loads. A CPU newer than the OpenBLAS
// build gets its generic "Prescott" (SSE3) kernels: OpenBLAS 0.3.21 on an Emerald Rapids Xeon ran
// ViT-B/32 in Python at 3.4 images/s, and at 10.1 with the AVX-512 kernels named. The choice can
// only be named before the library loads (OPENBLAS_CORETYPE), so a program starts itself again
// with it set: restart_with_vectorized_openblas, first thing in main (the CLI and the tests do).
#include <string>

#include "actionclip/system/cpu_features.h"

namespace actionclip {

// The kernels OpenBLAS chose in this process ("Prescott", "SkylakeX"...); empty without OpenBLAS.
std::string openblas_core();

// The kernels `cpu` should get: "SkylakeX" with AVX-512 (F, BW, VL, DQ), "Haswell" with AVX2 and
// FMA, else empty (whatever OpenBLAS picks).
std::string openblas_core_for(const CpuFeatures& cpu);

// True when `core`, as OpenBLAS names it, is a generic fallback without AVX2 on a CPU that
// openblas_core_for names kernels for.
bool openblas_core_is_fallback(const std::string& core, const CpuFeatures& cpu);

// When OpenBLAS fell back to generic kernels on this CPU and OPENBLAS_CORETYPE is unset or empty:
// sets it to openblas_core_for(cpu_features()) and executes this program again with `argv`
// (Python children inherit it too). Otherwise, or when the restart fails, returns and the program
// runs on as loaded. Call it before any thread starts.
void restart_with_vectorized_openblas(char** argv);

}  // namespace actionclip
