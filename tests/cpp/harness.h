// A tiny header-only test harness for the C++ tests (no dependency): TEST(name) { ... }
// registers a test; CHECK* record failures with file:line and continue; main() runs every
// test (or those whose name contains argv filter) and returns 1 if any check failed.
// Tests read their inputs (model files written by tests/cpp/test_cpp.py) from env vars.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace deepft_test {

struct Registry {
  std::vector<std::pair<std::string, std::function<void()>>> tests;
  int failures = 0;
  static Registry& get() {
    static Registry r;
    return r;
  }
};

struct Register {
  Register(const char* name, std::function<void()> fn) {
    Registry::get().tests.emplace_back(name, std::move(fn));
  }
};

/// What a test is looking at right now (a model, a case), added to its failure messages.
inline std::string& context() {
  static std::string c;
  return c;
}

inline void fail(const char* file, int line, const std::string& what) {
  ++Registry::get().failures;
  const std::string where = context().empty() ? "" : " [" + context() + "]";
  std::fprintf(stderr, "%s:%d: FAILED%s: %s\n", file, line, where.c_str(), what.c_str());
}

/// Path from environment variable `name`; a missing variable is a failure (never a skip).
inline std::string env_path(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr, "environment variable %s (a model file) is not set\n", name);
    std::exit(2);
  }
  return v;
}

inline int run_all(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  int ran = 0;
  for (auto& [name, fn] : Registry::get().tests) {
    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
    const int before = Registry::get().failures;
    context().clear();
    try {
      fn();
    } catch (const std::exception& e) {
      fail(name.c_str(), 0, std::string("unexpected exception: ") + e.what());
    }
    ++ran;
    std::printf("%s %s\n", Registry::get().failures == before ? "ok  " : "FAIL", name.c_str());
  }
  std::printf("%d tests, %d failed checks\n", ran, Registry::get().failures);
  return ran > 0 && Registry::get().failures == 0 ? 0 : 1;
}

}  // namespace deepft_test

#define DEEPFT_CAT2(a, b) a##b
#define DEEPFT_CAT(a, b) DEEPFT_CAT2(a, b)
#define TEST(name)                                                              \
  static void name();                                                           \
  static deepft_test::Register DEEPFT_CAT(reg_, name)(#name, name);             \
  static void name()

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) deepft_test::fail(__FILE__, __LINE__, #cond);          \
  } while (0)

/// |a - b| <= tol (tol is a named tolerance of the test)
#define CHECK_NEAR(a, b, tol)                                                             \
  do {                                                                                    \
    const double va_ = (a), vb_ = (b);                                                    \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                                               \
      char buf_[256];                                                                     \
      std::snprintf(buf_, sizeof(buf_), "%s = %.17g vs %s = %.17g (tol %g)", #a, va_, #b, \
                    vb_, double(tol));                                                    \
      deepft_test::fail(__FILE__, __LINE__, buf_);                                        \
    }                                                                                     \
  } while (0)

/// `expr` throws `Exc` whose what() contains `needle`.
#define CHECK_THROWS(expr, Exc, needle)                                                    \
  do {                                                                                     \
    bool thrown_ = false;                                                                  \
    try {                                                                                  \
      (void)(expr);                                                                        \
    } catch (const Exc& e_) {                                                              \
      thrown_ = true;                                                                      \
      if (std::string(e_.what()).find(needle) == std::string::npos)                        \
        deepft_test::fail(__FILE__, __LINE__,                                              \
                          std::string(#expr " threw '") + e_.what() + "', expected '" +   \
                              (needle) + "'");                                             \
    }                                                                                      \
    if (!thrown_) deepft_test::fail(__FILE__, __LINE__, #expr " did not throw " #Exc);     \
  } while (0)
