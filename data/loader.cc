#include "data/loader.h"

#include <chrono>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "graph/random.h"

namespace dlf::data {

absl::StatusOr<std::unique_ptr<Loader>> Loader::Create(const Dataset* dataset,
                                                       LoaderOptions options) {
  if (dataset == nullptr || dataset->size() == 0) {
    return absl::InvalidArgumentError("loader: the dataset is empty");
  }
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("loader: batch size must be > 0, found ",
                                                   options.batch_size));
  }
  if (options.drop_last && options.batch_size > dataset->size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "loader: batch size ", options.batch_size, " is larger than the dataset (",
        dataset->size(), " images) and the last partial batch is dropped: no batch would remain"));
  }
  if (options.num_shards < 1 || options.shard < 0 || options.shard >= options.num_shards) {
    return absl::InvalidArgumentError(absl::StrCat("loader: shard ", options.shard, " of ",
                                                   options.num_shards, " does not exist"));
  }
  if (options.num_shards > 1 && (options.batch_size % options.num_shards != 0 || !options.drop_last)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the batch size ", options.batch_size, " does not split evenly across ", options.num_shards,
        " ranks: use a multiple of ", options.num_shards));
  }
  if (options.augmentation.crop_padding < 0) {
    return absl::InvalidArgumentError("loader: crop padding must be >= 0");
  }
  if (absl::Status s = ValidateNormalization(options.normalization, dataset->channels()); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Loader>(new Loader(dataset, std::move(options)));
}

Loader::Loader(const Dataset* dataset, LoaderOptions options)
    : dataset_(dataset), options_(std::move(options)) {
  const int64_t b = local_batch_size();
  const Shape image = {dataset_->channels(), dataset_->height(), dataset_->width()};
  const int64_t rest = dataset_->size() % b;
  for (int i = 0; i < 2; ++i) {
    buffers_[i].images = Tensor(DType::kF32, {b, image[0], image[1], image[2]});
    buffers_[i].labels = Tensor(DType::kI32, {b});
    buffers_[i].sample_offset = options_.shard * b;
    if (rest > 0) {
      partial_[i].images = Tensor::View(DType::kF32, {rest, image[0], image[1], image[2]},
                                        buffers_[i].images.raw());
      partial_[i].labels = Tensor::View(DType::kI32, {rest}, buffers_[i].labels.raw());
    }
  }
  worker_ = std::thread([this] { WorkerLoop(); });
}

Loader::~Loader() { StopWorker(); }

void Loader::StopWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::EpochOrder(int64_t epoch) const {
  std::vector<int64_t> order(dataset_->size());
  std::iota(order.begin(), order.end(), 0);
  if (!options_.shuffle) return order;
  // Fisher-Yates with a fixed generator, so the order is the same on every platform.
  std::mt19937_64 rng(SplitMix64(options_.seed ^ SplitMix64(static_cast<uint64_t>(epoch))));
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
    std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  }
  return order;
}

void Loader::StartEpoch(int64_t epoch, int64_t skip_batches) {
  std::vector<int64_t> order = EpochOrder(epoch);
  std::unique_lock<std::mutex> lock(mu_);
  // Wait for a batch in flight to finish before its inputs change.
  cv_.wait(lock, [&] { return !busy_; });
  order_ = std::move(order);
  epoch_ = epoch;
  end_ = batches_per_epoch();
  produced_ = consumed_ = std::min(skip_batches, end_);
  lock.unlock();
  cv_.notify_all();
}

void Loader::Produce(int64_t batch_index, Batch& out) {
  const int64_t b = local_batch_size();
  const int64_t first = batch_index * options_.batch_size + options_.shard * b;
  const int64_t count = std::min(b, dataset_->size() - first);
  const int64_t sample_floats = dataset_->channels() * dataset_->height() * dataset_->width();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t index = order_[first + i];
    const uint64_t sample_seed =
        SplitMix64(options_.seed ^ SplitMix64(static_cast<uint64_t>(epoch_) * 1000003 + first + i));
    MakeSample(*dataset_, index, options_.normalization, options_.augmentation, sample_seed,
               out.images.f32() + i * sample_floats);
    out.labels.i32()[i] = dataset_->labels[index];
  }
}

void Loader::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Two buffers: the one the caller holds (consumed_ - 1) and the one being filled.
    cv_.wait(lock, [&] { return stop_ || (produced_ < end_ && produced_ < consumed_ + 1); });
    if (stop_) return;
    const int64_t index = produced_;
    busy_ = true;
    lock.unlock();
    Produce(index, buffers_[index % 2]);
    lock.lock();
    busy_ = false;
    ++produced_;
    cv_.notify_all();
  }
}

const Batch* Loader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (consumed_ >= end_) return nullptr;
  const auto start = std::chrono::steady_clock::now();
  cv_.wait(lock, [&] { return produced_ > consumed_; });
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t index = consumed_++;
  lock.unlock();
  cv_.notify_all();  // the buffer handed out before this one is free again
  const bool partial = (index + 1) * options_.batch_size > dataset_->size();
  return partial ? &partial_[index % 2] : &buffers_[index % 2];
}

}  // namespace dlf::data
