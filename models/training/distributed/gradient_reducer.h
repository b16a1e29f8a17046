#ifndef DLF_MODELS_TRAINING_DISTRIBUTED_GRADIENT_REDUCER_H_
#define DLF_MODELS_TRAINING_DISTRIBUTED_GRADIENT_REDUCER_H_

// The bucketed gradient allreduce that overlaps the backward pass.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "models/training/distributed/communicator.h"

namespace dlf::training {

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

#endif  // DLF_MODELS_TRAINING_DISTRIBUTED_GRADIENT_REDUCER_H_
