#ifndef DLF_MODELS_TRAINING_BATCHES_H_
#define DLF_MODELS_TRAINING_BATCHES_H_

// The batches a run trains on, whatever its task: each batch is the tensors the task feeds, in
// the order of its TaskNet::inputs, and a source yields an epoch of them.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "data/loader.h"
#include "graph/tensor.h"

namespace dlf::training {

struct TaskBatch {
  std::vector<const Tensor*> tensors;  // in the task's input order (an empty tensor: not fed)
  int64_t size = 0;                    // samples in this rank's share
  int64_t sample_offset = 0;           // position of the first sample in the global batch
};

// Classification's batch: images, labels and (with mixup / cutmix) soft targets.
TaskBatch ImageBatch(const data::Batch& batch);

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches_per_epoch() const = 0;
  // Starts epoch `epoch` (0-based), skipping its first `skip_batches` batches; what it yields
  // depends only on the seed, the epoch and the position, never on threads, ranks or a resume.
  virtual void StartEpoch(int64_t epoch, int64_t skip_batches) = 0;
  // The next batch of this rank's share, valid until the next call; nullptr at the epoch's end.
  virtual const TaskBatch* Next() = 0;
  // Why Next() returned nullptr before the epoch's end, or OK.
  virtual absl::Status status() const = 0;
  // Seconds the caller waited in Next() since the source was made.
  virtual double wait_seconds() const = 0;
  // Samples that could not be made this epoch and were replaced (one message each).
  virtual std::vector<std::string> skipped_samples() const = 0;
};

// The batches of an image loader.
std::unique_ptr<BatchSource> ImageBatches(std::unique_ptr<data::Loader> loader);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_BATCHES_H_
