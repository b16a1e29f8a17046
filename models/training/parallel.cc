#include "models/training/parallel.h"

#include <omp.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

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
};

}  // namespace

absl::StatusOr<std::vector<double>> ParallelStrategy::EvaluationSums(TaskEvaluation& evaluation,
                                                                    int64_t global_step) {
  DLF_ASSIGN_OR_RETURN(std::vector<double> sums, evaluation.ShareSums(rank(), world_size()));
  DLF_RETURN_IF_ERROR(Sum(sums, "the evaluation allreduce", global_step));
  return sums;
}

absl::Status ParallelStrategy::Evaluate(TaskEvaluation& evaluation, const std::string& split, EpochMetrics& m,
                                        int64_t global_step) {
  DLF_ASSIGN_OR_RETURN(const std::vector<double> totals, EvaluationSums(evaluation, global_step));
  evaluation.AddMetrics(totals, split, m);
  return absl::OkStatus();
}

std::unique_ptr<ParallelStrategy> MakeSingleProcess() { return std::make_unique<SingleProcess>(); }

std::unique_ptr<ParallelStrategy> MakeParallelStrategy(const TrainConfig& config) {
  if (config.comm == nullptr || config.comm->size() == 1) return MakeSingleProcess();
  return MakeMpiDataParallel(*config.comm, config.reducer);
}

}  // namespace dlf::training
