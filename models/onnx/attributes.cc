#include "models/onnx/attributes.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dlf::onnx_import {
namespace {

using onnx::AttributeProto;

// One attribute an op's import function understands: its type, and the spec's default where
// there is one that does not depend on the input.
struct AttributeSpec {
  AttributeProto::AttributeType type;
  std::optional<AttributeProto> fallback;
  double exact = 0;  // a float default as the spec writes it (AttributeProto holds a float)
};
using OpAttributes = std::map<std::string, AttributeSpec>;

AttributeProto Proto(AttributeProto::AttributeType type) {
  AttributeProto a;
  a.set_type(type);
  return a;
}
std::pair<std::string, AttributeSpec> Int(const std::string& name, int64_t v) {
  AttributeProto a = Proto(AttributeProto::INT);
  a.set_i(v);
  return {name, {AttributeProto::INT, a}};
}
std::pair<std::string, AttributeSpec> Float(const std::string& name, double v) {
  AttributeProto a = Proto(AttributeProto::FLOAT);
  a.set_f(static_cast<float>(v));
  return {name, {AttributeProto::FLOAT, a, v}};
}
std::pair<std::string, AttributeSpec> Ints(const std::string& name, std::vector<int64_t> v) {
  AttributeProto a = Proto(AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
  return {name, {AttributeProto::INTS, a}};
}
std::pair<std::string, AttributeSpec> String(const std::string& name, const std::string& v) {
  AttributeProto a = Proto(AttributeProto::STRING);
  a.set_s(v);
  return {name, {AttributeProto::STRING, a}};
}
// Required, or a default the op's function computes from its input.
std::pair<std::string, AttributeSpec> NoDefault(const std::string& name, AttributeProto::AttributeType type) {
  return {name, {type, std::nullopt}};
}

// The spec's attributes (opsets 11 to 17) of every op dlf imports, as far as dlf understands
// them. Spatial lists are 2-D: dlf's convolutions and pools are.
const std::map<std::string, OpAttributes>& Table() {
  static const auto* table = [] {
    const OpAttributes conv = {String("auto_pad", "NOTSET"),       Ints("dilations", {1, 1}), Int("group", 1),
                               NoDefault("kernel_shape", AttributeProto::INTS), Ints("pads", {0, 0, 0, 0}),
                               Ints("strides", {1, 1})};
    OpAttributes conv_transpose = conv;
    conv_transpose.insert(Ints("output_padding", {0, 0}));
    conv_transpose.insert(NoDefault("output_shape", AttributeProto::INTS));
    const OpAttributes pool = {String("auto_pad", "NOTSET"), Int("ceil_mode", 0), Ints("dilations", {1, 1}),
                               NoDefault("kernel_shape", AttributeProto::INTS), Ints("pads", {0, 0, 0, 0}),
                               Ints("strides", {1, 1})};
    OpAttributes max_pool = pool, average_pool = pool;
    max_pool.insert(Int("storage_order", 0));
    average_pool.erase("dilations");  // AveragePool has dilations from opset 19 only
    average_pool.insert(Int("count_include_pad", 0));
    const OpAttributes axes = {NoDefault("axes", AttributeProto::INTS)};
    return new std::map<std::string, OpAttributes>{
        {"AveragePool", average_pool},
        {"BatchNormalization", {Float("epsilon", 1e-5), Float("momentum", 0.9), Int("training_mode", 0)}},
        {"Cast", {NoDefault("to", AttributeProto::INT)}},
        {"Clip", {NoDefault("min", AttributeProto::FLOAT), NoDefault("max", AttributeProto::FLOAT)}},
        {"Concat", {NoDefault("axis", AttributeProto::INT)}},
        {"Constant", {NoDefault("value", AttributeProto::TENSOR)}},
        {"ConstantOfShape", {NoDefault("value", AttributeProto::TENSOR)}},
        {"Conv", conv},
        {"ConvTranspose", conv_transpose},
        {"Dropout", {Float("ratio", 0.5), NoDefault("seed", AttributeProto::INT)}},
        {"Flatten", {Int("axis", 1)}},
        {"Gather", {Int("axis", 0)}},
        {"Gemm", {Float("alpha", 1), Float("beta", 1), Int("transA", 0), Int("transB", 0)}},
        {"HardSigmoid", {Float("alpha", 0.2), Float("beta", 0.5)}},
        {"LRN", {Float("alpha", 1e-4), Float("beta", 0.75), Float("bias", 1), NoDefault("size", AttributeProto::INT)}},
        {"MaxPool", max_pool},
        {"Elu", {Float("alpha", 1.0)}},
        {"LeakyRelu", {Float("alpha", 0.01)}},
        {"LogSoftmax", {NoDefault("axis", AttributeProto::INT)}},
        {"Mod", {Int("fmod", 0)}},
        {"Pad", {String("mode", "constant"), NoDefault("pads", AttributeProto::INTS), Float("value", 0)}},
        {"ReduceMax", {NoDefault("axes", AttributeProto::INTS), Int("keepdims", 1)}},
        {"ReduceMean", {NoDefault("axes", AttributeProto::INTS), Int("keepdims", 1)}},
        {"ReduceSum", {NoDefault("axes", AttributeProto::INTS), Int("keepdims", 1), Int("noop_with_empty_axes", 0)}},
        {"Reshape", {Int("allowzero", 0)}},
        {"Shape", {Int("start", 0), NoDefault("end", AttributeProto::INT)}},
        // The default axis is -1 from opset 13, 1 before: the function gives it (LogSoftmax's too).
        {"Softmax", {NoDefault("axis", AttributeProto::INT)}},
        {"Split", {Int("axis", 0), NoDefault("split", AttributeProto::INTS)}},
        {"Squeeze", axes},
        {"Transpose", {NoDefault("perm", AttributeProto::INTS)}},
        {"Unsqueeze", axes},
    };
  }();
  return *table;
}

const OpAttributes* AttributesOf(const std::string& op) {
  auto it = Table().find(op);
  return it == Table().end() ? nullptr : &it->second;
}

const AttributeSpec* SpecOf(const std::string& op, const std::string& name) {
  const OpAttributes* listed = AttributesOf(op);
  if (listed == nullptr) return nullptr;
  auto spec = listed->find(name);
  return spec == listed->end() ? nullptr : &spec->second;
}

std::string TypeName(int type) {
  const std::string name = AttributeProto::AttributeType_Name(static_cast<AttributeProto::AttributeType>(type));
  return name.empty() ? absl::StrCat("type ", type) : name;
}

std::string ValueText(const AttributeProto& a) {
  switch (a.type()) {
    case AttributeProto::INT: return absl::StrCat(a.i());
    case AttributeProto::FLOAT: return absl::StrCat(a.f());
    case AttributeProto::INTS: return absl::StrCat("[", absl::StrJoin(a.ints(), ", "), "]");
    case AttributeProto::STRING: return absl::StrCat("'", a.s(), "'");
    default: return TypeName(a.type());
  }
}

bool SameValue(const AttributeProto& a, const AttributeProto& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case AttributeProto::INT: return a.i() == b.i();
    case AttributeProto::FLOAT: return a.f() == b.f();
    case AttributeProto::INTS: return std::equal(a.ints().begin(), a.ints().end(), b.ints().begin(), b.ints().end());
    case AttributeProto::STRING: return a.s() == b.s();
    default: return false;
  }
}

}  // namespace

absl::Status NodeAttributes::CheckListed() const {
  for (const AttributeProto& a : node_.attribute()) {
    const AttributeSpec* spec = SpecOf(node_.op_type(), a.name());
    if (spec == nullptr) {
      std::vector<std::string> names;
      if (const OpAttributes* listed = AttributesOf(node_.op_type())) {
        for (const auto& [name, unused] : *listed) names.push_back(name);
      }
      return absl::UnimplementedError(absl::StrCat(
          "attribute '", a.name(), "' is not understood by dlf's import (", node_.op_type(),
          names.empty() ? " takes no attributes" : absl::StrCat(" takes ", absl::StrJoin(names, ", ")), ")"));
    }
    if (a.type() != spec->type) {
      return absl::InvalidArgumentError(absl::StrCat("attribute '", a.name(), "' is of type ", TypeName(a.type()),
                                                     "; the ONNX spec gives it type ", TypeName(spec->type)));
    }
  }
  return absl::OkStatus();
}

absl::Status NodeAttributes::CheckUnread() const {
  for (const AttributeProto& a : node_.attribute()) {
    const AttributeSpec* spec = SpecOf(node_.op_type(), a.name());
    if (read_.count(a.name()) || spec == nullptr) continue;  // CheckListed refuses the unlisted
    const std::optional<AttributeProto>& fallback = spec->fallback;
    if (fallback && SameValue(a, *fallback)) continue;
    return absl::UnimplementedError(absl::StrCat(
        "attribute '", a.name(), "' = ", ValueText(a), " is not supported here",
        fallback ? absl::StrCat(" (dlf takes its default, ", ValueText(*fallback), ")") : ""));
  }
  return absl::OkStatus();
}

const AttributeProto* NodeAttributes::Own(const std::string& name) const {
  for (const AttributeProto& a : node_.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

const AttributeProto* NodeAttributes::Get(const std::string& name) {
  read_.insert(name);
  if (const AttributeProto* a = Own(name)) return a;
  const AttributeSpec* spec = SpecOf(node_.op_type(), name);
  return spec && spec->fallback ? &*spec->fallback : nullptr;
}

bool NodeAttributes::Has(const std::string& name) {
  read_.insert(name);
  return Own(name) != nullptr;
}

int64_t NodeAttributes::Int(const std::string& name, int64_t fallback) {
  const AttributeProto* a = Get(name);
  return a ? a->i() : fallback;
}

double NodeAttributes::Float(const std::string& name, double fallback) {
  const AttributeProto* a = Get(name);
  if (a == nullptr) return fallback;
  return Own(name) ? a->f() : SpecOf(node_.op_type(), name)->exact;  // the default as the spec writes it
}

std::vector<int64_t> NodeAttributes::Ints(const std::string& name, std::vector<int64_t> fallback) {
  const AttributeProto* a = Get(name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

std::string NodeAttributes::String(const std::string& name, const std::string& fallback) {
  const AttributeProto* a = Get(name);
  return a ? a->s() : fallback;
}

}  // namespace dlf::onnx_import
