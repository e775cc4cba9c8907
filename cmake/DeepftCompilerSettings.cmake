# Compiler settings shared by the top-level build (CMakeLists.txt) and the standalone C++ test
# build (tests/cpp/CMakeLists.txt).
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()
set(CMAKE_CXX_FLAGS_RELEASE "-O3 -DNDEBUG")
# No floating-point traps are ever enabled, so let the compiler if-convert comparisons: without
# this GCC keeps the clamp of the core's tanh (source/core/tanh_kernel.h) as a branch and does
# not vectorize the activation loops (measured 3x slower tanh on AVX2). Values are unchanged:
# this flag permits no reassociation and no change of rounding.
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-trapping-math>)
endif()
