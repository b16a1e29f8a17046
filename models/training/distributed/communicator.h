#ifndef DLF_MODELS_TRAINING_DISTRIBUTED_COMMUNICATOR_H_
#define DLF_MODELS_TRAINING_DISTRIBUTED_COMMUNICATOR_H_

// Data-parallel glue over MPI: the ranks of a run.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mpi.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_DISTRIBUTED_COMMUNICATOR_H_
