#include "graph/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/bf16.h"
#include "graph/cpu.h"
#include "graph/memory.h"
#include "graph/passes/passes.h"
#include "graph/status_macros.h"

namespace dlf {
namespace {

// The op's kernel factory; a oneDNN exception from it (e.g. a reorder between two layouts that
// oneDNN cannot convert) becomes an error instead of escaping.
absl::StatusOr<std::unique_ptr<Kernel>> MakeKernel(const OpDef& def, const KernelContext& k) {
  try {
    return def.kernel(k);
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN: ", e.what()));
  }
}

}  // namespace

Executor::Executor(Graph& graph, ExecutorOptions options)
    : graph_(graph), options_(options), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

Executor::~Executor() {
  if (print_profile_ && profiled_runs_ > 0) std::fputs(ProfileReport(print_per_kernel_).c_str(), stderr);
}

std::string Executor::ProfileReport(bool per_kernel) const {
  struct Row {
    double seconds = 0, flops = 0;
    int kernels = 0;
  };
  std::map<std::string, Row> by_op;
  double total = 0, flops = 0;
  for (const PlannedKernel& k : kernels_) {
    const passes::PlanNode& n = plan_.nodes[k.plan_node];
    Row& row = by_op[per_kernel ? absl::StrCat(ProfileLabel(n), " ", n.node.name) : ProfileLabel(n)];
    row.seconds += k.seconds;
    row.flops += k.flops;
    ++row.kernels;
    total += k.seconds;
    flops += k.flops;
  }
  const double runs = std::max<double>(1, static_cast<double>(profiled_runs_));
  // GFLOP/s of a row over its own time (runs * flops per run / seconds).
  const auto rate = [&](const Row& row) {
    return row.flops > 0 && row.seconds > 0 ? absl::StrFormat(" %7.1f GFLOP/s", runs * row.flops / row.seconds / 1e9) : "";
  };
  std::vector<std::pair<double, std::string>> rows;
  for (const auto& [op, row] : by_op) {
    rows.emplace_back(row.seconds, absl::StrFormat("%-44s %3d kernels", op, row.kernels) + "\t" + rate(row));
  }
  if (!bf16_copies_.empty()) {
    total += bf16_copy_seconds_;
    rows.emplace_back(bf16_copy_seconds_,
                      absl::StrFormat("%-44s %3d weights", "(bf16 weight copies) [precision]", bf16_copies_.size()) + "\t");
  }
  std::sort(rows.rbegin(), rows.rend());
  std::string report = absl::StrFormat(
      "profile of %d runs: %.2f ms per run in kernels, %.2f GFLOP per run (%.1f GFLOP/s), %d "
      "layout/precision reorders per run%s\n",
      profiled_runs_, 1e3 * total / runs, flops / 1e9, total > 0 ? runs * flops / total / 1e9 : 0.0,
      stats_.reorders_per_run,
      bf16_copies_.empty() ? "" : absl::StrFormat(" + %d bf16 weight copies", bf16_copies_.size()));
  for (const auto& [seconds, what] : rows) {
    const size_t tab = what.find('\t');
    absl::StrAppendFormat(&report, "  %s %8.2f ms %5.1f%%%s\n", what.substr(0, tab), 1e3 * seconds / runs,
                          total > 0 ? 100 * seconds / total : 0.0, what.substr(tab + 1));
  }
  return report;
}

std::string Executor::ProfileLabel(const passes::PlanNode& n) const {
  if (n.passes.empty()) return n.label;
  return absl::StrCat(n.label, " [", absl::StrJoin(n.passes, ","), "]");
}

std::vector<KernelImplementation> Executor::Implementations() const {
  std::vector<KernelImplementation> all;
  for (const PlannedKernel& k : kernels_) {
    const passes::PlanNode& n = plan_.nodes[k.plan_node];
    for (std::string& impl : k.kernel->implementations()) all.push_back({n.node.name, n.label, std::move(impl)});
  }
  return all;
}

absl::StatusOr<std::unique_ptr<Executor>> Executor::Compile(Graph& graph,
                                                           std::vector<Value> fetches,
                                                           ExecutorOptions options) {
  DLF_RETURN_IF_ERROR(graph.status());
  if (fetches.empty()) return absl::InvalidArgumentError("Executor: nothing to fetch");
  for (Value v : fetches) {
    if (!graph.Contains(v)) return absl::InvalidArgumentError("Executor: invalid fetch value");
  }
  if (options.bf16 && !Bf16Supported()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Executor: bf16 needs a CPU with AVX-512 (oneDNN 2.6.3 has no bf16 kernels below it); this CPU's "
        "oneDNN ISA is ", DnnlIsaName()));
  }
  const char* env = std::getenv("DLF_PROFILE");
  const bool env_per_kernel = env != nullptr && std::string(env) == "kernels";
  const bool env_profile = env_per_kernel || (env != nullptr && std::string(env) == "1");
  options.profile = options.profile || env_profile;
  std::unique_ptr<Executor> e(new Executor(graph, options));
  e->print_profile_ = env_profile;
  e->print_per_kernel_ = env_per_kernel;

  passes::Plan plan = passes::Prune(graph, std::move(fetches), options);
  plan = passes::Rewrite(std::move(plan));
  plan = passes::Fuse(std::move(plan));
  plan = passes::ChoosePrecision(std::move(plan));
  plan = passes::ChooseLayouts(std::move(plan));
  plan = passes::HoistParameterOnly(std::move(plan));
  e->plan_ = std::move(plan);
  e->BindSources();
  // The plan must fit before any kernel is created (a oneDNN primitive for a batch that cannot
  // fit fails with a less helpful error); the layouts the kernels choose can only add padding.
  DLF_RETURN_IF_ERROR(e->CheckPlanFits(passes::ArenaLowerBound(e->plan_)));
  DLF_RETURN_IF_ERROR(e->CreateKernels());
  e->plan_ = passes::PlaceValues(passes::ChooseInPlace(std::move(e->plan_)));
  DLF_RETURN_IF_ERROR(e->CheckPlanFits(e->plan_.arena_bytes));
  e->AllocateAndConnect();
  return e;
}

absl::Status Executor::CheckPlanFits(int64_t arena_bytes) const {
  std::string inputs;
  for (Value v : required_inputs_) {
    absl::StrAppend(&inputs, inputs.empty() ? "" : ", ", graph_.ValueName(v), " ",
                    DTypeName(graph_.dtype(v)), ShapeString(graph_.shape(v)));
  }
  const int64_t total = arena_bytes + stats_.feed_bytes + stats_.scratch_bytes;
  return CheckFitsInMemory(total, absl::StrCat("Executor: the plan (inputs: ", inputs, ")"));
}

void Executor::BindSources() {
  slots_.assign(plan_.values.size(), nullptr);
  for (int n : plan_.sources) {
    const Node& node = graph_.node(n);
    if (node.kind == NodeKind::kInput) {
      required_inputs_.push_back(node.outputs[0]);
      stats_.feed_bytes += plan_.ValueBytes(node.outputs[0]);
    } else {
      slots_[node.outputs[0].id] = const_cast<Tensor*>(graph_.source_value(node.outputs[0]));
    }
  }
}

absl::Status Executor::CreateKernels() {
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    const passes::PlanNode& n = plan_.nodes[i];
    RunContext ctx;
    absl::StatusOr<std::unique_ptr<Kernel>> kernel = CreateKernel(n, ctx);
    if (!kernel.ok()) {
      return absl::Status(kernel.status().code(),
                          absl::StrCat("Executor: creating the kernel of node '", n.node.name,
                                       "' (", n.node.op, "): ", kernel.status().message()));
    }
    for (size_t o = 0; o < n.free_outputs.size(); ++o) {
      if (n.free_outputs[o]) plan_.layouts[n.node.outputs[o].id] = (*kernel)->output_layout(static_cast<int>(o));
    }
    kernels_.push_back({static_cast<int>(i), *std::move(kernel), std::move(ctx), Flops(n)});
  }
  stats_.num_kernels = static_cast<int>(kernels_.size());
  for (const PlannedKernel& k : kernels_) {
    stats_.scratch_bytes = std::max(stats_.scratch_bytes, k.kernel->scratch_bytes());
    stats_.reorders_per_run += k.kernel->reorders_per_run();
    stats_.flops_per_run += k.flops;
  }
  return absl::OkStatus();
}

double Executor::Flops(const passes::PlanNode& n) const {
  const OpDef* def = passes::Def(n);
  if (def == nullptr || !def->flops) return 0;
  std::vector<ValueInfo> inputs, outputs;
  for (Value in : n.node.inputs) inputs.push_back(plan_.info(in));
  for (Value out : n.node.outputs) outputs.push_back(plan_.info(out));
  return def->flops(inputs, outputs);
}

absl::StatusOr<std::unique_ptr<Kernel>> Executor::CreateKernel(const passes::PlanNode& n,
                                                              RunContext& ctx) {
  const Node& node = n.node;
  const OpDef* def = passes::Def(n);
  if (def == nullptr) {
    return absl::NotFoundError(absl::StrCat("op '", node.op, "' is not registered"));
  }
  std::vector<ValueInfo> in_infos, out_infos;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    in_infos.push_back(plan_.info(node.inputs[i]));
    ctx.inputs.push_back(slots_[node.inputs[i].id]);  // arena values are connected once allocated
    if (n.bf16_copy_inputs[i]) {
      ctx.inputs[i] = Bf16Copy(node.inputs[i]);
      in_infos[i].dtype = DType::kBF16;
    }
  }
  for (Value out : node.outputs) {
    out_infos.push_back(plan_.info(out));
    ctx.outputs.push_back(nullptr);
  }
  for (int i : def->state_inputs) {
    const Value in = node.inputs[i];
    if (plan_.producer_kind(in) != NodeKind::kBuffer) {
      return absl::InvalidArgumentError(absl::StrCat("updates its input ", i, " ('",
                                                     graph_.ValueName(in), "'), which must be a Buffer"));
    }
    ctx.state.push_back(slots_[in.id]);
  }
  ctx.training = options_.training && !node.attrs.GetOr<bool>(kInferenceModeAttr, false);
  ctx.stream = &stream_;
  KernelContext kctx{node,          in_infos,     out_infos,         engine_,
                     ctx.training,  options_.fast_math, options_.bf16, n.post_ops};
  if (passes::TakesAnyLayout(plan_, n)) {
    for (Value in : node.inputs) kctx.input_layouts.push_back(plan_.layouts[in.id]);
    kctx.free_outputs = n.free_outputs;
  }
  for (Value in : node.inputs) {
    kctx.fixed_inputs.push_back(static_cast<size_t>(in.id) < plan_.fixed_values.size() && plan_.fixed_values[in.id]);
  }
  return MakeKernel(*def, kctx);
}

void Executor::AllocateAndConnect() {
  stats_.arena_bytes = plan_.arena_bytes;
  stats_.sum_value_bytes = plan_.sum_value_bytes;
  // Fed data is copied into buffers the plan owns, so kernels see fixed addresses.
  for (Value v : required_inputs_) feed_buffers_.emplace_back(graph_.dtype(v), graph_.shape(v));
  for (size_t i = 0; i < required_inputs_.size(); ++i) {
    slots_[required_inputs_[i].id] = &feed_buffers_[i];
  }
  arena_ = Tensor(DType::kU8, {std::max<int64_t>(plan_.arena_bytes, 1)});
  for (size_t v = 0; v < plan_.values.size(); ++v) {
    if (plan_.offsets[v] < 0) continue;
    const ValueInfo& info = plan_.values[v];
    views_.push_back(std::make_unique<Tensor>(
        Tensor::View(info.dtype, info.shape, arena_.u8() + plan_.offsets[v])));
    slots_[v] = views_.back().get();
  }
  if (stats_.scratch_bytes > 0) scratch_ = Tensor(DType::kU8, {stats_.scratch_bytes});
  for (PlannedKernel& k : kernels_) {
    const Node& node = plan_.nodes[k.plan_node].node;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (k.ctx.inputs[i] == nullptr) k.ctx.inputs[i] = slots_[node.inputs[i].id];
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) k.ctx.outputs[o] = slots_[node.outputs[o].id];
    k.ctx.scratch = stats_.scratch_bytes > 0 ? scratch_.raw() : nullptr;
  }
}

const Tensor* Executor::Bf16Copy(Value p) {
  const Tensor* source = slots_[p.id];
  for (const auto& c : bf16_copies_) {
    if (c.source == source) return c.copy.get();
  }
  bf16_copies_.push_back({source, std::make_unique<Tensor>(DType::kBF16, source->shape())});
  return bf16_copies_.back().copy.get();
}

void Executor::RefreshBf16Copies() {
  for (auto& c : bf16_copies_) {
    if (!std::exchange(c.written, false) && (parameters_changed_ || !options_.fixed_parameters)) {
      const float* from = c.source->f32();
      uint16_t* to = static_cast<uint16_t*>(c.copy->raw());
      const int64_t n = c.source->num_elements();
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) to[i] = ToBf16(from[i]);
    }
  }
}

void Executor::ParametersChanged() {
  parameters_changed_ = true;
  for (auto& c : bf16_copies_) c.written = false;
}

Tensor* Executor::bf16_copy(const Tensor* param) {
  for (auto& c : bf16_copies_) {
    if (c.source == param) return c.copy.get();
  }
  return nullptr;
}

void Executor::Bf16CopiesWritten(absl::Span<Tensor* const> params) {
  for (auto& c : bf16_copies_) {
    c.written = c.written || std::find(params.begin(), params.end(), c.source) != params.end();
  }
}

int Executor::FinalAfter(Value v) const {
  int last = -1;
  for (size_t k = 0; k < kernels_.size(); ++k) {
    const Node& node = plan_.nodes[kernels_[k].plan_node].node;
    const auto touches = [&](const std::vector<Value>& values) {
      return std::find(values.begin(), values.end(), v) != values.end();
    };
    if (touches(node.inputs) || touches(node.outputs)) last = static_cast<int>(k);
  }
  return last;
}

absl::Status Executor::Run(absl::Span<const Feed> feeds) { return Run(feeds, nullptr); }

absl::Status Executor::RunKernel(PlannedKernel& k) {
  using Clock = std::chrono::steady_clock;
  k.ctx.step = step_;
  k.ctx.parameters_changed = parameters_changed_ || !options_.fixed_parameters;
  k.ctx.sample_offset = sample_offset_;
  const Clock::time_point start = options_.profile ? Clock::now() : Clock::time_point();
  absl::Status s = k.kernel->Run(k.ctx);
  if (options_.profile) k.seconds += std::chrono::duration<double>(Clock::now() - start).count();
  if (s.ok()) return s;
  const Node& node = plan_.nodes[k.plan_node].node;
  return absl::Status(s.code(), absl::StrCat("node '", node.name, "' (", node.op, "): ", s.message()));
}

absl::Status Executor::Run(absl::Span<const Feed> feeds,
                           const std::function<void(int)>& after_kernel) {
  for (size_t i = 0; i < required_inputs_.size(); ++i) {
    const Value need = required_inputs_[i];
    const Feed* feed = nullptr;
    for (const Feed& f : feeds) {
      if (f.value == need) feed = &f;
    }
    if (feed == nullptr || feed->tensor == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("Run: input '", graph_.ValueName(need),
                                                     "' was not fed"));
    }
    const Tensor& t = *feed->tensor;
    if (t.dtype() != graph_.dtype(need) || t.shape() != graph_.shape(need)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Run: input '", graph_.ValueName(need), "' expects ", DTypeName(graph_.dtype(need)),
          ShapeString(graph_.shape(need)), ", was fed ", DTypeName(t.dtype()),
          ShapeString(t.shape())));
    }
    std::memcpy(feed_buffers_[i].raw(), t.raw(), t.num_bytes());
  }
  using Clock = std::chrono::steady_clock;
  if (!bf16_copies_.empty()) {
    const Clock::time_point start = options_.profile ? Clock::now() : Clock::time_point();
    RefreshBf16Copies();  // the parameters may have changed since the last run
    if (options_.profile) bf16_copy_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  }
  for (size_t index = 0; index < kernels_.size(); ++index) {
    PlannedKernel& k = kernels_[index];
    const bool current = plan_.nodes[k.plan_node].parameter_only && !parameters_changed_;
    if (!current) DLF_RETURN_IF_ERROR(RunKernel(k));
    if (after_kernel) {
      stream_.wait();  // a no-op on oneDNN's in-order CPU stream, but the contract is "finished"
      after_kernel(static_cast<int>(index));
    }
  }
  stream_.wait();
  parameters_changed_ = false;
  ++step_;
  if (options_.profile) ++profiled_runs_;
  return absl::OkStatus();
}

}  // namespace dlf
