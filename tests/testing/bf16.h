#ifndef DLF_TESTS_TESTING_BF16_H_
#define DLF_TESTS_TESTING_BF16_H_

#include "graph/cpu.h"
#include "gtest/gtest.h"

// Skips the calling test on a CPU where oneDNN 2.6.3 has no bf16 kernels (below AVX-512, e.g.
// AVX2), naming the ISA found: CI counts it as skipped, not passed. Everything bf16 is refused
// there with a clear error (Executor::Compile, --precision=bf16), which tests check elsewhere.
#define DLF_SKIP_WITHOUT_BF16()  \
  if (::dlf::Bf16Supported()) {  \
  } else                         \
    GTEST_SKIP() << "bf16 needs a CPU with AVX-512; this CPU's oneDNN ISA is " << ::dlf::DnnlIsaName()

#endif  // DLF_TESTS_TESTING_BF16_H_
