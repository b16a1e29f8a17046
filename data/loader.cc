#include "data/loader.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "graph/random.h"
#include "graph/status_macros.h"

namespace dlf::data {

// Runs the samples of one batch on `threads` threads (the caller's among them).
class DecodePool {
 public:
  explicit DecodePool(int threads) {
    for (int i = 1; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~DecodePool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // fn(i) for every i in [0, n); the first error.
  absl::Status Run(int64_t n, const std::function<absl::Status(int64_t)>& fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      next_ = 0;
      active_ = static_cast<int>(threads_.size());
      error_ = absl::OkStatus();
      ++generation_;
    }
    cv_.notify_all();
    Work();
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return active_ == 0; });
    fn_ = nullptr;
    return error_;
  }

 private:
  void Loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      lock.unlock();
      Work();
      lock.lock();
      if (--active_ == 0) done_.notify_all();
    }
  }

  void Work() {
    while (true) {
      const int64_t i = next_.fetch_add(1);
      if (i >= n_) return;
      absl::Status s = (*fn_)(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_.ok()) error_ = std::move(s);
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  const std::function<absl::Status(int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  absl::Status error_;
};

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
  if (options.mixing.enabled() && options.mixing.num_classes <= 0) {
    return absl::InvalidArgumentError("loader: mixup/cutmix needs the number of classes");
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
  const int buffers = dataset_->streamed() ? std::max(1, options_.prefetch_batches) + 1 : 2;
  buffers_.resize(buffers);
  partial_.resize(buffers);
  if (dataset_->streamed()) {
    const int threads = options_.decode_threads > 0 ? options_.decode_threads : omp_get_num_procs();
    pool_ = std::make_unique<DecodePool>(threads);
  }
  for (int i = 0; i < buffers; ++i) {
    buffers_[i].images = Tensor(DType::kF32, {b, image[0], image[1], image[2]});
    buffers_[i].labels = Tensor(DType::kI32, {b});
    buffers_[i].sample_offset = options_.shard * b;
    const int64_t classes = options_.mixing.num_classes;
    if (options_.mixing.enabled()) buffers_[i].targets = Tensor(DType::kF32, {b, classes});
    if (rest > 0) {
      partial_[i].images = Tensor::View(DType::kF32, {rest, image[0], image[1], image[2]},
                                        buffers_[i].images.raw());
      partial_[i].labels = Tensor::View(DType::kI32, {rest}, buffers_[i].labels.raw());
      if (options_.mixing.enabled()) {
        partial_[i].targets = Tensor::View(DType::kF32, {rest, classes}, buffers_[i].targets.raw());
      }
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
  error_ = absl::OkStatus();
  {
    std::lock_guard<std::mutex> skipped_lock(skipped_mu_);
    skipped_.clear();
    skipped_index_.assign(dataset_->size(), false);
  }
  end_ = batches_per_epoch();
  produced_ = consumed_ = std::min(skip_batches, end_);
  lock.unlock();
  cv_.notify_all();
}

absl::Status Loader::Produce(int64_t batch_index, Batch& out) {
  const int64_t b = local_batch_size();
  const int64_t first = batch_index * options_.batch_size + options_.shard * b;
  const int64_t count = std::min(b, dataset_->size() - first);
  const int64_t sample_floats = dataset_->channels() * dataset_->height() * dataset_->width();
  const auto make = [&](int64_t i) -> absl::Status {
    DLF_ASSIGN_OR_RETURN(const int64_t index, MakeSampleAt(first + i, out.images.f32() + i * sample_floats));
    out.labels.i32()[i] = dataset_->labels[index];
    return absl::OkStatus();
  };
  if (pool_) {
    DLF_RETURN_IF_ERROR(pool_->Run(count, make));
  } else {
    for (int64_t i = 0; i < count; ++i) DLF_RETURN_IF_ERROR(make(i));
  }
  return options_.mixing.enabled() ? MixBatch(batch_index, first, count, out) : absl::OkStatus();
}

absl::StatusOr<int64_t> Loader::MakeSampleAt(int64_t position, float* out) {
  const int64_t n = dataset_->size();
  for (int64_t tried = 0; tried < n; ++tried) {
    const int64_t at = (position + tried) % n;
    const int64_t index = order_[at];
    absl::Status s = MakeSample(*dataset_, index, options_.normalization, options_.augmentation, SampleSeed(at), out);
    if (s.ok()) return index;
    if (!options_.skip_bad_images) return s;
    std::lock_guard<std::mutex> lock(skipped_mu_);
    if (!skipped_index_[index]) {
      skipped_index_[index] = true;
      skipped_.push_back(std::string(s.message()));
    }
  }
  return absl::DataLossError(absl::StrCat("no sample of the ", n, " in the data set could be read (--skip_bad_images)"));
}

std::vector<std::string> Loader::skipped_images() const {
  std::lock_guard<std::mutex> lock(skipped_mu_);
  return skipped_;
}

uint64_t Loader::SampleSeed(int64_t position) const {
  return SplitMix64(options_.seed ^ SplitMix64(static_cast<uint64_t>(epoch_) * 1000003 + position));
}

absl::Status Loader::MixBatch(int64_t batch_index, int64_t first, int64_t count, Batch& out) {
  const int64_t c = dataset_->channels(), h = dataset_->height(), w = dataset_->width(), floats = c * h * w;
  const int64_t start = batch_index * options_.batch_size;
  const int64_t global = std::min(options_.batch_size, dataset_->size() - start);
  // Partners are the unmixed samples: the previous one here, and for the first the one before
  // it in the global batch (on another rank, or the batch's last), made again here.
  std::vector<float> unmixed(out.images.f32(), out.images.f32() + count * floats);
  std::vector<float> before(floats);
  const int64_t before_position = start + (first - start - 1 + global) % global;
  int32_t before_label;
  if (count == global) {  // the batch's last sample
    std::copy_n(unmixed.data() + (count - 1) * floats, floats, before.data());
    before_label = out.labels.i32()[count - 1];
  } else {
    DLF_ASSIGN_OR_RETURN(const int64_t before_index, MakeSampleAt(before_position, before.data()));
    before_label = dataset_->labels[before_index];
  }
  SampleRandom random(SplitMix64(options_.seed ^ SplitMix64(static_cast<uint64_t>(epoch_) * 6151 + batch_index) ^ 0x3c6ef372fe94f82bull));
  const MixPlan plan = DrawMix(options_.mixing, h, w, random);
  for (int64_t i = 0; i < count; ++i) {
    const float* partner = i > 0 ? unmixed.data() + (i - 1) * floats : before.data();
    const int32_t partner_label = i > 0 ? out.labels.i32()[i - 1] : before_label;
    MixImages(plan, partner, c, h, w, out.images.f32() + i * floats);
    MixTargets(plan, out.labels.i32()[i], partner_label, options_.mixing.num_classes,
               out.targets.f32() + i * options_.mixing.num_classes);
  }
  return absl::OkStatus();
}

absl::Status Loader::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void Loader::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // The buffer the caller holds (consumed_ - 1), and the others made ahead.
    cv_.wait(lock, [&] { return stop_ || (error_.ok() && produced_ < end_ && produced_ < consumed_ + num_buffers() - 1); });
    if (stop_) return;
    const int64_t index = produced_;
    busy_ = true;
    lock.unlock();
    absl::Status s = Produce(index, buffers_[index % num_buffers()]);
    lock.lock();
    busy_ = false;
    if (!s.ok()) error_ = std::move(s);
    ++produced_;
    cv_.notify_all();
  }
}

const Batch* Loader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (consumed_ >= end_ || !error_.ok()) return nullptr;
  const auto start = std::chrono::steady_clock::now();
  cv_.wait(lock, [&] { return produced_ > consumed_; });
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!error_.ok()) return nullptr;
  const int64_t index = consumed_++;
  lock.unlock();
  cv_.notify_all();  // the buffer handed out before this one is free again
  const bool partial = (index + 1) * options_.batch_size > dataset_->size();
  return partial ? &partial_[index % num_buffers()] : &buffers_[index % num_buffers()];
}

}  // namespace dlf::data
