#include "evaluator.h"

#include <stdexcept>

#include "dpa1_model.h"
#include "errors.h"
#include "se_a_model.h"

namespace deepft {

std::unique_ptr<Evaluator> make_evaluator(const ModelFile& file, const BranchConfig& cfg) {
  try {
    if (cfg.mixed_types()) return make_dpa1_evaluator(file, cfg);
    return make_se_a_evaluator(file, cfg);
  } catch (const std::invalid_argument& e) {  // unknown activation name
    if (dynamic_cast<const InputError*>(&e) != nullptr) throw;
    file.fail("branch '" + cfg.name + "': " + e.what());
  } catch (const JsonError& e) {
    file.fail("branch '" + cfg.name + "': " + e.what());
  }
}

}  // namespace deepft
