#include "network_loader.h"

namespace deepft {

template <typename T>
Mlp<T> load_mlp(const ModelFile& file, const std::string& prefix, const MlpShape& shape) {
  Mlp<T> net;
  int64_t in_dim = shape.in_dim;
  const std::vector<int64_t>& widths = shape.widths;
  for (size_t li = 0; li <= widths.size(); ++li) {
    const std::string p = prefix + "layers." + std::to_string(li) + ".";
    if (li == widths.size()) {
      if (file.has_tensor(p + "matrix")) {
        file.fail("tensor '" + p + "matrix' exists but the header's neuron list has " +
                  std::to_string(widths.size() - (shape.final_linear ? 1 : 0)) + " entries");
      }
      break;
    }
    DenseLayer<T> l;
    l.in = in_dim;
    l.out = widths[li];
    l.matrix = file.tensor<T>(p + "matrix", {l.in, l.out});
    if (shape.bias) {
      l.bias = file.tensor<T>(p + "bias", {l.out});
    } else if (file.has_tensor(p + "bias")) {
      file.fail("tensor '" + p + "bias' exists but the header says the layer has no bias");
    } else {
      l.bias.assign(l.out, T(0));
    }
    if (file.has_tensor(p + "idt")) l.idt = file.tensor<T>(p + "idt", {l.out});
    l.act = shape.act;
    l.pack();
    net.layers.push_back(std::move(l));
    in_dim = net.layers.back().out;
  }
  if (shape.final_linear) {
    DenseLayer<T>& last = net.layers.back();
    if (last.out != 1 || !last.idt.empty()) {
      file.fail("the last layer of '" + prefix + "' must map to 1 value without timestep");
    }
    last.act = Activation::kLinear;
    last.residual = false;
  }
  return net;
}

template <typename T>
DenseLayer<T> load_linear(const ModelFile& file, const std::string& prefix, int64_t in,
                          int64_t out) {
  DenseLayer<T> l;
  l.in = in;
  l.out = out;
  l.matrix = file.tensor<T>(prefix + "matrix", {in, out});
  l.bias = file.tensor<T>(prefix + "bias", {out});
  if (file.has_tensor(prefix + "idt")) file.fail("tensor '" + prefix + "idt' is not expected");
  l.act = Activation::kLinear;
  l.residual = false;
  l.pack();
  return l;
}

template Mlp<double> load_mlp<double>(const ModelFile&, const std::string&, const MlpShape&);
template Mlp<float> load_mlp<float>(const ModelFile&, const std::string&, const MlpShape&);
template DenseLayer<double> load_linear<double>(const ModelFile&, const std::string&, int64_t,
                                                int64_t);
template DenseLayer<float> load_linear<float>(const ModelFile&, const std::string&, int64_t,
                                              int64_t);

}  // namespace deepft
