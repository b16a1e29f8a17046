#include "models/nn.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace dlf::nn {
namespace {

// Whether x is a value of `rank` dimensions; when it is valid but of another rank, the error
// (naming the module) is recorded in the graph. An invalid x carries an earlier error.
bool HasRank(Graph& g, Value x, size_t rank, const std::string& module, const char* layout) {
  if (!g.Contains(x)) return false;
  if (g.shape(x).size() == rank) return true;
  g.RecordError(absl::InvalidArgumentError(absl::StrCat(module, ": input '", g.ValueName(x), "' must be ",
                                                        layout, ", found ", ShapeString(g.shape(x)))));
  return false;
}

}  // namespace

Initializer TorchDefaultBias(int64_t fan_in) {
  return Initializer::Uniform(1.0f / std::sqrt(static_cast<float>(fan_in)));
}

Value Conv2d(Graph& g, const std::string& name, Value x, int64_t out, int64_t kernel,
             Conv2dOptions o) {
  if (!HasRank(g, x, 4, "Conv2d '" + name + "'", "[n, c, h, w]")) return Value{};
  const int64_t in_per_group = g.shape(x)[1] / std::max<int64_t>(o.groups, 1);  // Conv2D checks it divides
  const Value w = g.Parameter(name + ".weight", {out, in_per_group, kernel, kernel}, o.weight_init);
  Value b;
  if (o.bias) {
    b = g.Parameter(name + ".bias", {out}, o.bias_init.value_or(TorchDefaultBias(in_per_group * kernel * kernel)));
  }
  ops::Conv2DOptions conv{{o.stride, o.stride}, {o.padding, o.padding}};
  conv.dilation = {o.dilation, o.dilation};
  conv.groups = o.groups;
  return ops::Conv2D(g, x, w, b, conv);
}

Value ConvTranspose2d(Graph& g, const std::string& name, Value x, int64_t out, int64_t kernel,
                      ConvTranspose2dOptions o) {
  if (!HasRank(g, x, 4, "ConvTranspose2d '" + name + "'", "[n, c, h, w]")) return Value{};
  const int64_t groups = std::max<int64_t>(o.groups, 1), out_per_group = out / groups;  // ConvTranspose2D checks
  const Value w = g.Parameter(name + ".weight", {g.shape(x)[1], out_per_group, kernel, kernel}, o.weight_init);
  Value b;
  if (o.bias) {
    b = g.Parameter(name + ".bias", {out}, o.bias_init.value_or(TorchDefaultBias(out_per_group * kernel * kernel)));
  }
  ops::ConvTranspose2DOptions conv;
  conv.stride = {o.stride, o.stride};
  conv.padding = {o.padding, o.padding};
  conv.dilation = {o.dilation, o.dilation};
  conv.groups = o.groups;
  conv.output_padding = {o.output_padding, o.output_padding};
  return ops::ConvTranspose2D(g, x, w, b, conv);
}

Value Linear(Graph& g, const std::string& name, Value x, int64_t out, LinearOptions o) {
  if (!g.Contains(x)) return Value{};
  if (g.shape(x).size() < 2) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat("Linear '", name, "': x must be [*, features], found ",
                                                          ShapeString(g.shape(x)))));
    return Value{};
  }
  const int64_t in = g.shape(x).back();
  const Value w = g.Parameter(name + ".weight", {out, in}, o.weight_init);
  Value b;
  if (o.bias) b = g.Parameter(name + ".bias", {out}, o.bias_init.value_or(TorchDefaultBias(in)));
  return ops::Linear(g, x, w, b);
}

Value Embedding(Graph& g, const std::string& name, Value ids, int64_t rows, int64_t dim, Initializer init) {
  return ops::Embedding(g, g.Parameter(name + ".weight", {rows, dim}, init), ids);
}

Value MultiheadSelfAttention(Graph& g, const std::string& name, Value x, int64_t heads,
                             ops::AttentionOptions attention) {
  if (!HasRank(g, x, 3, "MultiheadAttention '" + name + "'", "[n, t, dim]")) return Value{};
  const int64_t n = g.dim(x, 0), t = g.dim(x, 1), dim = g.dim(x, 2);
  if (heads < 1 || dim % heads != 0) {
    g.RecordError(absl::InvalidArgumentError(
        absl::StrCat("MultiheadAttention '", name, "': ", heads, " heads do not divide the dimension ", dim)));
    return Value{};
  }
  const Value w = g.Parameter(name + ".in_proj_weight", {3 * dim, dim}, Initializer::XavierUniform());
  const Value b = g.Parameter(name + ".in_proj_bias", {3 * dim}, Initializer::Zeros());
  const std::vector<Value> qkv = ops::Split(g, ops::Linear(g, x, w, b), 2, {dim, dim, dim});
  if (qkv.size() != 3) return Value{};
  // [n, t, dim] -> [n, heads, t, dim / heads] and back.
  const auto split_heads = [&](Value v) { return ops::Transpose(g, ops::Reshape(g, v, {n, t, heads, dim / heads}), {0, 2, 1, 3}); };
  const Value y = ops::ScaledDotProductAttention(g, split_heads(qkv[0]), split_heads(qkv[1]), split_heads(qkv[2]), attention);
  const Value merged = ops::Reshape(g, ops::Transpose(g, y, {0, 2, 1, 3}), {n, t, dim});
  return Linear(g, name + ".out_proj", merged, dim, {.bias_init = Initializer::Zeros()});
}

Value BatchNorm2d(Graph& g, const std::string& name, Value x, ops::BatchNormOptions options) {
  return ops::BatchNorm2d(g, x, name, options);
}

}  // namespace dlf::nn
