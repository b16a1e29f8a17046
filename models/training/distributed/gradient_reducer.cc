#include "models/training/distributed/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "graph/bf16.h"

namespace dlf::training {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

GradientReducer::GradientReducer(std::unique_ptr<Communicator> comm, std::vector<float*> grads,
                                 std::vector<int64_t> sizes, std::vector<int> final_after,
                                 ReducerOptions options)
    : comm_(std::move(comm)), grads_(std::move(grads)), sizes_(std::move(sizes)), options_(options) {
  std::vector<int> order(grads_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return final_after[a] < final_after[b]; });
  for (int g : order) {
    if (buckets_.empty() ||
        buckets_.back().elements * static_cast<int64_t>(sizeof(float)) >= options_.bucket_bytes) {
      buckets_.emplace_back();
    }
    Bucket& b = buckets_.back();
    b.grads.push_back(g);
    b.final_after = std::max(b.final_after, final_after[g]);
    b.elements += sizes_[g];
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    b.name = absl::StrCat("the gradient allreduce (bucket ", i + 1, " of ", buckets_.size(), ")");
    for (int g : b.grads) b.parts.push_back({grads_[g], sizes_[g]});
    if (options_.bf16) b.wire.resize(b.elements);
  }
  thread_ = std::thread([this] { CommLoop(); });
}

GradientReducer::~GradientReducer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void GradientReducer::BeginStep(int64_t step) {
  std::lock_guard<std::mutex> lock(mu_);
  step_ = step;
  next_bucket_ = 0;
  done_ = 0;
}

void GradientReducer::Enqueue(int bucket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(bucket);
  }
  cv_.notify_all();
}

void GradientReducer::KernelFinished(int kernel) {
  if (!options_.overlap) return;
  while (next_bucket_ < num_buckets() && buckets_[next_bucket_].final_after <= kernel) {
    Enqueue(next_bucket_++);
  }
}

absl::Status GradientReducer::FinishStep() {
  while (next_bucket_ < num_buckets()) Enqueue(next_bucket_++);
  const Clock::time_point start = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_ == num_buckets(); });
  wait_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  return error_;
}

void GradientReducer::CommLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    const int bucket = queue_.front();
    queue_.pop_front();
    const bool failed = !error_.ok();  // after a failure the run stops: send nothing more
    lock.unlock();
    absl::Status s = failed ? absl::OkStatus() : Reduce(buckets_[bucket]);
    lock.lock();
    if (!s.ok() && error_.ok()) error_ = s;
    ++done_;
    cv_.notify_all();
  }
}

absl::Status GradientReducer::Reduce(Bucket& bucket) {
  const std::string& what = bucket.name;
  const float scale = 1.0f / static_cast<float>(comm_->size());
  if (options_.bf16) {
    int64_t at = 0;
    for (int g : bucket.grads) {
      const float* grad = grads_[g];
      uint16_t* wire = bucket.wire.data() + at;
#pragma omp simd
      for (int64_t i = 0; i < sizes_[g]; ++i) wire[i] = ToBf16(grad[i]);
      at += sizes_[g];
    }
    if (absl::Status s = comm_->SumBf16(bucket.wire.data(), bucket.elements, what, step_); !s.ok()) return s;
    at = 0;
    for (int g : bucket.grads) {
      float* grad = grads_[g];
      const uint16_t* wire = bucket.wire.data() + at;
#pragma omp simd
      for (int64_t i = 0; i < sizes_[g]; ++i) grad[i] = FromBf16(wire[i]) * scale;
      at += sizes_[g];
    }
    return absl::OkStatus();
  }
  if (absl::Status s = comm_->SumF32(bucket.parts, what, step_); !s.ok()) return s;
  for (int g : bucket.grads) {
    float* grad = grads_[g];
#pragma omp simd
    for (int64_t i = 0; i < sizes_[g]; ++i) grad[i] *= scale;
  }
  return absl::OkStatus();
}

}  // namespace dlf::training
