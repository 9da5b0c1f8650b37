// The tests' main: on the OpenBLAS kernels the CLI runs on (see system/openblas_core.h), so what a
// test computes in-process matches, to the last bit, what it gets from the CLI it drives.
#include <gtest/gtest.h>

#include "actionclip/system/openblas_core.h"

int main(int argc, char** argv) {
  actionclip::restart_with_vectorized_openblas(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
