#include "models/training/parallel.h"

#include <omp.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace dlf::training {
namespace {

class SingleProcess final : public ParallelStrategy {
 public:
  std::string Describe(const TrainConfig& c) const override {
    return absl::StrCat(omp_get_max_threads(), " threads", c.bf16 ? ", bf16" : "");
  }
  int world_size() const override { return 1; }
  int rank() const override { return 0; }
  bool interactive_output() const override { return isatty(STDOUT_FILENO); }
  absl::Status Attach(TrainingStep&) override { return absl::OkStatus(); }
  absl::StatusOr<double> ComputeGradients(TrainingStep& step, const TaskBatch& batch, int64_t) override {
    absl::Status s = step.Run(batch, [&step](int kernel) { step.SquareGradientsFinishedBy(kernel); });
    if (!s.ok()) return s;
    return step.SquaredSumNorm();
  }
  absl::Status Sum(std::vector<double>&, const char*, int64_t) override { return absl::OkStatus(); }
  absl::Status AverageBuffers(Graph&, int64_t) override { return absl::OkStatus(); }
  absl::Status CheckReplicas(const std::vector<Tensor*>&, int64_t) override { return absl::OkStatus(); }
  absl::Status SyncFromRoot(Graph&, TrainState&) override { return absl::OkStatus(); }
  absl::StatusOr<EvalResult> Evaluate(Evaluator& evaluator, const data::Dataset& dataset, int, int64_t) override {
    return evaluator.Evaluate(dataset);
  }
};

}  // namespace

std::unique_ptr<ParallelStrategy> MakeSingleProcess() { return std::make_unique<SingleProcess>(); }

std::unique_ptr<ParallelStrategy> MakeParallelStrategy(const TrainConfig& config) {
  if (config.comm == nullptr || config.comm->size() == 1) return MakeSingleProcess();
  return MakeMpiDataParallel(*config.comm, config.reducer);
}

}  // namespace dlf::training
