// Times oneDNN primitives given as lines of oneDNN's own verbose log (ONEDNN_VERBOSE=1), one per
// line in a file (or on stdin), in whichever oneDNN this binary is built against: the same source builds against
// Debian's 2.6.3 and PyPI's 3.x (benchmarks/BUILD.bazel), so benchmarks/compare_onednn.py can run
// the kernels of dlf's steps in each version, on the same shapes, side by side.
//
// Input: the fields of an `onednn_verbose,exec,cpu,...` line from the primitive kind on (the
// implementation and time fields are ignored), e.g.
//   convolution,jit:avx512_core,forward_training,src_f32::blocked:aBcd16b:f0 wei_f32::...,
//   attr-post-ops:eltwise_relu ,alg:convolution_direct,mb128_ic3oc32_ih32oh32kh3sh1dh0ph1_...
// Output: one line per input line, `<line number>\t<implementation>\t<ms>`: the median time of
// one execution, or `<line number>\tunsupported: <why>\tnan`.
//
// Activations (and everything of matmul, inner product and the element-wise kinds) keep the
// logged memory formats; convolution weights, and matmul weights dlf packed for inference, are
// `any` in every version, its own preferred blocking, as dlf asks for them. With --any_layout, convolutions choose their activations'
// layouts too (each version its best).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using Tag = memory::format_tag;
using Dims = memory::dims;

struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

// One tensor of the verbose formats field: `src_f32::blocked:aBcd16b:f0`.
struct Tensor {
  memory::data_type dt = memory::data_type::undef;
  std::string tag;
};

const std::map<std::string, memory::data_type>& DataTypes() {
  static const auto* types = new std::map<std::string, memory::data_type>{
      {"f32", memory::data_type::f32}, {"bf16", memory::data_type::bf16},
      {"u8", memory::data_type::u8},   {"s8", memory::data_type::s8},
      {"s32", memory::data_type::s32}, {"undef", memory::data_type::undef}};
  return *types;
}

// The activation layouts dlf's steps use; anything else is reported unsupported.
const std::map<std::string, Tag>& Tags() {
  static const auto* tags = new std::map<std::string, Tag>{
      {"a", Tag::a},           {"ab", Tag::ab},           {"ba", Tag::ba},
      {"abc", Tag::abc},       {"acb", Tag::acb},         {"abcd", Tag::abcd},
      {"acdb", Tag::acdb},     {"aBcd16b", Tag::aBcd16b}, {"aBcd8b", Tag::aBcd8b},
      {"aBcd4b", Tag::aBcd4b}, {"undef", Tag::undef}};
  return *tags;
}

std::map<std::string, Tensor> ParseFormats(const std::string& field) {
  std::map<std::string, Tensor> tensors;
  for (const std::string& token : Split(field, ' ')) {
    if (token.empty()) continue;
    const auto parts = Split(token, ':');  // name_dt, flags, kind, tag, extra
    const auto underscore = parts[0].find('_');
    if (underscore == std::string::npos) throw Unsupported("formats token " + token);
    const std::string name = parts[0].substr(0, underscore);
    const auto dt = DataTypes().find(parts[0].substr(underscore + 1));
    if (dt == DataTypes().end()) throw Unsupported("data type in " + token);
    tensors[name] = {dt->second, parts.size() > 3 ? parts[3] : "undef"};
  }
  return tensors;
}

// `mb128_ic3oc32_ih32oh32kh3sh1dh0ph1_iw32...` -> {mb: 128, ic: 3, ...}.
std::map<std::string, int64_t> ParseProblem(const std::string& problem) {
  std::map<std::string, int64_t> values;
  static const std::regex pair("([a-z]+)(\\d+)");
  for (auto it = std::sregex_iterator(problem.begin(), problem.end(), pair);
       it != std::sregex_iterator(); ++it) {
    values[(*it)[1]] = std::stoll((*it)[2]);
  }
  return values;
}

// `128x16x32x32:128x16x32x32` -> {{128, 16, 32, 32}, {128, 16, 32, 32}}.
std::vector<Dims> ParseDimsList(const std::string& problem) {
  std::vector<Dims> list;
  for (const std::string& part : Split(problem, ':')) {
    Dims dims;
    for (const std::string& d : Split(part, 'x')) dims.push_back(std::stoll(d));
    list.push_back(dims);
  }
  return list;
}

int64_t Get(const std::map<std::string, int64_t>& values, const std::string& key, int64_t fallback) {
  const auto it = values.find(key);
  return it == values.end() ? fallback : it->second;
}

// A parsed verbose line.
struct Problem {
  std::string kind, prop, attrs, aux, shape;
  std::map<std::string, Tensor> tensors;
  std::map<std::string, int64_t> values;
};

Problem ParseLine(const std::string& line) {
  const auto fields = Split(line, ',');
  if (fields.size() < 7) throw Unsupported("expected 7 fields, found " + std::to_string(fields.size()));
  Problem p{fields[0], fields[2], fields[4], fields[5], fields[6], ParseFormats(fields[3]), {}};
  p.values = ParseProblem(p.shape);
  return p;
}

memory::desc Md(const Dims& dims, const Tensor& t, bool any = false) {
  if (any) return memory::desc(dims, t.dt, Tag::any);
  const auto tag = Tags().find(t.tag);
  if (tag == Tags().end()) throw Unsupported("memory format " + t.tag);
  return memory::desc(dims, t.dt, tag->second);
}

const Tensor& Need(const Problem& p, const std::string& name) {
  const auto it = p.tensors.find(name);
  if (it == p.tensors.end()) throw Unsupported("no " + name + " tensor in the formats field");
  return it->second;
}

bool Has(const Problem& p, const std::string& name) {
  const auto it = p.tensors.find(name);
  return it != p.tensors.end() && it->second.dt != memory::data_type::undef;
}

// The `alg:` item of the aux field (`alg:eltwise_relu alpha:0 beta:0`), and its alpha / beta.
std::string AuxItem(const Problem& p, const std::string& key) {
  for (const std::string& item : Split(p.aux, ' ')) {
    if (item.rfind(key + ":", 0) == 0) return item.substr(key.size() + 1);
  }
  return "";
}

const std::map<std::string, algorithm>& Algorithms() {
  static const auto* algs = new std::map<std::string, algorithm>{
      {"convolution_direct", algorithm::convolution_direct},
      {"convolution_winograd", algorithm::convolution_winograd},
      {"eltwise_relu", algorithm::eltwise_relu},
      {"eltwise_relu_use_dst_for_bwd", algorithm::eltwise_relu_use_dst_for_bwd},
      {"eltwise_logistic", algorithm::eltwise_logistic},
      {"eltwise_tanh", algorithm::eltwise_tanh},
      {"eltwise_exp", algorithm::eltwise_exp},
      {"eltwise_linear", algorithm::eltwise_linear},
      {"binary_add", algorithm::binary_add},
      {"binary_mul", algorithm::binary_mul},
      {"binary_sub", algorithm::binary_sub},
      {"binary_max", algorithm::binary_max},
      {"pooling_max", algorithm::pooling_max},
      {"pooling_avg_include_padding", algorithm::pooling_avg_include_padding},
      {"pooling_avg_exclude_padding", algorithm::pooling_avg_exclude_padding},
      {"lrn_across_channels", algorithm::lrn_across_channels},
  };
  return *algs;
}

algorithm Alg(const std::string& name) {
  const auto it = Algorithms().find(name);
  if (it == Algorithms().end()) throw Unsupported("algorithm '" + name + "'");
  return it->second;
}

// Post-ops of the attrs field: `attr-post-ops:eltwise_relu` or `attr-post-ops:sum+eltwise_relu`.
dnnl::primitive_attr Attr(const Problem& p) {
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  for (const std::string& item : Split(p.attrs, ' ')) {
    if (item.empty()) continue;
    if (item.rfind("attr-post-ops:", 0) != 0) throw Unsupported("attribute " + item);
    for (const std::string& op : Split(item.substr(14), '+')) {
      if (op == "sum") {
        ops.append_sum(1.f);
      } else if (op == "eltwise_relu") {
#if DNNL_VERSION_MAJOR >= 3
        ops.append_eltwise(algorithm::eltwise_relu, 0.f, 0.f);
#else
        ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
#endif
      } else {
        throw Unsupported("post-op " + op);
      }
    }
  }
  attr.set_post_ops(ops);
  return attr;
}

prop_kind Prop(const std::string& name) {
  static const auto* props = new std::map<std::string, prop_kind>{
      {"forward_training", prop_kind::forward_training},
      {"forward_inference", prop_kind::forward_inference},
      {"backward_data", prop_kind::backward_data},
      {"backward_weights", prop_kind::backward_weights},
      {"backward", prop_kind::backward}};
  const auto it = props->find(name);
  if (it == props->end()) throw Unsupported("propagation kind " + name);
  return it->second;
}

// A primitive ready to run: its descriptor (for the arguments' layouts) and a forward primitive
// to run once first where the backward one reads its workspace.
struct Runnable {
  dnnl::primitive_desc_base pd;
  dnnl::primitive prim;
  std::optional<dnnl::primitive_desc_base> forward_pd;
  std::optional<dnnl::primitive> forward;
};

// The right padding that makes the logged output size (dilation in oneDNN's terms, d - 1).
int64_t RightPadding(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_l) {
  return (out - 1) * stride + (kernel - 1) * (dilation + 1) + 1 - in - pad_l;
}

// ---- convolution ----

struct ConvShape {
  Dims src, wei, dst, strides, dilates, pad_l, pad_r;
};

ConvShape GetConvShape(const Problem& p) {
  const auto& v = p.values;
  const int64_t g = Get(v, "g", 1), mb = v.at("mb"), ic = v.at("ic"), oc = v.at("oc");
  const int64_t ih = v.at("ih"), oh = v.at("oh"), kh = v.at("kh");
  const int64_t iw = Get(v, "iw", ih), ow = Get(v, "ow", oh), kw = Get(v, "kw", kh);
  if (v.count("id")) throw Unsupported("3-D convolution");
  const int64_t ph = Get(v, "ph", 0), pw = Get(v, "pw", 0);
  ConvShape s;
  s.src = {mb, ic, ih, iw};
  s.wei = g > 1 ? Dims{g, oc / g, ic / g, kh, kw} : Dims{oc, ic, kh, kw};
  s.dst = {mb, oc, oh, ow};
  s.strides = {Get(v, "sh", 1), Get(v, "sw", 1)};
  s.dilates = {Get(v, "dh", 0), Get(v, "dw", 0)};
  s.pad_l = {ph, pw};
  s.pad_r = {RightPadding(ih, oh, kh, s.strides[0], s.dilates[0], ph),
             RightPadding(iw, ow, kw, s.strides[1], s.dilates[1], pw)};
  return s;
}

using ConvFwdPd = dnnl::convolution_forward::primitive_desc;

ConvFwdPd MakeConvForward(const dnnl::engine& eng, prop_kind prop, algorithm alg, const memory::desc& src,
                          const memory::desc& wei, const memory::desc& bia, const memory::desc& dst,
                          const ConvShape& s, const dnnl::primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
  return ConvFwdPd(eng, prop, alg, src, wei, bia, dst, s.strides, s.dilates, s.pad_l, s.pad_r, attr);
#else
  dnnl::convolution_forward::desc d(prop, alg, src, wei, bia, dst, s.strides, s.dilates, s.pad_l, s.pad_r);
  return ConvFwdPd(d, attr, eng);
#endif
}

// As dlf's ops/conv.cc: Winograd where asked and this version has it, else direct.
template <typename Make>
auto WithFallback(algorithm alg, Make make) -> decltype(make(alg)) {
  try {
    return make(alg);
  } catch (const dnnl::error&) {
    if (alg == algorithm::convolution_direct) throw;
    return make(algorithm::convolution_direct);
  }
}

Runnable MakeConv(const dnnl::engine& eng, const Problem& p, bool any_layout) {
  const ConvShape s = GetConvShape(p);
  const algorithm requested = Alg(AuxItem(p, "alg"));
  const prop_kind prop = Prop(p.prop);
  const Tensor& src_t = Need(p, "src");
  const Tensor& wei_t = Need(p, "wei");
  const Tensor& dst_t = Need(p, "dst");
  const memory::desc src = Md(s.src, src_t, any_layout), dst = Md(s.dst, dst_t, any_layout);
  const memory::desc wei = Md(s.wei, wei_t, /*any=*/true);
  const memory::desc bia = Has(p, "bia") ? memory::desc({s.dst[1]}, Need(p, "bia").dt, Tag::a) : memory::desc();
  const bool forward = prop == prop_kind::forward_training || prop == prop_kind::forward_inference;
  // A backward primitive's hint: the forward one in the forward's data types (bf16 weights where
  // the backward's diff weights are f32: dlf's bf16 steps keep f32 weight gradients).
  const memory::data_type fwd_wei_dt = src_t.dt == memory::data_type::bf16 ? memory::data_type::bf16 : wei_t.dt;
  const memory::desc fwd_wei = memory::desc(s.wei, fwd_wei_dt, Tag::any);
  return WithFallback(requested, [&](algorithm alg) -> Runnable {
    if (forward) {
      auto pd = MakeConvForward(eng, prop, alg, src, wei, bia, dst, s, Attr(p));
      return {pd, dnnl::convolution_forward(pd), {}, {}};
    }
    const auto hint = MakeConvForward(eng, prop_kind::forward_training, alg, src, fwd_wei, bia, dst, s, {});
    if (prop == prop_kind::backward_data) {
#if DNNL_VERSION_MAJOR >= 3
      dnnl::convolution_backward_data::primitive_desc pd(eng, alg, src, wei, dst, s.strides, s.dilates, s.pad_l,
                                                          s.pad_r, hint);
#else
      dnnl::convolution_backward_data::desc d(alg, src, wei, dst, s.strides, s.dilates, s.pad_l, s.pad_r);
      dnnl::convolution_backward_data::primitive_desc pd(d, eng, hint);
#endif
      return {pd, dnnl::convolution_backward_data(pd), {}, {}};
    }
#if DNNL_VERSION_MAJOR >= 3
    dnnl::convolution_backward_weights::primitive_desc pd(eng, alg, src, wei, bia, dst, s.strides, s.dilates,
                                                           s.pad_l, s.pad_r, hint);
#else
    dnnl::convolution_backward_weights::desc d(alg, src, wei, bia, dst, s.strides, s.dilates, s.pad_l, s.pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(d, eng, hint);
#endif
    return {pd, dnnl::convolution_backward_weights(pd), {}, {}};
  });
}

// ---- inner product (dlf runs only its backward weights on it) and matmul ----

Runnable MakeInnerProduct(const dnnl::engine& eng, const Problem& p) {
  const auto& v = p.values;
  const int64_t mb = v.at("mb"), ic = v.at("ic"), oc = v.at("oc");
  if (v.count("ih")) throw Unsupported("inner product on a spatial input");
  const memory::desc src = Md({mb, ic}, Need(p, "src")), wei = Md({oc, ic}, Need(p, "wei"));
  const memory::desc dst = Md({mb, oc}, Need(p, "dst"));
  const memory::desc bia = Has(p, "bia") ? memory::desc({oc}, Need(p, "bia").dt, Tag::a) : memory::desc();
  const prop_kind prop = Prop(p.prop);
  const memory::desc fwd_wei(Dims{oc, ic}, Need(p, "src").dt, Tag::any);
#if DNNL_VERSION_MAJOR >= 3
  dnnl::inner_product_forward::primitive_desc hint(eng, prop_kind::forward_training, src, fwd_wei, bia, dst);
#else
  dnnl::inner_product_forward::desc fd(prop_kind::forward_training, src, fwd_wei, bia, dst);
  dnnl::inner_product_forward::primitive_desc hint(fd, eng);
#endif
  if (prop == prop_kind::backward_weights) {
#if DNNL_VERSION_MAJOR >= 3
    dnnl::inner_product_backward_weights::primitive_desc pd(eng, src, wei, bia, dst, hint);
#else
    dnnl::inner_product_backward_weights::desc d(src, wei, bia, dst);
    dnnl::inner_product_backward_weights::primitive_desc pd(d, eng, hint);
#endif
    return {pd, dnnl::inner_product_backward_weights(pd), {}, {}};
  }
  if (prop == prop_kind::backward_data) {
#if DNNL_VERSION_MAJOR >= 3
    dnnl::inner_product_backward_data::primitive_desc pd(eng, src, wei, dst, hint);
#else
    dnnl::inner_product_backward_data::desc d(src, wei, dst);
    dnnl::inner_product_backward_data::primitive_desc pd(d, eng, hint);
#endif
    return {pd, dnnl::inner_product_backward_data(pd), {}, {}};
  }
#if DNNL_VERSION_MAJOR >= 3
  dnnl::inner_product_forward::primitive_desc pd(eng, prop, src, wei, bia, dst, Attr(p));
#else
  dnnl::inner_product_forward::desc d(prop, src, wei, bia, dst);
  dnnl::inner_product_forward::primitive_desc pd(d, Attr(p), eng);
#endif
  return {pd, dnnl::inner_product_forward(pd), {}, {}};
}

Runnable MakeMatmul(const dnnl::engine& eng, const Problem& p) {
  const auto dims = ParseDimsList(p.shape);  // src:wei:dst
  if (dims.size() != 3) throw Unsupported("matmul shape " + p.shape);
  // Weights dlf packed for inference (a blocked layout in the log) take this version's packing.
  const Tensor& wei_t = Need(p, "wei");
  const memory::desc src = Md(dims[0], Need(p, "src")), wei = Md(dims[1], wei_t, !Tags().count(wei_t.tag));
  const memory::desc dst = Md(dims[2], Need(p, "dst"));
  memory::desc bia;
  if (Has(p, "bia")) {  // dlf's bias is a row: [1, n] (the log's `_mask2`)
    Dims bia_dims(dims[2].size(), 1);
    bia_dims.back() = dims[2].back();
    bia = memory::desc(bia_dims, Need(p, "bia").dt, bia_dims.size() == 2 ? Tag::ab : Tag::abc);
  }
#if DNNL_VERSION_MAJOR >= 3
  dnnl::matmul::primitive_desc pd(eng, src, wei, bia, dst, Attr(p));
#else
  dnnl::matmul::desc d(src, wei, bia, dst);
  dnnl::matmul::primitive_desc pd(d, Attr(p), eng);
#endif
  return {pd, dnnl::matmul(pd), {}, {}};
}

// ---- batch normalization ----

dnnl::normalization_flags BnFlags(const Problem& p) {
  const std::string flags = AuxItem(p, "flags");
  auto result = dnnl::normalization_flags::none;
  for (char c : flags) {
    switch (c) {
      case 'G': result |= dnnl::normalization_flags::use_global_stats; break;
      case 'C': result |= dnnl::normalization_flags::use_scale; break;
      case 'H': result |= dnnl::normalization_flags::use_shift; break;
      case 'R': result |= dnnl::normalization_flags::fuse_norm_relu; break;
      default: throw Unsupported(std::string("batch normalization flag ") + c);
    }
  }
  return result;
}

using BnFwdPd = dnnl::batch_normalization_forward::primitive_desc;

BnFwdPd MakeBnForward(const dnnl::engine& eng, prop_kind prop, const memory::desc& data,
                      dnnl::normalization_flags flags) {
  constexpr float kEps = 1e-5f;
#if DNNL_VERSION_MAJOR >= 3
  return BnFwdPd(eng, prop, data, data, kEps, flags);
#else
  dnnl::batch_normalization_forward::desc d(prop, data, kEps, flags);
  return BnFwdPd(d, eng);
#endif
}

Runnable MakeBatchNorm(const dnnl::engine& eng, const Problem& p) {
  const auto& v = p.values;
  const Dims dims = {v.at("mb"), v.at("ic"), Get(v, "ih", 1), Get(v, "iw", Get(v, "ih", 1))};
  const memory::desc data = Md(dims, Need(p, "data"));
  const auto flags = BnFlags(p);
  const prop_kind prop = Prop(p.prop);
  if (prop == prop_kind::forward_training || prop == prop_kind::forward_inference) {
    auto pd = MakeBnForward(eng, prop, data, flags);
    return {pd, dnnl::batch_normalization_forward(pd), {}, {}};
  }
  auto fwd = MakeBnForward(eng, prop_kind::forward_training, data, flags);
  const memory::desc diff = Md(dims, Need(p, "diff"));
#if DNNL_VERSION_MAJOR >= 3
  dnnl::batch_normalization_backward::primitive_desc pd(eng, prop, diff, diff, data, 1e-5f, flags, fwd);
#else
  dnnl::batch_normalization_backward::desc d(prop, diff, data, 1e-5f, flags);
  dnnl::batch_normalization_backward::primitive_desc pd(d, eng, fwd);
#endif
  return {pd, dnnl::batch_normalization_backward(pd), fwd, dnnl::batch_normalization_forward(fwd)};
}

// ---- pooling ----

struct PoolShape {
  Dims src, dst, kernel, strides, dilation, pad_l, pad_r;
};

PoolShape GetPoolShape(const Problem& p) {
  const auto& v = p.values;
  const int64_t mb = v.at("mb"), ic = v.at("ic"), ih = v.at("ih"), oh = v.at("oh"), kh = v.at("kh");
  const int64_t iw = Get(v, "iw", ih), ow = Get(v, "ow", oh), kw = Get(v, "kw", kh);
  PoolShape s;
  s.src = {mb, ic, ih, iw};
  s.dst = {mb, ic, oh, ow};
  s.kernel = {kh, kw};
  s.strides = {Get(v, "sh", 1), Get(v, "sw", 1)};
  s.dilation = {Get(v, "dh", 0), Get(v, "dw", 0)};
  s.pad_l = {Get(v, "ph", 0), Get(v, "pw", 0)};
  s.pad_r = {RightPadding(ih, oh, kh, s.strides[0], s.dilation[0], s.pad_l[0]),
             RightPadding(iw, ow, kw, s.strides[1], s.dilation[1], s.pad_l[1])};
  return s;
}

#if DNNL_VERSION_MAJOR >= 3
using PoolFwd = dnnl::pooling_forward;
using PoolBwd = dnnl::pooling_backward;
#else
using PoolFwd = dnnl::pooling_v2_forward;
using PoolBwd = dnnl::pooling_v2_backward;
#endif

PoolFwd::primitive_desc MakePoolForward(const dnnl::engine& eng, prop_kind prop, algorithm alg,
                                        const memory::desc& src, const memory::desc& dst, const PoolShape& s,
                                        const dnnl::primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
  return PoolFwd::primitive_desc(eng, prop, alg, src, dst, s.strides, s.kernel, s.dilation, s.pad_l, s.pad_r,
                                 attr);
#else
  PoolFwd::desc d(prop, alg, src, dst, s.strides, s.kernel, s.dilation, s.pad_l, s.pad_r);
  return PoolFwd::primitive_desc(d, attr, eng);
#endif
}

Runnable MakePooling(const dnnl::engine& eng, const Problem& p) {
  const PoolShape s = GetPoolShape(p);
  const algorithm alg = Alg(AuxItem(p, "alg"));
  const memory::desc src = Md(s.src, Need(p, "src")), dst = Md(s.dst, Need(p, "dst"));
  const prop_kind prop = Prop(p.prop);
  if (prop != prop_kind::backward_data) {
    auto pd = MakePoolForward(eng, prop, alg, src, dst, s, Attr(p));
    return {pd, PoolFwd(pd), {}, {}};
  }
  auto fwd = MakePoolForward(eng, prop_kind::forward_training, alg, src, dst, s, {});
#if DNNL_VERSION_MAJOR >= 3
  PoolBwd::primitive_desc pd(eng, alg, src, dst, s.strides, s.kernel, s.dilation, s.pad_l, s.pad_r, fwd);
#else
  PoolBwd::desc d(alg, src, dst, s.strides, s.kernel, s.dilation, s.pad_l, s.pad_r);
  PoolBwd::primitive_desc pd(d, eng, fwd);
#endif
  return {pd, PoolBwd(pd), fwd, PoolFwd(fwd)};
}

// ---- element-wise kinds ----

float AuxFloat(const Problem& p, const std::string& key) {
  const std::string value = AuxItem(p, key);
  return value.empty() ? 0.f : std::stof(value);
}

Runnable MakeEltwise(const dnnl::engine& eng, const Problem& p) {
  const Dims dims = ParseDimsList(p.shape).at(0);
  const algorithm alg = Alg(AuxItem(p, "alg"));
  const float alpha = AuxFloat(p, "alpha"), beta = AuxFloat(p, "beta");
  const memory::desc data = Md(dims, Need(p, "data"));
  const prop_kind prop = Prop(p.prop);
#if DNNL_VERSION_MAJOR >= 3
  dnnl::eltwise_forward::primitive_desc fwd(eng, prop_kind::forward_training, alg, data, data, alpha, beta);
#else
  dnnl::eltwise_forward::desc fd(prop_kind::forward_training, alg, data, alpha, beta);
  dnnl::eltwise_forward::primitive_desc fwd(fd, eng);
#endif
  if (prop != prop_kind::backward_data) return {fwd, dnnl::eltwise_forward(fwd), {}, {}};
  const memory::desc diff = Md(dims, Need(p, "diff"));
#if DNNL_VERSION_MAJOR >= 3
  dnnl::eltwise_backward::primitive_desc pd(eng, alg, diff, diff, data, alpha, beta, fwd);
#else
  dnnl::eltwise_backward::desc d(alg, diff, data, alpha, beta);
  dnnl::eltwise_backward::primitive_desc pd(d, eng, fwd);
#endif
  return {pd, dnnl::eltwise_backward(pd), {}, {}};
}

Runnable MakeBinary(const dnnl::engine& eng, const Problem& p) {
  const auto dims = ParseDimsList(p.shape);  // src0:src1 (dst as src0)
  if (dims.size() != 2) throw Unsupported("binary shape " + p.shape);
  // The formats field names src twice (src0, src1) and the map keeps one: both take its layout.
  const memory::desc src0 = Md(dims[0], Need(p, "src")), src1 = Md(dims[1], Need(p, "src"));
  const memory::desc dst = Md(dims[0], Need(p, "dst"));
  const algorithm alg = Alg(AuxItem(p, "alg"));
#if DNNL_VERSION_MAJOR >= 3
  dnnl::binary::primitive_desc pd(eng, alg, src0, src1, dst, Attr(p));
#else
  dnnl::binary::desc d(alg, src0, src1, dst);
  dnnl::binary::primitive_desc pd(d, Attr(p), eng);
#endif
  return {pd, dnnl::binary(pd), {}, {}};
}

Runnable Make(const dnnl::engine& eng, const Problem& p, bool any_layout) {
  if (p.kind == "convolution") return MakeConv(eng, p, any_layout);
  if (p.kind == "inner_product") return MakeInnerProduct(eng, p);
  if (p.kind == "matmul") return MakeMatmul(eng, p);
  if (p.kind == "batch_normalization") return MakeBatchNorm(eng, p);
  if (p.kind == "pooling" || p.kind == "pooling_v2") return MakePooling(eng, p);
  if (p.kind == "eltwise") return MakeEltwise(eng, p);
  if (p.kind == "binary") return MakeBinary(eng, p);
  throw Unsupported("primitive kind " + p.kind);
}

// ---- running ----

// Every argument a primitive descriptor has a layout for, in both versions.
const std::vector<int>& ArgumentKinds() {
  static const auto* args = new std::vector<int>{
      DNNL_ARG_SRC,          DNNL_ARG_SRC_1,     DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS,        DNNL_ARG_DST,
      DNNL_ARG_DIFF_SRC,     DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS, DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE,
      DNNL_ARG_MEAN,         DNNL_ARG_VARIANCE,  DNNL_ARG_SCALE,   DNNL_ARG_SHIFT,       DNNL_ARG_DIFF_SCALE,
      DNNL_ARG_DIFF_SHIFT,   DNNL_ARG_SCRATCHPAD};
  return *args;
}

// Positive values in [0.25, 1): a valid variance, no denormals, in f32 or bf16.
void Fill(memory& m) {
  const memory::desc md = m.get_desc();
#if DNNL_VERSION_MAJOR >= 3
  const memory::data_type dt = md.get_data_type();
#else
  const memory::data_type dt = md.data_type();
#endif
  auto* bytes = static_cast<uint8_t*>(m.get_data_handle());
  const size_t size = md.get_size();
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return 0.25f + 0.75f * static_cast<float>(state >> 8) / 16777216.f;
  };
  if (dt == memory::data_type::f32) {
    auto* f = reinterpret_cast<float*>(bytes);
    for (size_t i = 0; i < size / 4; ++i) f[i] = next();
  } else if (dt == memory::data_type::bf16) {
    auto* h = reinterpret_cast<uint16_t*>(bytes);
    for (size_t i = 0; i < size / 2; ++i) {
      const float x = next();
      uint32_t u;
      std::memcpy(&u, &x, 4);
      h[i] = static_cast<uint16_t>(u >> 16);
    }
  } else {
    std::memset(bytes, 0, size);
  }
}

std::unordered_map<int, memory> Arguments(const dnnl::engine& eng, const dnnl::primitive_desc_base& pd,
                                          std::unordered_map<int, memory> shared = {}) {
  std::unordered_map<int, memory> args = std::move(shared);
  // 3.x reports a shift layout for a normalization's backward but refuses it as an argument;
  // 2.6.3 requires it.
  const bool normalization_backward = DNNL_VERSION_MAJOR >= 3 &&
                                      pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_DIFF_SHIFT).get_size() > 0;
  for (int arg : ArgumentKinds()) {
    if (args.count(arg) || (arg == DNNL_ARG_SHIFT && normalization_backward)) continue;
    const memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
    if (md.get_size() == 0) continue;
    memory m(md, eng);
    Fill(m);
    args.emplace(arg, m);
  }
  return args;
}

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median milliseconds of one execution, over at least `min_runs` and `min_seconds`.
double Time(const dnnl::engine& eng, Runnable& r, double min_seconds, int min_runs) {
  dnnl::stream stream(eng);
  std::unordered_map<int, memory> shared;
  if (r.forward) {  // the backward reads what its forward wrote: statistics and workspace
    auto fwd_args = Arguments(eng, *r.forward_pd);
    r.forward->execute(stream, fwd_args);
    stream.wait();
    for (int arg : {DNNL_ARG_WORKSPACE, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE}) {
      if (fwd_args.count(arg)) shared.emplace(arg, fwd_args.at(arg));
    }
  }
  auto args = Arguments(eng, r.pd, shared);
  for (int i = 0; i < 2; ++i) r.prim.execute(stream, args);  // warm-up
  stream.wait();
  std::vector<double> times;
  const double start = Seconds();
  while (static_cast<int>(times.size()) < min_runs || Seconds() - start < min_seconds) {
    const double t0 = Seconds();
    r.prim.execute(stream, args);
    stream.wait();
    times.push_back((Seconds() - t0) * 1e3);
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--seconds=S] [--min_runs=N] [--any_layout] [FILE]\n"
               "  times each primitive of oneDNN verbose lines (from the primitive kind on) in oneDNN %d.%d.%d\n",
               argv0, DNNL_VERSION_MAJOR, DNNL_VERSION_MINOR, DNNL_VERSION_PATCH);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 0.2;
  int min_runs = 5;
  bool any_layout = false;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--seconds=", 0) == 0) {
      min_seconds = std::atof(arg.c_str() + 10);
    } else if (arg.rfind("--min_runs=", 0) == 0) {
      min_runs = std::atoi(arg.c_str() + 11);
    } else if (arg == "--any_layout") {
      any_layout = true;
    } else if (arg == "--version") {
      const dnnl_version_t* v = dnnl_version();
      std::printf("oneDNN %d.%d.%d (%s)\n", v->major, v->minor, v->patch, v->hash);
      return 0;
    } else if (arg.rfind("--", 0) != 0 && file.empty()) {
      file = arg;
    } else {
      std::fprintf(stderr, "error: unknown argument '%s'\n", arg.c_str());
      return Usage(argv[0]);
    }
  }
  if (min_seconds < 0 || min_runs < 1) return Usage(argv[0]);
  std::ifstream in_file;
  if (!file.empty()) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error) || !(in_file.open(file), in_file)) {
      std::fprintf(stderr, "error: expected a file of oneDNN verbose lines at '%s', found %s\n", file.c_str(),
                   std::filesystem::is_directory(file, error) ? "a directory" : "no readable file");
      return 1;
    }
  }
  std::istream& in = file.empty() ? std::cin : in_file;
  dnnl::engine eng;
  try {
    eng = dnnl::engine(dnnl::engine::kind::cpu, 0);
  } catch (const dnnl::error& e) {
    // PyPI's 3.13 finds its CPU through SYCL's OpenCL adapter (see benchmarks/compare_onednn.py).
    std::fprintf(stderr, "error: oneDNN %d.%d.%d found no CPU engine: %s\n", DNNL_VERSION_MAJOR,
                 DNNL_VERSION_MINOR, DNNL_VERSION_PATCH, e.what());
    return 1;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      const Problem p = ParseLine(line);
      Runnable r = Make(eng, p, any_layout);
      const double ms = Time(eng, r, min_seconds, min_runs);
      std::printf("%d\t%s\t%.6f\n", n, r.pd.impl_info_str(), ms);
    } catch (const Unsupported& e) {
      std::printf("%d\tunsupported: %s\tnan\n", n, e.what());
    } catch (const dnnl::error& e) {
      std::printf("%d\tunsupported: oneDNN: %s\tnan\n", n, e.what());
    } catch (const std::exception& e) {  // a malformed line (std::stoll, map::at)
      std::printf("%d\tunsupported: cannot parse: %s\tnan\n", n, e.what());
    }
    std::fflush(stdout);
  }
  return 0;
}
