// Data parallelism over MPI ranks: every rank holds the whole model and trains on its share
// of each global batch; gradients are averaged by the bucketed allreduce during the backward
// pass, metrics and BatchNorm statistics are reduced, and replicas are checked for drift.

#include <omp.h>

#include <map>

#include "absl/strings/str_format.h"
#include "graph/random.h"
#include "graph/status_macros.h"
#include "models/training/parallel.h"
#include "optim/clip.h"

namespace dlf::training {
namespace {

class MpiDataParallel final : public ParallelStrategy {
 public:
  MpiDataParallel(Communicator& comm, ReducerOptions options) : comm_(comm), options_(options) {}

  std::string Describe(const TrainConfig& c) const override {
    return absl::StrFormat("%d ranks x %d threads%s (%d images per rank), gradients averaged in %s "
                           "buckets of %.0f MB%s",
                           world_size(), omp_get_max_threads(), c.bf16 ? ", bf16" : "", c.batch_size / world_size(),
                           options_.bf16 ? "bf16" : "f32", options_.bucket_bytes / 1e6,
                           options_.overlap ? " during the backward pass" : " after the backward pass");
  }
  int world_size() const override { return comm_.size(); }
  int rank() const override { return comm_.rank(); }
  bool interactive_output() const override { return false; }
  double communication_wait_seconds() const override { return reducer_ ? reducer_->wait_seconds() : 0; }

  absl::Status Attach(TrainingStep& step) override {
    std::vector<float*> grad_data;
    std::vector<int64_t> sizes;
    for (size_t i = 0; i < step.grad_tensors().size(); ++i) {
      Tensor& t = step.mutable_grad(static_cast<int>(i));
      grad_data.push_back(t.f32());
      sizes.push_back(t.num_elements());
    }
    DLF_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> channel, comm_.Duplicate());
    reducer_ = std::make_unique<GradientReducer>(std::move(channel), std::move(grad_data), std::move(sizes),
                                                 step.grads_final_after(), options_);
    return absl::OkStatus();
  }

  absl::StatusOr<double> ComputeGradients(TrainingStep& step, const TaskBatch& batch,
                                          int64_t global_step) override {
    Communicator::SetCurrentStep(global_step);
    reducer_->BeginStep(global_step);
    DLF_RETURN_IF_ERROR(step.Run(batch, [this](int kernel) { reducer_->KernelFinished(kernel); }));
    DLF_RETURN_IF_ERROR(reducer_->FinishStep());
    // The gradients are final only once the allreduce has averaged them.
    return optim::GlobalNorm(step.grad_tensors());
  }

  absl::Status Sum(std::vector<double>& values, const char* what, int64_t global_step) override {
    return comm_.SumF64(values.data(), static_cast<int64_t>(values.size()), what, global_step);
  }

  absl::Status AverageBuffers(Graph& graph, int64_t global_step) override {
    std::vector<Communicator::Part> parts;
    for (Value v : graph.buffers()) {
      Tensor& t = graph.parameter_value(v);
      if (t.dtype() == DType::kF32) parts.push_back({t.f32(), t.num_elements()});
    }
    DLF_RETURN_IF_ERROR(comm_.SumF32(parts, "the allreduce of the running statistics", global_step));
    for (const Communicator::Part& p : parts) {
      float* data = static_cast<float*>(p.data);
      for (int64_t i = 0; i < p.count; ++i) data[i] /= static_cast<float>(world_size());
    }
    return absl::OkStatus();
  }

  absl::Status CheckReplicas(const std::vector<Tensor*>& params, int64_t global_step) override {
    uint64_t hash = 0;
    for (const Tensor* t : params) {
      const uint32_t* words = reinterpret_cast<const uint32_t*>(t->raw());
      const int64_t n = t->num_bytes() / 4;
      uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum)
      for (int64_t i = 0; i < n; ++i) sum += SplitMix64((static_cast<uint64_t>(words[i]) << 32) ^ i);
      hash = SplitMix64(hash ^ sum);
    }
    uint64_t low = 0, high = 0;
    DLF_RETURN_IF_ERROR(comm_.MinMax(hash, low, high, "the parameter check", global_step - 1));
    if (low == high) return absl::OkStatus();
    return absl::DataLossError(absl::StrFormat(
        "after step %d the ranks hold different parameters (checked by --check_replicas_every): "
        "the replicas diverged; stopping", global_step));
  }

  absl::Status SyncFromRoot(Graph& graph, TrainState& state) override {
    for (Value v : graph.persistent_values()) {
      Tensor& t = graph.parameter_value(v);
      DLF_RETURN_IF_ERROR(comm_.Broadcast(t.raw(), t.num_bytes(), "the broadcast of the weights"));
    }
    return state.Broadcast(comm_);
  }

 private:
  Communicator& comm_;
  ReducerOptions options_;
  std::unique_ptr<GradientReducer> reducer_;
};

}  // namespace

std::unique_ptr<ParallelStrategy> MakeMpiDataParallel(Communicator& comm, ReducerOptions options) {
  return std::make_unique<MpiDataParallel>(comm, options);
}

}  // namespace dlf::training
