#ifndef DLF_OPTIM_CLIP_H_
#define DLF_OPTIM_CLIP_H_

#include "absl/types/span.h"
#include "graph/tensor.h"

namespace dlf::optim {

// Scales all gradients together so their global L2 norm is at most max_norm (PyTorch's
// clip_grad_norm_: factor max_norm / (norm + 1e-6) when norm > max_norm). Returns the norm
// before clipping (non-finite if any gradient is).
double ClipByGlobalNorm(absl::Span<Tensor* const> grads, double max_norm);

// PyTorch's clip_grad_norm_ factor for a global norm above max_norm: max_norm / (norm + 1e-6).
float ClipFactor(double norm, double max_norm);

// The global L2 norm of all gradients, accumulated in double.
double GlobalNorm(absl::Span<const Tensor* const> grads);
// The sum of squares of one tensor's elements, in double: GlobalNorm is the root of their sum.
double SumOfSquares(const Tensor& t);

// The index of the first tensor holding a NaN or an infinity, or -1 if all are finite.
int FirstNonFinite(absl::Span<const Tensor* const> tensors);

// Clamps every gradient element to [-clip, clip].
void ClipByValue(absl::Span<Tensor* const> grads, float clip);

}  // namespace dlf::optim

#endif  // DLF_OPTIM_CLIP_H_
