#include "energy_fitting.h"

#include <algorithm>

#include "evaluator_common.h"
#include "network_loader.h"

namespace deepft {

template <typename T>
EnergyFitting<T>::EnergyFitting(const ModelFile& file, const BranchConfig& cfg, int64_t in_dim)
    : in_dim_(in_dim), mixed_types_(cfg.fitting_mixed_types) {
  const int64_t ntypes = static_cast<int64_t>(cfg.type_map.size());
  MlpShape shape{in_dim, cfg.fitting_neuron, parse_activation(cfg.fitting_activation), true};
  shape.widths.push_back(1);
  const int64_t nnets = mixed_types_ ? 1 : ntypes;
  for (const std::string& fp : cfg.fitting_prefixes) {
    Head h;
    for (int64_t t = 0; t < nnets; ++t) {
      h.nets.push_back(load_mlp<T>(file, fp + "nets." + std::to_string(t) + ".", shape));
    }
    const std::string extra = fp + "nets." + std::to_string(nnets) + ".layers.0.matrix";
    if (file.has_tensor(extra)) {
      file.fail("tensor '" + extra + "' exists but the branch has " + std::to_string(nnets) +
                " fitting net(s)" + (mixed_types_ ? " (fitting_net.mixed_types)" : ""));
    }
    h.bias = file.tensor<double>(fp + "bias_atom_e", {ntypes});
    heads_.push_back(std::move(h));
  }
}

template <typename T>
void EnergyFitting<T>::evaluate(int32_t type, const int64_t* centers, int64_t n, const T* d,
                                double* atom_energy, T* gd, FittingWorkspace<T>& w) const {
  grow(w.gd_f, n * in_dim_);
  grow(w.e, n);
  grow(w.ge, n);
  std::fill(gd, gd + n * in_dim_, T(0));
  for (int64_t a = 0; a < n; ++a) atom_energy[centers[a]] = 0.0;
  for (const Head& h : heads_) {
    const Mlp<T>& net = h.nets[mixed_types_ ? 0 : type];
    grow(w.saved, n * net.saved_width());
    net.forward(d, n, w.e.data(), w.saved.data(), w.mlp);
    for (int64_t a = 0; a < n; ++a) {
      atom_energy[centers[a]] += static_cast<double>(w.e[a]) + h.bias[type];
      w.ge[a] = T(1);
    }
    net.backward(w.ge.data(), n, w.saved.data(), w.gd_f.data(), w.mlp);
    for (int64_t k = 0; k < n * in_dim_; ++k) gd[k] += w.gd_f[k];
  }
}

template class EnergyFitting<double>;
template class EnergyFitting<float>;

}  // namespace deepft
