#include "models/training/train_step.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/autodiff.h"
#include "graph/status_macros.h"
#include "optim/clip.h"

namespace dlf::training {

absl::StatusOr<std::unique_ptr<TrainingStep>> TrainingStep::Create(const TrainConfig& config, int64_t batch) {
  std::unique_ptr<TrainingStep> step(new TrainingStep(config));
  DLF_RETURN_IF_ERROR(step->Build(batch));
  return step;
}

absl::Status TrainingStep::Build(int64_t batch) {
  const TrainConfig& c = config_;
  graph_ = std::make_unique<Graph>(c.seed);
  Graph& g = *graph_;
  const HeadOptions head = {.label_smoothing = c.label_smoothing, .soft_targets = c.mixup_alpha > 0 || c.cutmix_alpha > 0};
  net_ = task_.Build(g, c.build, c.model_options, batch, c.run.input_shape, head);
  DLF_RETURN_IF_ERROR(g.status());
  DLF_RETURN_IF_ERROR(ChooseTrainableParameters());
  DLF_ASSIGN_OR_RETURN(const std::vector<Value> grads, Gradients(g, net_.loss, params_));
  std::vector<Value> fetches = {net_.loss};
  fetches.insert(fetches.end(), net_.sums.begin(), net_.sums.end());
  first_grad_ = static_cast<int>(fetches.size());
  fetches.insert(fetches.end(), grads.begin(), grads.end());
  DLF_ASSIGN_OR_RETURN(executor_, Executor::Compile(g, fetches, {.training = true, .fast_math = c.fast_math, .bf16 = c.bf16}));
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!grads[i].valid()) {
      return absl::InvalidArgumentError("parameter '" + g.name(params_[i]) + "' does not affect the loss");
    }
    param_tensors_.push_back(&g.parameter_value(params_[i]));
    grad_tensors_.push_back(&executor_->fetch(first_grad_ + static_cast<int>(i)));
    if (c.bf16) bf16_copies_.push_back(executor_->bf16_copy(param_tensors_.back()));
  }
  grads_finished_by_.assign(executor_->stats().num_kernels, {});
  grad_square_sums_.assign(grads.size(), 0.0);
  for (size_t i = 0; i < grads.size(); ++i) {
    final_after_.push_back(executor_->FinalAfter(grads[i]));
    if (final_after_[i] >= 0) {
      grads_finished_by_[final_after_[i]].push_back(static_cast<int>(i));
    } else {  // no kernel writes or reads it: a constant
      grad_square_sums_[i] = optim::SumOfSquares(*grad_tensors_[i]);
    }
  }
  return absl::OkStatus();
}

absl::Status TrainingStep::ChooseTrainableParameters() {
  Graph& g = *graph_;
  int64_t frozen_count = 0, frozen_elements = 0, frozen_bn = 0;
  for (Value p : g.parameters()) {
    if (!config_.freeze.Matches(g.name(p))) {
      params_.push_back(p);
      continue;
    }
    ++frozen_count;
    frozen_elements += NumElements(g.shape(p));
  }
  if (config_.freeze.empty()) return absl::OkStatus();
  const std::string flag = absl::StrCat("--freeze='", config_.freeze.pattern(), "'");
  if (frozen_count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " matches no parameter of ", config_.run.model,
                                                   " (its first is '", g.name(g.parameters()[0]), "')"));
  }
  if (params_.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " freezes every parameter: nothing to train"));
  for (int n = 0; n < g.num_nodes() && config_.freeze_bn; ++n) {
    const Node& node = g.node(n);
    if (node.op != "BatchNorm" || !config_.freeze.Matches(g.name(node.inputs[1]))) continue;
    DLF_RETURN_IF_ERROR(g.SetAttr(n, kInferenceModeAttr, true));
    ++frozen_bn;
  }
  freeze_summary_ = absl::StrFormat("frozen by %s: %d of %d parameters (%.2f M weights) get no gradient",
                                    flag, frozen_count, g.parameters().size(), frozen_elements / 1e6);
  if (config_.freeze_bn) absl::StrAppendFormat(&freeze_summary_, "; %d BatchNorm layers keep their running statistics", frozen_bn);
  return absl::OkStatus();
}

absl::Status TrainingStep::Run(const TaskBatch& batch, const std::function<void(int)>& after_kernel) {
  const std::vector<Feed> feeds = task_.Feeds(net_, batch);
  executor_->set_sample_offset(batch.sample_offset);
  return executor_->Run(feeds, after_kernel);
}

std::vector<double> TrainingStep::sums() const {
  std::vector<double> sums;
  for (int i = 1; i < first_grad_; ++i) sums.push_back(executor_->fetch(i).f32()[0]);
  return sums;
}

void TrainingStep::SquareGradientsFinishedBy(int kernel) {
  for (int i : grads_finished_by_[kernel]) grad_square_sums_[i] = optim::SumOfSquares(*grad_tensors_[i]);
}

double TrainingStep::SquaredSumNorm() const {
  double sum = 0.0;
  for (double s : grad_square_sums_) sum += s;
  return std::sqrt(sum);
}

void TrainingStep::AccumulateGradients(bool first) {
  if (accumulated_.empty()) {
    for (const Tensor* g : grad_tensors_) accumulated_.push_back(g->Clone());
    for (const Tensor& t : accumulated_) accumulated_ptrs_.push_back(&t);
    return;
  }
  for (size_t i = 0; i < grad_tensors_.size(); ++i) {
    const float* g = grad_tensors_[i]->f32();
    float* sum = accumulated_[i].f32();
    const int64_t n = accumulated_[i].num_elements();
    if (first) {
      std::copy(g, g + n, sum);
      continue;
    }
#pragma omp parallel for simd
    for (int64_t k = 0; k < n; ++k) sum[k] += g[k];
  }
}

double TrainingStep::AccumulatedNorm() const { return optim::GlobalNorm(accumulated_ptrs_); }

absl::StatusOr<std::string> TrainingStep::NonFiniteProblem(double loss, double grad_norm, int64_t step,
                                                           int64_t epoch) const {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) return std::string();
  const int bad_grad = optim::FirstNonFinite(grad_tensors_);
  std::vector<const Tensor*> params(param_tensors_.begin(), param_tensors_.end());
  const int bad_param = optim::FirstNonFinite(params);
  std::string culprit = "none of the gradients or parameters (the forward pass overflowed)";
  if (bad_param >= 0) {
    culprit = "parameter '" + graph_->name(params_[bad_param]) + "'";
  } else if (bad_grad >= 0) {
    culprit = "the gradient of '" + graph_->name(params_[bad_grad]) + "'";
  }
  const std::string message = absl::StrFormat(
      "non-finite values at step %d (epoch %d): the loss is %f; first non-finite tensor: %s",
      step + 1, epoch + 1, loss, culprit);
  // Skipping helps only while the weights are still finite.
  if (config_.skip_nonfinite && bad_param < 0) return message;
  return absl::FailedPreconditionError(absl::StrCat(
      message, ". Training stopped: try a smaller --lr or --clip_norm",
      bad_param < 0 ? ", or --skip_nonfinite to skip such steps" : "", "."));
}

}  // namespace dlf::training
