#include <cmath>

#include "absl/strings/str_cat.h"
#include "optim/optimizer.h"

namespace dlf::optim {
namespace {

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamSpec> specs, AdamOptions o)
      : Optimizer(specs, {"exp_avg", "exp_avg_sq"}), o_(std::move(o)) {
    for (const ParamSpec& s : specs) decay_.push_back(o_.no_decay.count(s.name) ? 0.0f
                                                          : static_cast<float>(o_.weight_decay));
  }

 protected:
  void Update(int i, int64_t offset, float* p, const float* g, float s, int64_t n, float lr) override {
    const float b1 = static_cast<float>(o_.beta1), b2 = static_cast<float>(o_.beta2);
    const float eps = static_cast<float>(o_.epsilon);
    const double t = static_cast<double>(step_);
    const float c1 = static_cast<float>(1.0 - std::pow(o_.beta1, t));
    const float c2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(o_.beta2, t)));
    const float l2 = o_.decoupled_weight_decay ? 0.0f : decay_[i];
    const float shrink = o_.decoupled_weight_decay ? 1.0f - lr * decay_[i] : 1.0f;
    float* m = buffer(i, 0) + offset;
    float* v = buffer(i, 1) + offset;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      const float d = s * g[j] + l2 * p[j];
      m[j] = b1 * m[j] + (1.0f - b1) * d;
      v[j] = b2 * v[j] + (1.0f - b2) * d * d;
      // PyTorch's form: p -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)
      p[j] = shrink * p[j] - (lr / c1) * m[j] / (std::sqrt(v[j]) / c2_sqrt + eps);
    }
  }

 private:
  AdamOptions o_;
  std::vector<float> decay_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Optimizer>> MakeAdam(std::vector<ParamSpec> params,
                                                    AdamOptions o) {
  for (double beta : {o.beta1, o.beta2}) {
    if (!(beta >= 0.0 && beta < 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat("Adam betas must be in [0, 1), found ", beta));
    }
  }
  if (!(o.epsilon > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("Adam epsilon must be > 0, found ", o.epsilon));
  }
  if (!(o.weight_decay >= 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("weight decay must be >= 0, found ", o.weight_decay));
  }
  return std::unique_ptr<Optimizer>(new Adam(std::move(params), std::move(o)));
}

}  // namespace dlf::optim
