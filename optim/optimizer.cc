#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "graph/bf16.h"
#include "graph/status_macros.h"

namespace dlf::optim {

absl::Status ValidateLearningRate(double lr) {
  if (std::isfinite(lr) && lr >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("learning rate must be >= 0, found ", lr));
}

Optimizer::Optimizer(std::vector<ParamSpec> specs, std::vector<std::string> buffer_kinds)
    : specs_(std::move(specs)), buffer_kinds_(std::move(buffer_kinds)) {
  for (const ParamSpec& spec : specs_) {
    std::vector<Tensor> per_param;
    for (size_t k = 0; k < buffer_kinds_.size(); ++k) per_param.emplace_back(DType::kF32, spec.shape);
    buffers_.push_back(std::move(per_param));
  }
}

absl::Status Optimizer::Step(absl::Span<Tensor* const> params,
                             absl::Span<const Tensor* const> grads, double lr,
                             float grad_scale, absl::Span<Tensor* const> bf16_copies) {
  DLF_RETURN_IF_ERROR(ValidateLearningRate(lr));
  if (params.size() != specs_.size() || grads.size() != specs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer expects ", specs_.size(),
                                                   " parameters and gradients, got ",
                                                   params.size(), " and ", grads.size()));
  }
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (params[i]->shape() != specs_[i].shape || grads[i]->shape() != specs_[i].shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter '", specs_[i].name, "' expects shape ", ShapeString(specs_[i].shape),
          ", got parameter ", ShapeString(params[i]->shape()), " and gradient ",
          ShapeString(grads[i]->shape())));
    }
  }
  if (!bf16_copies.empty() && bf16_copies.size() != specs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer expects ", specs_.size(),
                                                   " bf16 copies, got ", bf16_copies.size()));
  }
  for (size_t i = 0; i < bf16_copies.size(); ++i) {
    const Tensor* copy = bf16_copies[i];
    if (copy != nullptr && (copy->dtype() != DType::kBF16 || copy->shape() != specs_[i].shape)) {
      return absl::InvalidArgumentError(absl::StrCat("bf16 copy of '", specs_[i].name, "' expects bf16",
                                                     ShapeString(specs_[i].shape)));
    }
  }
  ++step_;
  for (size_t i = 0; i < specs_.size(); ++i) {
    Tensor* copy = bf16_copies.empty() ? nullptr : bf16_copies[i];
    UpdateInPieces(static_cast<int>(i), params[i]->f32(), grads[i]->f32(), grad_scale,
                   params[i]->num_elements(), static_cast<float>(lr),
                   copy == nullptr ? nullptr : static_cast<uint16_t*>(copy->raw()));
  }
  return absl::OkStatus();
}

void Optimizer::UpdateInPieces(int i, float* p, const float* g, float s, int64_t n, float lr,
                               uint16_t* bf16_copy) {
  constexpr int64_t kPiece = 8192;  // 32 KiB of each array: still in cache for the copy
  const int64_t pieces = (n + kPiece - 1) / kPiece;
#pragma omp parallel for schedule(static)
  for (int64_t piece = 0; piece < pieces; ++piece) {
    const int64_t begin = piece * kPiece, size = std::min(kPiece, n - begin);
    Update(i, begin, p + begin, g + begin, s, size, lr);
    if (bf16_copy == nullptr) continue;
#pragma omp simd
    for (int64_t j = begin; j < begin + size; ++j) bf16_copy[j] = ToBf16(p[j]);
  }
}

OptimizerState Optimizer::SaveState() const {
  OptimizerState state;
  state.step = step_;
  for (size_t i = 0; i < specs_.size(); ++i) {
    for (size_t k = 0; k < buffer_kinds_.size(); ++k) {
      state.buffers[specs_[i].name + "/" + buffer_kinds_[k]] = buffers_[i][k].Clone();
    }
  }
  return state;
}

absl::Status Optimizer::CheckState(const OptimizerState& state) const {
  if (state.step < 0) return absl::InvalidArgumentError("optimizer state: negative step count");
  for (size_t i = 0; i < specs_.size(); ++i) {
    for (size_t k = 0; k < buffer_kinds_.size(); ++k) {
      const std::string key = specs_[i].name + "/" + buffer_kinds_[k];
      auto it = state.buffers.find(key);
      if (it == state.buffers.end()) {
        return absl::InvalidArgumentError(absl::StrCat("optimizer state: missing '", key, "'"));
      }
      if (it->second.shape() != specs_[i].shape || it->second.dtype() != DType::kF32) {
        return absl::InvalidArgumentError(absl::StrCat(
            "optimizer state: '", key, "' should be f32", ShapeString(specs_[i].shape),
            ", found ", DTypeName(it->second.dtype()), ShapeString(it->second.shape())));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Optimizer::LoadState(const OptimizerState& state) {
  DLF_RETURN_IF_ERROR(CheckState(state));
  for (size_t i = 0; i < specs_.size(); ++i) {
    for (size_t k = 0; k < buffer_kinds_.size(); ++k) {
      const Tensor& src = state.buffers.at(specs_[i].name + "/" + buffer_kinds_[k]);
      std::memcpy(buffers_[i][k].raw(), src.raw(), src.num_bytes());
    }
  }
  step_ = state.step;
  return absl::OkStatus();
}

}  // namespace dlf::optim
