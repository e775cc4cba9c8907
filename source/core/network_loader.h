// Networks of a branch read from a model file (internal): tensors prefix.layers.L.{matrix
// [in, out], bias [out], idt [out]} with shapes checked against the header's widths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "activation.h"
#include "model_file.h"
#include "network.h"

namespace deepft {

/// How a net is laid out: input width, the output width of every layer, the activation of the
/// hidden layers, whether the last layer is the linear output of a fitting net (no
/// activation, timestep or skip connection), whether the layers have a bias (a net without,
/// DPA-1's type embedding without use_tebd_bias, must not store one: bias 0 is used).
struct MlpShape {
  int64_t in_dim = 1;
  std::vector<int64_t> widths;
  Activation act = Activation::kTanh;
  bool final_linear = false;
  bool bias = true;
};

/// Reads the layers of prefix (no further layer may exist); throws ModelFileError.
template <typename T>
Mlp<T> load_mlp(const ModelFile& file, const std::string& prefix, const MlpShape& shape);

/// A dense map without activation or skip connection: prefix.{matrix [in, out], bias [out]}.
template <typename T>
DenseLayer<T> load_linear(const ModelFile& file, const std::string& prefix, int64_t in,
                          int64_t out);

}  // namespace deepft
