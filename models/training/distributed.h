#ifndef DLF_MODELS_TRAINING_DISTRIBUTED_H_
#define DLF_MODELS_TRAINING_DISTRIBUTED_H_

// Data-parallel glue over MPI: the ranks of a run (Communicator) and the bucketed gradient
// allreduce that overlaps the backward pass (GradientReducer).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mpi.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/tensor.h"

namespace dlf::training {

// One process's view of the run's ranks. Without an MPI launcher it is a world of one that
// never touches MPI, so the same binary trains alone as before.
//
// No collective waits longer than `timeout_s`: then a watchdog thread finds out, with the
// ranks that still answer, which ones do not, prints an error naming them and the step, and
// ends the job (a rank that died or hangs never makes the others hang).
class Communicator {
 public:
  // Joins the MPI job when an MPI launcher (mpirun, srun) started this process.
  static absl::StatusOr<std::unique_ptr<Communicator>> Create(double timeout_s);
  static std::unique_ptr<Communicator> Single();
  ~Communicator();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  double timeout_s() const { return timeout_s_; }

  struct Part {
    void* data;
    int64_t count;  // elements
  };
  // In-place sums across ranks, one allreduce per part, all in flight together. `what` and
  // `step` name the collective in errors.
  absl::Status SumF32(const std::vector<Part>& parts, const std::string& what, int64_t step);
  // bf16 (the upper half of an f32) on the wire: half the bytes; each addition is done in f32.
  absl::Status SumBf16(uint16_t* data, int64_t n, const std::string& what, int64_t step);
  absl::Status SumF64(double* data, int64_t n, const std::string& what, int64_t step);
  // The smallest and largest `value` over the ranks.
  absl::Status MinMax(uint64_t value, uint64_t& min, uint64_t& max, const std::string& what,
                      int64_t step);
  // Rank 0's bytes to every rank.
  absl::Status Broadcast(void* data, int64_t bytes, const std::string& what);

  // Collective: every rank passes its own outcome of a step all ranks take (setting up,
  // loading). OK only if all succeeded. A failed rank gets its error back (prefixed with its
  // rank when not all failed); the others get CancelledError with an empty message, as does
  // every rank but 0 when all failed alike, so one message is printed, not one per rank.
  absl::Status Agree(absl::Status local);

  // Prints `why` and ends every rank of the job (MPI_Abort) with exit code 1.
  [[noreturn]] void Abort(const absl::Status& why);

  // An independent channel to the same ranks, for collectives on another thread.
  absl::StatusOr<std::unique_ptr<Communicator>> Duplicate();

  // The training step in progress, named when the launcher stops this rank because another
  // one ended (SIGTERM from mpirun).
  static void SetCurrentStep(int64_t step);

 private:
  Communicator() = default;
  // One in-place allreduce per part (split further to fit MPI's int counts).
  absl::Status Allreduce(const std::vector<Part>& parts, MPI_Datatype type, MPI_Op op,
                         const std::string& what, int64_t step);
  absl::Status TimedOut(const std::string& what, int64_t step);

  // Arms the watchdog for one collective while in scope.
  class Watch {
   public:
    Watch(Communicator& c, const std::string& what, int64_t step);
    ~Watch();

   private:
    Communicator& c_;
  };
  void StartWatchdog();
  void WatchdogLoop();

  int rank_ = 0, size_ = 1;
  double timeout_s_ = 60;
  bool owns_mpi_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;   // null in a world of one
  MPI_Comm probe_ = MPI_COMM_NULL;  // used only to find the missing ranks after a timeout

  std::thread watchdog_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_armed_ = false, watch_stop_ = false;
  std::chrono::steady_clock::time_point watch_deadline_;
  std::string watch_what_;
  int64_t watch_step_ = 0;
};

// Averages the gradients of one training step across ranks, in buckets of about bucket_bytes
// (in the order the backward pass finishes them); with `overlap`, each bucket is sent on a
// communication thread as soon as the executor reports that its last gradient is final, while
// the rest of the backward pass runs.
struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;
  bool bf16 = false;  // bf16 on the wire (f32 sums)
  bool overlap = true;
};

class GradientReducer {
 public:
  // grads[i] is final once kernel final_after[i] of the plan has finished. `comm` is used
  // only by the reducer's thread.
  GradientReducer(std::unique_ptr<Communicator> comm, std::vector<float*> grads,
                  std::vector<int64_t> sizes, std::vector<int> final_after,
                  ReducerOptions options);
  ~GradientReducer();

  void BeginStep(int64_t step);
  // Called by the executor after kernel `kernel` (main thread).
  void KernelFinished(int kernel);
  // Sends what is left, waits for every bucket and divides by the number of ranks.
  absl::Status FinishStep();

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  // Seconds FinishStep spent waiting for communication (not hidden by the backward pass).
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Bucket {
    std::vector<int> grads;  // indices into grads_
    int final_after = -1;
    int64_t elements = 0;
    std::string name;                     // in timeout errors
    std::vector<Communicator::Part> parts;  // its gradients, for the f32 allreduce
    std::vector<uint16_t> wire;           // bf16 staging
  };
  void Enqueue(int bucket);
  void CommLoop();
  absl::Status Reduce(Bucket& bucket);

  std::unique_ptr<Communicator> comm_;
  std::vector<float*> grads_;
  std::vector<int64_t> sizes_;
  ReducerOptions options_;
  std::vector<Bucket> buckets_;
  int next_bucket_ = 0;  // the next bucket to hand to the thread this step
  int64_t step_ = 0;
  double wait_seconds_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> queue_;
  int done_ = 0;  // buckets reduced this step
  absl::Status error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_DISTRIBUTED_H_
