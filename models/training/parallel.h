#ifndef DLF_MODELS_TRAINING_PARALLEL_H_
#define DLF_MODELS_TRAINING_PARALLEL_H_

// How a run is spread over processes: alone, or data-parallel over MPI ranks. Everything that
// differs between the two lives behind this interface, so the training loop has no branch on
// the number of ranks.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "graph/graph.h"
#include "models/training/evaluator.h"
#include "models/training/train_config.h"
#include "models/training/train_state.h"
#include "models/training/train_step.h"

namespace dlf::training {

class ParallelStrategy {
 public:
  virtual ~ParallelStrategy() = default;
  virtual int world_size() const = 0;
  virtual int rank() const = 0;
  bool is_root() const { return rank() == 0; }
  // Whether progress may redraw one terminal line (mpirun hands its ranks a pseudo-terminal
  // even when its own output goes to a file).
  virtual bool interactive_output() const = 0;

  // Connects to the compiled step (with several ranks: the gradient buckets).
  virtual absl::Status Attach(TrainingStep& step) = 0;
  // Forward and backward on this rank's share of `batch`'s global positions; returns once the
  // gradients are final (averaged over the ranks), with their global L2 norm.
  virtual absl::StatusOr<double> ComputeGradients(TrainingStep& step, const TaskBatch& batch,
                                                  int64_t global_step) = 0;
  // Collective: `values` summed over the ranks, in place.
  virtual absl::Status Sum(std::vector<double>& values, const char* what, int64_t global_step) = 0;
  // Collective: BatchNorm's running statistics averaged over the ranks (before they are
  // evaluated or saved).
  virtual absl::Status AverageBuffers(Graph& graph, int64_t global_step) = 0;
  // Collective: an error naming the step unless every rank holds bit-identical `params`.
  virtual absl::Status CheckReplicas(const std::vector<Tensor*>& params, int64_t global_step) = 0;
  // Collective: rank 0's weights, buffers and state to every rank.
  virtual absl::Status SyncFromRoot(Graph& graph, TrainState& state) = 0;
  // Collective: the sums of `evaluation` over every rank's share.
  absl::StatusOr<std::vector<double>> EvaluationSums(TaskEvaluation& evaluation, int64_t global_step);
  // Collective: the metrics "<split>_<family>" of `evaluation` into `m`.
  absl::Status Evaluate(TaskEvaluation& evaluation, const std::string& split, EpochMetrics& m, int64_t global_step);
  // Threads, ranks and how gradients travel, for the run's header.
  virtual std::string Describe(const TrainConfig& config) const = 0;
  // Seconds the steps waited for the gradient allreduce.
  virtual double communication_wait_seconds() const { return 0; }
};

// The single-process strategy, or the MPI one when config.comm holds several ranks.
std::unique_ptr<ParallelStrategy> MakeParallelStrategy(const TrainConfig& config);

std::unique_ptr<ParallelStrategy> MakeSingleProcess();
std::unique_ptr<ParallelStrategy> MakeMpiDataParallel(Communicator& comm, ReducerOptions options);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_PARALLEL_H_
