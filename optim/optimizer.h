#ifndef DLF_OPTIM_OPTIMIZER_H_
#define DLF_OPTIM_OPTIMIZER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/tensor.h"

namespace dlf::optim {

// A parameter the optimizer updates, known by name (its state is saved under that name).
struct ParamSpec {
  std::string name;
  Shape shape;
};

// Everything an optimizer carries between steps: the step count and, per parameter, its
// buffers ("<param>/momentum", "<param>/exp_avg", ...). Saved with checkpoints.
struct OptimizerState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Updates params[i] in place from grads[i] (in the order of the ParamSpecs) with learning
  // rate `lr` (a schedule's value for this step). The gradients count as multiplied by
  // grad_scale (gradient clipping folded into the update: no separate pass over them).
  // bf16_copies (empty, or one per parameter, null where there is none): bf16 copies of the
  // parameters (what bf16 kernels read) written in the same pass, while each piece is in cache.
  absl::Status Step(absl::Span<Tensor* const> params, absl::Span<const Tensor* const> grads,
                    double lr, float grad_scale = 1.0f, absl::Span<Tensor* const> bf16_copies = {});

  int64_t step_count() const { return step_; }
  OptimizerState SaveState() const;
  // Restores exactly what SaveState() returned; names and shapes must match. Changes nothing
  // unless CheckState passes.
  absl::Status LoadState(const OptimizerState& state);
  absl::Status CheckState(const OptimizerState& state) const;

 protected:
  Optimizer(std::vector<ParamSpec> specs, std::vector<std::string> buffer_kinds);
  // Updates elements [offset, offset + n) of parameter i: p and g point at element `offset`,
  // buffer(i, k) + offset is its k-th buffer's. step_ is already incremented; `s` scales the
  // gradient. Called from several threads at once, on disjoint pieces.
  virtual void Update(int i, int64_t offset, float* p, const float* g, float s, int64_t n, float lr) = 0;
  // Update over pieces of parameter i in parallel, each written to bf16_copy (if any) after.
  void UpdateInPieces(int i, float* p, const float* g, float s, int64_t n, float lr, uint16_t* bf16_copy);
  float* buffer(int param, int kind) { return buffers_[param][kind].f32(); }
  int64_t step_ = 0;

 private:
  std::vector<ParamSpec> specs_;
  std::vector<std::string> buffer_kinds_;
  std::vector<std::vector<Tensor>> buffers_;  // [param][kind]
};

// SGD with momentum in PyTorch's convention:
//   g' = g + weight_decay * p            (unless p is in no_decay)
//   v  = g' on the first step, then v = momentum * v + (1 - dampening) * g'
//   d  = nesterov ? g' + momentum * v : v
//   p -= lr * d
// With dampening 0 and a constant lr this is the classic  v' = mu * v' - lr * g; p += v'
// (v' = -lr * v), so the two forms produce identical parameters; they differ only in how a
// change of lr acts on the velocity already accumulated.
struct SgdOptions {
  double momentum = 0.9;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  std::set<std::string> no_decay;  // parameter names exempt from weight decay (e.g. biases)
};
absl::StatusOr<std::unique_ptr<Optimizer>> MakeSgd(std::vector<ParamSpec> params,
                                                   SgdOptions options);

// Adam (L2 weight decay added to the gradient) and AdamW (decoupled: p -= lr * wd * p).
struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW
  std::set<std::string> no_decay;
};
absl::StatusOr<std::unique_ptr<Optimizer>> MakeAdam(std::vector<ParamSpec> params,
                                                    AdamOptions options);

// The learning rate must be finite and non-negative.
absl::Status ValidateLearningRate(double lr);

}  // namespace dlf::optim

#endif  // DLF_OPTIM_OPTIMIZER_H_
