#ifndef DLF_GRAPH_TENSOR_H_
#define DLF_GRAPH_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace dlf {

// kBF16 appears only inside the executor (bf16 copies of weights, ExecutorOptions::bf16).
enum class DType { kF32, kI32, kU8, kI64, kBF16 };

size_t DTypeSize(DType dtype);
const char* DTypeName(DType dtype);

using Shape = std::vector<int64_t>;

int64_t NumElements(const Shape& shape);
std::string ShapeString(const Shape& shape);  // "[2, 3, 4]"; "[]" for a scalar

// A dense, row-major n-d array: shape + dtype + 64-byte-aligned storage. It either owns its
// storage or is a view of memory owned elsewhere (an executor's arena, a user's buffer).
// Move-only: copies are explicit through Clone().
class Tensor {
 public:
  static constexpr size_t kAlignment = 64;

  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // owned, zero-filled
  static Tensor View(DType dtype, Shape shape, void* data);
  static Tensor F32(Shape shape, absl::Span<const float> values);
  static Tensor I32(Shape shape, absl::Span<const int32_t> values);

  Tensor(Tensor&&) = default;
  Tensor& operator=(Tensor&&) = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  Tensor Clone() const;  // an owned deep copy

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t num_elements() const { return num_elements_; }
  size_t num_bytes() const { return num_elements_ * DTypeSize(dtype_); }
  bool empty() const { return data_ == nullptr; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  float* f32() { return static_cast<float*>(data_); }
  const float* f32() const { return static_cast<const float*>(data_); }
  int32_t* i32() { return static_cast<int32_t*>(data_); }
  const int32_t* i32() const { return static_cast<const int32_t*>(data_); }
  int64_t* i64() { return static_cast<int64_t*>(data_); }
  const int64_t* i64() const { return static_cast<const int64_t*>(data_); }
  uint8_t* u8() { return static_cast<uint8_t*>(data_); }
  const uint8_t* u8() const { return static_cast<const uint8_t*>(data_); }

  // Points a view at other memory of the same shape (no allocation).
  void Rebind(void* data) { data_ = data; }
  void Fill(float value);

 private:
  struct AlignedFree {
    void operator()(std::byte* p) const;
  };

  DType dtype_ = DType::kF32;
  Shape shape_;
  int64_t num_elements_ = 0;
  std::unique_ptr<std::byte[], AlignedFree> storage_;
  void* data_ = nullptr;
};

}  // namespace dlf

#endif  // DLF_GRAPH_TENSOR_H_
