#include "graph/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_join.h"

namespace dlf {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kU8:
      return 1;
    case DType::kBF16:
      return 2;
    case DType::kI64:
      return 8;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kI32:
      return "i32";
    case DType::kU8:
      return "u8";
    case DType::kI64:
      return "i64";
    case DType::kBF16:
      return "bf16";
  }
  return "?";
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeString(const Shape& shape) { return "[" + absl::StrJoin(shape, ", ") + "]"; }

void Tensor::AlignedFree::operator()(std::byte* p) const { std::free(p); }

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), num_elements_(NumElements(shape_)) {
  // aligned_alloc wants a size that is a multiple of the alignment; never zero.
  const size_t bytes = std::max<size_t>(num_bytes(), 1);
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  storage_.reset(static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded)));
  if (!storage_) throw std::bad_alloc();
  std::memset(storage_.get(), 0, rounded);
  data_ = storage_.get();
}

Tensor Tensor::View(DType dtype, Shape shape, void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.num_elements_ = NumElements(t.shape_);
  t.data_ = data;
  return t;
}

Tensor Tensor::F32(Shape shape, absl::Span<const float> values) {
  Tensor t(DType::kF32, std::move(shape));
  std::copy_n(values.data(), std::min<int64_t>(values.size(), t.num_elements()), t.f32());
  return t;
}

Tensor Tensor::I32(Shape shape, absl::Span<const int32_t> values) {
  Tensor t(DType::kI32, std::move(shape));
  std::copy_n(values.data(), std::min<int64_t>(values.size(), t.num_elements()), t.i32());
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t(dtype_, shape_);
  if (num_bytes() > 0) std::memcpy(t.raw(), data_, num_bytes());
  return t;
}

void Tensor::Fill(float value) { std::fill_n(f32(), num_elements_, value); }

}  // namespace dlf
