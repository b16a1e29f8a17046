#ifndef DLF_DATA_LOADER_H_
#define DLF_DATA_LOADER_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/mixing.h"
#include "data/transforms.h"
#include "graph/tensor.h"

namespace dlf::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = true;  // false: the last batch of an epoch may be smaller
  uint64_t seed = 0;
  // Data-parallel: batch_size is the global batch, split evenly into num_shards slices; this
  // loader produces slice `shard` of every batch. Needs drop_last and a divisible batch.
  int shard = 0;
  int num_shards = 1;
  Normalization normalization;
  Augmentation augmentation;
  // Sets streamed from files: threads reading and decoding images (0: one per core), and how
  // many batches are made ahead of the one in use. In-memory sets use one thread and one batch.
  int decode_threads = 0;
  int prefetch_batches = 2;
  // Batch-level mixup / cutmix (mixing.h): batches then carry soft targets.
  Mixing mixing;
  // A sample that cannot be made (a corrupt or truncated image file) is an error ending the
  // epoch, unless this is set: then its place is taken by the next sample of the epoch's order
  // that can be made (so a batch keeps its size, and which sample replaces which depends only
  // on the order, never on threads or ranks), and it is counted in skipped_images().
  bool skip_bad_images = false;
};

struct Batch {
  Tensor images;  // f32 [n, c, h, w]
  Tensor labels;  // i32 [n]
  int64_t sample_offset = 0;  // position of images[0] in the global batch (shard * n)
  Tensor targets;  // f32 [n, classes] with mixup/cutmix (mixed one-hots), else empty
  int64_t size() const { return labels.num_elements(); }
};

// Batches a dataset, reshuffling every epoch from (seed, epoch), and prepares the next batches
// on a background thread (with a pool of decode threads for image files) while the caller
// trains on the current one; memory holds prefetch_batches + 1 batches whatever the set's size. Each epoch's order and
// augmentation depend only on (seed, epoch, position), so starting an epoch part-way through
// (resume) yields exactly the batches an uninterrupted run would have seen.
class Loader {
 public:
  static absl::StatusOr<std::unique_ptr<Loader>> Create(const Dataset* dataset,
                                                        LoaderOptions options);
  ~Loader();

  int64_t batches_per_epoch() const;
  // Starts producing epoch `epoch`, skipping its first `skip_batches` batches.
  void StartEpoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the epoch, valid until the next Next() or StartEpoch(); nullptr at the
  // epoch's end.
  const Batch* Next();

  // Why Next() returned nullptr before the epoch's end (an unreadable image file), or OK.
  absl::Status status() const;
  // With skip_bad_images: why each sample skipped in this epoch so far could not be made (one
  // message per sample, naming its file), in the order they were met.
  std::vector<std::string> skipped_images() const;
  // Seconds the caller spent blocked in Next() waiting for data, since Create.
  double wait_seconds() const { return wait_seconds_; }
  // The sample order of an epoch (exposed for tests).
  std::vector<int64_t> EpochOrder(int64_t epoch) const;

 private:
  Loader(const Dataset* dataset, LoaderOptions options);
  void WorkerLoop();
  absl::Status Produce(int64_t batch_index, Batch& out);
  // Makes the sample at `position` of the epoch's order into `out` (with skip_bad_images, the
  // first one from there on that can be made); returns the dataset index it made.
  absl::StatusOr<int64_t> MakeSampleAt(int64_t position, float* out);
  // The seed of the sample at `position` of the epoch's order.
  uint64_t SampleSeed(int64_t position) const;
  // Mixes the batch's `count` samples (from global position `first`) with their partners.
  absl::Status MixBatch(int64_t batch_index, int64_t first, int64_t count, Batch& out);
  void StopWorker();
  int64_t local_batch_size() const { return options_.batch_size / options_.num_shards; }
  int num_buffers() const { return static_cast<int>(buffers_.size()); }

  const Dataset* dataset_;
  LoaderOptions options_;
  std::vector<Batch> buffers_;  // full-size batches: the one in use and those made ahead
  std::vector<Batch> partial_;  // views of the same memory for a smaller last batch
  std::unique_ptr<class DecodePool> pool_;  // streamed sets only
  absl::Status error_;
  std::vector<std::string> skipped_;  // this epoch's, guarded by skipped_mu_
  std::vector<bool> skipped_index_;
  mutable std::mutex skipped_mu_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread worker_;
  bool stop_ = false;
  bool busy_ = false;      // the worker is filling a buffer
  int64_t end_ = 0;        // batches in this epoch
  int64_t produced_ = 0;   // next batch index the worker will produce
  int64_t consumed_ = 0;   // next batch index Next() hands out
  double wait_seconds_ = 0;
};

}  // namespace dlf::data

#endif  // DLF_DATA_LOADER_H_
