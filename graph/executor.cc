#include "graph/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/bf16.h"
#include "graph/memory.h"
#include "graph/status_macros.h"

namespace dlf {
namespace {

int64_t AlignUp(int64_t bytes) {
  constexpr int64_t a = Tensor::kAlignment;
  return (bytes + a - 1) / a * a;
}

// First-fit allocator over one address range, with merging of freed neighbours. Used only at
// compile time to place values; the peak end offset is the arena size.
class OffsetAllocator {
 public:
  int64_t Allocate(int64_t bytes) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= bytes) {
        const int64_t offset = it->first;
        const int64_t rest = it->second - bytes;
        free_.erase(it);
        if (rest > 0) free_[offset + bytes] = rest;
        return offset;
      }
    }
    // Grow: reuse a free block that ends at the top, if any.
    int64_t offset = top_;
    if (!free_.empty()) {
      auto last = std::prev(free_.end());
      if (last->first + last->second == top_) {
        offset = last->first;
        free_.erase(last);
      }
    }
    top_ = offset + bytes;
    return offset;
  }

  void Free(int64_t offset, int64_t bytes) {
    auto [it, inserted] = free_.emplace(offset, bytes);
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }

  int64_t top() const { return top_; }

 private:
  std::map<int64_t, int64_t> free_;  // offset -> size
  int64_t top_ = 0;
};

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

int64_t Executor::ValueBytes(Value v) const {
  const int64_t plain = NumElements(graph_.shape(v)) * DTypeSize(graph_.dtype(v));
  const int64_t laid_out = layouts_.empty() ? 0 : static_cast<int64_t>(layouts_[v.id].get_size());
  return AlignUp(std::max<int64_t>({1, plain, laid_out}));
}

Executor::Executor(Graph& graph, std::vector<Value> fetches, ExecutorOptions options)
    : graph_(graph),
      fetches_(std::move(fetches)),
      options_(options),
      engine_(dnnl::engine::kind::cpu, 0),
      stream_(engine_) {}

Executor::~Executor() {
  if (print_profile_ && profiled_runs_ > 0) std::fputs(ProfileReport().c_str(), stderr);
}

std::string Executor::ProfileReport() const {
  std::map<std::string, std::pair<double, int>> by_op;  // seconds, kernels
  double total = 0;
  for (const PlannedKernel& k : kernels_) {
    auto& [seconds, count] = by_op[k.label];
    seconds += k.seconds;
    ++count;
    total += k.seconds;
  }
  std::vector<std::pair<double, std::string>> rows;
  for (const auto& [op, v] : by_op) {
    rows.emplace_back(v.first, absl::StrFormat("%-26s %3d kernels", op, v.second));
  }
  if (!bf16_copies_.empty()) {
    total += bf16_copy_seconds_;
    rows.emplace_back(bf16_copy_seconds_,
                      absl::StrFormat("%-26s %3d weights", "(bf16 weight copies)", bf16_copies_.size()));
  }
  std::sort(rows.rbegin(), rows.rend());
  const double runs = std::max<double>(1, static_cast<double>(profiled_runs_));
  std::string report = absl::StrFormat(
      "profile of %d runs: %.2f ms per run in kernels, %d layout/precision reorders per run%s\n",
      profiled_runs_, 1e3 * total / runs, stats_.reorders_per_run,
      bf16_copies_.empty() ? "" : absl::StrFormat(" + %d bf16 weight copies", bf16_copies_.size()));
  for (const auto& [seconds, what] : rows) {
    absl::StrAppendFormat(&report, "  %s %8.2f ms %5.1f%%\n", what, 1e3 * seconds / runs,
                          total > 0 ? 100 * seconds / total : 0.0);
  }
  return report;
}

std::vector<KernelImplementation> Executor::Implementations() const {
  std::vector<KernelImplementation> all;
  for (const PlannedKernel& k : kernels_) {
    for (std::string& impl : k.kernel->implementations()) {
      all.push_back({graph_.node(k.node_id).name, k.label, std::move(impl)});
    }
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
  const char* env = std::getenv("DLF_PROFILE");
  const bool env_profile = env != nullptr && std::string(env) == "1";
  options.profile = options.profile || env_profile;
  std::unique_ptr<Executor> executor(new Executor(graph, std::move(fetches), options));
  executor->print_profile_ = env_profile;
  DLF_RETURN_IF_ERROR(executor->Plan());
  return executor;
}

std::vector<int> Executor::NeededNodes() const {
  std::vector<bool> needed(graph_.num_nodes(), false);
  for (Value v : fetches_) needed[graph_.producer(v).id] = true;
  for (int n = graph_.num_nodes() - 1; n >= 0; --n) {
    if (!needed[n]) continue;
    for (Value in : graph_.node(n).inputs) needed[graph_.producer(in).id] = true;
  }
  std::vector<int> order;  // node ids are already a topological order
  for (int n = 0; n < graph_.num_nodes(); ++n) {
    if (needed[n]) order.push_back(n);
  }
  return order;
}

void Executor::FindFusions(const std::vector<int>& order) {
  if (!options_.fuse) return;
  std::vector<int> readers(graph_.num_values(), 0);
  for (int n : order) {
    for (Value in : graph_.node(n).inputs) ++readers[in.id];
  }
  for (Value v : fetches_) ++readers[v.id];
  for (int n : order) {
    const Node& node = graph_.node(n);
    if (node.kind != NodeKind::kOp || node.inputs.size() != 1 || node.outputs.size() != 1) continue;
    const OpDef* def = OpRegistry::Global().Find(node.op);
    const Value in = node.inputs[0];
    const Node& producer = graph_.producer(in);
    if (def == nullptr || def->post_op.empty() || producer.kind != NodeKind::kOp) continue;
    const OpDef* producer_def = OpRegistry::Global().Find(producer.op);
    if (producer_def == nullptr || !producer_def->accepts_post_ops) continue;
    // The post-op applies to the producer's output 0 (e.g. pooling's, not its workspace).
    if (producer.outputs[0] != in || readers[in.id] != 1 || fused_into_.count(producer.id)) continue;
    if (folded_.count(producer.id)) continue;  // one post-op per kernel
    fused_into_[producer.id] = n;
    folded_.insert(n);
    std::vector<Value> written = producer.outputs;
    written[0] = node.outputs[0];
    fused_written_[producer.id] = std::move(written);
  }
}

bool Executor::WritesInPlace(const Node& n, int pos, const std::vector<int>& last_use,
                             const std::vector<int64_t>& offset) const {
  if (!options_.in_place || fused_into_.count(n.id) || n.inputs.empty() || n.outputs.empty()) {
    return false;
  }
  const OpDef* def = OpRegistry::Global().Find(n.op);
  const Value in = n.inputs[0], out = n.outputs[0];
  const int uses = static_cast<int>(std::count(n.inputs.begin(), n.inputs.end(), in));
  return def != nullptr && def->in_place && offset[in.id] >= 0 && last_use[in.id] == pos &&
         uses == 1 && ValueBytes(in) == ValueBytes(out);
}

const std::vector<Value>& Executor::WrittenValues(const Node& n) const {
  auto it = fused_written_.find(n.id);
  return it == fused_written_.end() ? n.outputs : it->second;
}

absl::Status Executor::Plan() {
  const std::vector<int> order = NeededNodes();
  FindFusions(order);
  slots_.assign(graph_.num_values(), nullptr);
  layouts_.assign(graph_.num_values(), dnnl::memory::desc());
  for (int n : order) {
    const Node& node = graph_.node(n);
    if (node.kind == NodeKind::kInput) {
      required_inputs_.push_back(node.outputs[0]);
      stats_.feed_bytes += ValueBytes(node.outputs[0]);
    } else if (node.kind != NodeKind::kOp) {
      slots_[node.outputs[0].id] = const_cast<Tensor*>(graph_.source_value(node.outputs[0]));
    }
  }
  // The plan must fit before any kernel is created (a oneDNN primitive for a batch that cannot
  // fit fails with a less helpful error). The layouts the kernels choose set their values' sizes
  // (padding can only add to them), so the values are placed, and checked, again after.
  PlaceValues(order);
  DLF_RETURN_IF_ERROR(CheckPlanFits());
  DLF_RETURN_IF_ERROR(CreateKernels(order));
  const std::vector<int64_t> offsets = PlaceValues(order);
  DLF_RETURN_IF_ERROR(CheckPlanFits());
  AllocateBuffers(offsets);
  ConnectKernels();
  return absl::OkStatus();
}

absl::Status Executor::CheckPlanFits() const {
  std::string inputs;
  for (Value v : required_inputs_) {
    absl::StrAppend(&inputs, inputs.empty() ? "" : ", ", graph_.ValueName(v), " ",
                    DTypeName(graph_.dtype(v)), ShapeString(graph_.shape(v)));
  }
  const int64_t total = stats_.arena_bytes + stats_.feed_bytes + stats_.scratch_bytes;
  return CheckFitsInMemory(total, absl::StrCat("Executor: the plan (inputs: ", inputs, ")"));
}

std::vector<int64_t> Executor::PlaceValues(const std::vector<int>& order) {
  stats_.sum_value_bytes = 0;
  // last_use[v]: position in `order` of the last kernel reading v; fetches live to the end.
  std::vector<int> last_use(graph_.num_values(), -1);
  for (size_t pos = 0; pos < order.size(); ++pos) {
    for (Value in : graph_.node(order[pos]).inputs) last_use[in.id] = static_cast<int>(pos);
  }
  for (Value v : fetches_) last_use[v.id] = static_cast<int>(order.size());

  OffsetAllocator allocator;
  std::vector<int64_t> offset(graph_.num_values(), -1);
  std::vector<std::vector<Value>> frees_at(order.size() + 1);
  std::vector<bool> handed_over(graph_.num_values(), false);  // its memory went to an output
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const Node& node = graph_.node(order[pos]);
    if (node.kind != NodeKind::kOp || folded_.count(node.id)) continue;
    // Outputs are placed before the inputs are released, so no output aliases an input unless
    // the op is element-wise and declares it (OpDef::in_place).
    const bool in_place = WritesInPlace(node, static_cast<int>(pos), last_use, offset);
    const std::vector<Value>& written = WrittenValues(node);
    for (size_t o = 0; o < written.size(); ++o) {
      const Value out = written[o];
      if (o == 0 && in_place) {
        offset[out.id] = offset[node.inputs[0].id];
        handed_over[node.inputs[0].id] = true;
      } else {
        offset[out.id] = allocator.Allocate(ValueBytes(out));
      }
      stats_.sum_value_bytes += ValueBytes(out);
      frees_at[std::max(last_use[out.id], static_cast<int>(pos))].push_back(out);
    }
    for (Value dead : frees_at[pos]) {
      if (!handed_over[dead.id]) allocator.Free(offset[dead.id], ValueBytes(dead));
    }
  }
  stats_.arena_bytes = allocator.top();
  return offset;
}

void Executor::AllocateBuffers(const std::vector<int64_t>& offsets) {
  // Fed data is copied into buffers the plan owns, so kernels see fixed addresses.
  for (Value v : required_inputs_) feed_buffers_.emplace_back(graph_.dtype(v), graph_.shape(v));
  for (size_t i = 0; i < required_inputs_.size(); ++i) {
    slots_[required_inputs_[i].id] = &feed_buffers_[i];
  }
  arena_ = Tensor(DType::kU8, {std::max<int64_t>(stats_.arena_bytes, 1)});
  for (int v = 0; v < graph_.num_values(); ++v) {
    if (offsets[v] < 0) continue;
    const ValueInfo& info = graph_.info(Value{v});
    views_.push_back(std::make_unique<Tensor>(
        Tensor::View(info.dtype, info.shape, arena_.u8() + offsets[v])));
    slots_[v] = views_.back().get();
  }
}

bool Executor::AcceptsLayouts(const Node& n) const {
  if (n.kind != NodeKind::kOp) return false;
  const OpDef* def = OpRegistry::Global().Find(n.op);
  if (def == nullptr) return false;
  if (def->any_layout) return true;
  const Shape& out = graph_.shape(n.outputs[0]);
  return def->any_layout_same_shape &&
         std::all_of(n.inputs.begin(), n.inputs.end(), [&](Value in) { return graph_.shape(in) == out; });
}

std::vector<bool> Executor::FreeLayouts(const std::vector<int>& order) const {
  std::vector<bool> free(graph_.num_values(), false);
  if (!options_.layouts) return free;
  for (int n : order) {
    const Node& node = graph_.node(n);
    if (node.kind != NodeKind::kOp || folded_.count(n) || !AcceptsLayouts(node)) continue;
    for (Value out : WrittenValues(node)) free[out.id] = true;
  }
  for (int n : order) {
    const Node& node = graph_.node(n);
    if (node.kind != NodeKind::kOp || folded_.count(n) || AcceptsLayouts(node)) continue;
    for (Value in : node.inputs) free[in.id] = false;
  }
  for (Value v : fetches_) free[v.id] = false;
  return free;
}

absl::Status Executor::CreateKernels(const std::vector<int>& order) {
  const std::vector<bool> free = FreeLayouts(order);
  for (int n : order) {
    const Node& node = graph_.node(n);
    if (node.kind != NodeKind::kOp || folded_.count(n)) continue;
    const OpDef* def = OpRegistry::Global().Find(node.op);
    if (def == nullptr) {
      return absl::NotFoundError(absl::StrCat("Executor: node '", node.name, "': op '", node.op,
                                              "' is not registered"));
    }
    std::vector<ValueInfo> in_infos, out_infos;
    RunContext ctx;
    for (Value in : node.inputs) {
      in_infos.push_back(graph_.info(in));
      ctx.inputs.push_back(slots_[in.id]);  // arena values are connected once allocated
    }
    for (Value out : WrittenValues(node)) {
      out_infos.push_back(graph_.info(out));
      ctx.outputs.push_back(nullptr);
    }
    std::vector<std::string> post_ops;
    std::string label = node.op;
    if (auto fused = fused_into_.find(n); fused != fused_into_.end()) {
      const Node& folded = graph_.node(fused->second);
      post_ops.push_back(OpRegistry::Global().Find(folded.op)->post_op);
      absl::StrAppend(&label, "+", folded.op);
    }
    if (options_.bf16) {
      for (int i : def->bf16_inputs) {
        if (i >= static_cast<int>(node.inputs.size())) continue;
        if (graph_.producer(node.inputs[i]).kind != NodeKind::kParameter) continue;
        ctx.inputs[i] = Bf16Copy(node.inputs[i]);
        in_infos[i].dtype = DType::kBF16;
      }
    }
    for (int i : def->state_inputs) {
      const Value in = node.inputs[i];
      if (graph_.producer(in).kind != NodeKind::kBuffer) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Executor: node '", node.name, "' (", node.op, ") updates its input ", i, " ('",
            graph_.ValueName(in), "'), which must be a Buffer"));
      }
      ctx.state.push_back(slots_[in.id]);
    }
    ctx.training = options_.training && !node.attrs.GetOr<bool>(kInferenceModeAttr, false);
    ctx.stream = &stream_;
    KernelContext kctx{node,           in_infos,           out_infos,
                       engine_,        ctx.training,       options_.fast_math,
                       options_.bf16,  post_ops};
    if (AcceptsLayouts(node)) {
      for (Value in : node.inputs) kctx.input_layouts.push_back(layouts_[in.id]);
      for (Value out : WrittenValues(node)) kctx.free_outputs.push_back(free[out.id]);
    }
    absl::StatusOr<std::unique_ptr<Kernel>> kernel = MakeKernel(*def, kctx);
    if (!kernel.ok()) {
      return absl::Status(kernel.status().code(),
                          absl::StrCat("Executor: creating the kernel of node '", node.name,
                                       "' (", node.op, "): ", kernel.status().message()));
    }
    const std::vector<Value>& written = WrittenValues(node);
    for (size_t o = 0; o < written.size(); ++o) {
      if (free[written[o].id]) layouts_[written[o].id] = (*kernel)->output_layout(static_cast<int>(o));
    }
    kernels_.push_back({n, std::move(label), *std::move(kernel), std::move(ctx)});
  }
  stats_.num_kernels = static_cast<int>(kernels_.size());
  for (const PlannedKernel& k : kernels_) {
    stats_.scratch_bytes = std::max(stats_.scratch_bytes, k.kernel->scratch_bytes());
    stats_.reorders_per_run += k.kernel->reorders_per_run();
  }
  return absl::OkStatus();
}

void Executor::ConnectKernels() {
  if (stats_.scratch_bytes > 0) scratch_ = Tensor(DType::kU8, {stats_.scratch_bytes});
  for (PlannedKernel& k : kernels_) {
    const Node& node = graph_.node(k.node_id);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (k.ctx.inputs[i] == nullptr) k.ctx.inputs[i] = slots_[node.inputs[i].id];
    }
    const std::vector<Value>& written = WrittenValues(node);
    for (size_t o = 0; o < written.size(); ++o) k.ctx.outputs[o] = slots_[written[o].id];
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
    const float* from = c.source->f32();
    uint16_t* to = static_cast<uint16_t*>(c.copy->raw());
    const int64_t n = c.source->num_elements();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) to[i] = ToBf16(from[i]);
  }
}

int Executor::FinalAfter(Value v) const {
  int last = -1;
  for (size_t k = 0; k < kernels_.size(); ++k) {
    const Node& node = graph_.node(kernels_[k].node_id);
    const auto touches = [&](const std::vector<Value>& values) {
      return std::find(values.begin(), values.end(), v) != values.end();
    };
    if (touches(node.inputs) || touches(WrittenValues(node))) last = static_cast<int>(k);
  }
  return last;
}

absl::Status Executor::Run(absl::Span<const Feed> feeds) { return Run(feeds, nullptr); }

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
  if (!bf16_copies_.empty() && (copies_stale_ || !options_.fixed_parameters)) {
    const Clock::time_point start = options_.profile ? Clock::now() : Clock::time_point();
    RefreshBf16Copies();  // the parameters may have changed since the last run
    copies_stale_ = false;
    if (options_.profile) bf16_copy_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  }
  for (size_t index = 0; index < kernels_.size(); ++index) {
    PlannedKernel& k = kernels_[index];
    k.ctx.step = step_;
    k.ctx.sample_offset = sample_offset_;
    const Clock::time_point start = options_.profile ? Clock::now() : Clock::time_point();
    absl::Status s = k.kernel->Run(k.ctx);
    if (options_.profile) k.seconds += std::chrono::duration<double>(Clock::now() - start).count();
    if (!s.ok()) {
      const Node& node = graph_.node(k.node_id);
      return absl::Status(s.code(), absl::StrCat("node '", node.name, "' (", node.op,
                                                 "): ", s.message()));
    }
    if (after_kernel) {
      stream_.wait();  // a no-op on oneDNN's in-order CPU stream, but the contract is "finished"
      after_kernel(static_cast<int>(index));
    }
  }
  stream_.wait();
  ++step_;
  if (options_.profile) ++profiled_runs_;
  return absl::OkStatus();
}

}  // namespace dlf
