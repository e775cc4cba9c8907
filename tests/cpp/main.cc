// Entry point of deepft_cpp_tests: runs every TEST of the linked test files (harness.h), or
// the ones whose name contains argv[1]. `--sanitizer-canary` reads past a heap buffer on
// purpose, so test_cpp.py can prove the sanitizer build really reports errors.
#include <cstdio>
#include <cstring>
#include <vector>

#include "deep_pot.h"
#include "harness.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--sanitizer-canary") == 0) {
    std::vector<int> v(4, 1);
    volatile const int* p = v.data();
    return p[4];  // heap-buffer-overflow
  }
  std::printf("dense math: %s\n", deepft::DeepPot::blas_backend().c_str());
  return deepft_test::run_all(argc, argv);
}
