// Entry point of deepft_cpp_tests: runs every TEST of the linked test files (harness.h).
#include "harness.h"

int main(int argc, char** argv) { return deepft_test::run_all(argc, argv); }
