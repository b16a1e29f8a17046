#include "models/onnx/backend_test.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_io.h"
#include "graph/executor.h"
#include "graph/status_macros.h"
#include "models/onnx/import.h"

namespace dlf::onnx_import {

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPassed: return "passed";
    case Verdict::kFailed: return "failed";
    case Verdict::kUnsupported: return "unsupported";
  }
  return "";
}

namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxFileBytes = int64_t{2} << 30;

// An import or compile error: Unimplemented means dlf lacks the op, attribute or dtype.
CaseOutcome FromError(const absl::Status& status) {
  return {status.code() == absl::StatusCode::kUnimplemented ? Verdict::kUnsupported : Verdict::kFailed,
          std::string(status.message())};
}

// The files dir/prefix0.pb, dir/prefix1.pb, ... in order of their number.
std::vector<fs::path> NumberedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> found;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    int k = 0;
    if (absl::StartsWith(name, prefix) && absl::EndsWith(name, ".pb") &&
        absl::SimpleAtoi(name.substr(prefix.size(), name.size() - prefix.size() - 3), &k)) {
      found.emplace_back(k, e.path());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [k, path] : found) out.push_back(path);
  return out;
}

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

absl::StatusOr<std::vector<NamedTensor>> ReadTensors(const fs::path& dir, const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const fs::path& path : NumberedFiles(dir, prefix)) {
    DLF_ASSIGN_OR_RETURN(const std::string bytes, data::ReadFile(path.string(), kMaxFileBytes));
    DLF_ASSIGN_OR_RETURN(Tensor t, ParseTensor(bytes, path.string()));
    out.push_back({TensorName(bytes), std::move(t)});
  }
  return out;
}

// The worst element of `actual` against `expected` (numpy.testing.assert_allclose's rule:
// |a - e| <= atol + rtol * |e|, NaN equal to NaN), or "" when every element is within.
std::string Mismatch(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  if (actual.shape() != expected.shape()) {
    return absl::StrCat("shape ", ShapeString(actual.shape()), ", expected ", ShapeString(expected.shape()));
  }
  int64_t worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    const double a = actual.f32()[i], e = expected.f32()[i];
    if ((std::isnan(a) && std::isnan(e)) || a == e) continue;
    const double excess = std::isnan(a) || std::isnan(e) ? INFINITY : std::abs(a - e) - (atol + rtol * std::abs(e));
    if (excess > 0 && (worst < 0 || excess > worst_excess)) {
      worst = i;
      worst_excess = excess;
    }
  }
  if (worst < 0) return "";
  const double a = actual.f32()[worst], e = expected.f32()[worst];
  return absl::StrFormat("element %d of %s is %.9g, expected %.9g (|difference| %.3g, allowed %.3g)", worst,
                         ShapeString(expected.shape()), a, e, std::abs(a - e), atol + rtol * std::abs(e));
}

// An integer output evaluated at import against the expected one: equal element for element.
std::string IntegerMismatch(const Tensor& actual, const Tensor& expected) {
  if (actual.shape() != expected.shape()) {
    return absl::StrCat("shape ", ShapeString(actual.shape()), ", expected ", ShapeString(expected.shape()));
  }
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    if (actual.i64()[i] != expected.i64()[i]) {
      return absl::StrCat("element ", i, " of ", ShapeString(expected.shape()), " is ", actual.i64()[i], ", expected ",
                          expected.i64()[i]);
    }
  }
  return "";
}

// The graph compiled for `outputs` in inference (f32, fast math off) and run once on `given`.
absl::StatusOr<std::unique_ptr<Executor>> Run(Graph& g, const std::vector<Value>& outputs,
                                              const std::map<std::string, const Tensor*>& given) {
  DLF_ASSIGN_OR_RETURN(std::unique_ptr<Executor> run,
                       Executor::Compile(g, outputs, {.training = false, .fast_math = false}));
  std::vector<Feed> feeds;
  for (const Value v : run->required_inputs()) {
    auto it = given.find(g.name(v));
    if (it == given.end()) return absl::InvalidArgumentError(absl::StrCat("no value for the input '", g.name(v), "'"));
    feeds.push_back({v, it->second});
  }
  DLF_RETURN_IF_ERROR(run->Run(feeds));
  return run;
}

// One data set of a case: its inputs through the network, its outputs compared.
CaseOutcome RunDataSet(const std::string& model, const std::string& path, const fs::path& set,
                       const Tolerance& tolerance) {
  absl::StatusOr<std::vector<NamedTensor>> inputs = ReadTensors(set, "input_");
  if (!inputs.ok()) return FromError(inputs.status());
  absl::StatusOr<std::vector<NamedTensor>> expected = ReadTensors(set, "output_");
  if (!expected.ok()) return FromError(expected.status());
  std::map<std::string, const Tensor*> given;
  for (const NamedTensor& in : *inputs) given[in.name] = &in.tensor;
  Graph g;
  absl::StatusOr<Network> network = BuildNetwork(model, path, g, given);
  if (!network.ok()) return FromError(network.status());
  if (network->outputs.size() != expected->size()) {
    return {Verdict::kFailed, absl::StrCat(network->outputs.size(), " outputs, the data set has ", expected->size())};
  }
  std::vector<Value> computed;  // the outputs the graph computes; the others are known
  for (const Value v : network->outputs) {
    if (v.valid()) computed.push_back(v);
  }
  std::unique_ptr<Executor> run;
  if (!computed.empty()) {
    absl::StatusOr<std::unique_ptr<Executor>> ran = Run(g, computed, given);
    if (!ran.ok()) return FromError(ran.status());
    run = std::move(*ran);
  }
  for (int k = 0, fetch = 0; k < static_cast<int>(expected->size()); ++k) {
    const Tensor& want = (*expected)[k].tensor;
    auto known = network->known.find(k);
    std::string bad;
    if (known != network->known.end()) {
      bad = want.dtype() != DType::kI64 ? absl::StrCat("an integer output, expected ", DTypeName(want.dtype()))
                                        : IntegerMismatch(known->second, want);
    } else if (want.dtype() != DType::kF32) {
      return {Verdict::kUnsupported,
              absl::StrCat("output ", k, " is ", DTypeName(want.dtype()), "; dlf computes float")};
    } else {
      bad = Mismatch(run->fetch(fetch++), want, tolerance.rtol, tolerance.atol);
    }
    if (!bad.empty()) return {Verdict::kFailed, absl::StrCat("output ", k, " '", (*expected)[k].name, "': ", bad)};
  }
  return {Verdict::kPassed, ""};
}

}  // namespace

CaseOutcome RunCase(const fs::path& dir, const Tolerance& tolerance) {
  const fs::path model_path = dir / "model.onnx";
  absl::StatusOr<std::string> model = data::ReadFile(model_path.string(), kMaxFileBytes);
  if (!model.ok()) return FromError(model.status());
  if (absl::Status s = CheckTensorSignature(*model, model_path.string()); !s.ok()) return FromError(s);
  int sets = 0;
  for (int i = 0;; ++i) {
    const fs::path set = dir / absl::StrCat("test_data_set_", i);
    if (!fs::is_directory(set)) break;
    ++sets;
    CaseOutcome o = RunDataSet(*model, model_path.string(), set, tolerance);
    if (o.verdict != Verdict::kPassed) {
      if (i > 0) o.detail = absl::StrCat("data set ", i, ": ", o.detail);
      return o;
    }
  }
  if (sets == 0) return {Verdict::kFailed, absl::StrCat(dir.string(), " holds no test_data_set_0")};
  return {Verdict::kPassed, ""};
}

absl::StatusOr<std::vector<fs::path>> CaseDirs(const fs::path& dir) {
  const std::string arg = dir.string();
  if (!fs::is_directory(dir)) return absl::InvalidArgumentError(absl::StrCat(arg, ": expected a directory"));
  if (fs::exists(dir / "model.onnx")) return std::vector<fs::path>{dir};
  std::vector<fs::path> cases;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) cases.push_back(e.path());
  }
  if (cases.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(arg, ": expected a test case (model.onnx, test_data_set_0/) ",
                                                   "or a directory of them; found neither"));
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

}  // namespace dlf::onnx_import
