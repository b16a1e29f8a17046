#include "models/training/batches.h"

namespace dlf::training {
namespace {

class ImageSource final : public BatchSource {
 public:
  explicit ImageSource(std::unique_ptr<data::Loader> loader) : loader_(std::move(loader)) {}
  int64_t batches_per_epoch() const override { return loader_->batches_per_epoch(); }
  void StartEpoch(int64_t epoch, int64_t skip_batches) override { loader_->StartEpoch(epoch, skip_batches); }
  const TaskBatch* Next() override {
    const data::Batch* b = loader_->Next();
    if (b == nullptr) return nullptr;
    batch_ = ImageBatch(*b);
    return &batch_;
  }
  absl::Status status() const override { return loader_->status(); }
  double wait_seconds() const override { return loader_->wait_seconds(); }
  std::vector<std::string> skipped_samples() const override { return loader_->skipped_images(); }

 private:
  std::unique_ptr<data::Loader> loader_;
  TaskBatch batch_;
};

}  // namespace

TaskBatch ImageBatch(const data::Batch& batch) {
  return {.tensors = {&batch.images, &batch.labels, &batch.targets}, .size = batch.size(),
          .sample_offset = batch.sample_offset};
}

std::unique_ptr<BatchSource> ImageBatches(std::unique_ptr<data::Loader> loader) {
  return std::make_unique<ImageSource>(std::move(loader));
}

}  // namespace dlf::training
