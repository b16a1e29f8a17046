#include "models/gpt_train.h"

#include "graph/autodiff.h"
#include "graph/status_macros.h"
#include "ops/ops.h"
#include "optim/clip.h"
#include "optim/factory.h"

namespace dlf::models {

absl::StatusOr<std::unique_ptr<GptTrainStep>> GptTrainStep::Create(const GptConfig& config,
                                                                   const GptTrainOptions& options) {
  std::unique_ptr<GptTrainStep> step(new GptTrainStep(options));
  DLF_RETURN_IF_ERROR(step->Build(config));
  return step;
}

absl::Status GptTrainStep::Build(const GptConfig& config) {
  Graph& g = graph_;
  ids_ = g.Input("ids", DType::kI32, {options_.batch, config.block_size});
  targets_ = g.Input("targets", DType::kI32, {options_.batch, config.block_size});
  loss_ = ops::SoftmaxCrossEntropy(g, Gpt(g, ids_, config), targets_);
  DLF_RETURN_IF_ERROR(g.status());
  DLF_ASSIGN_OR_RETURN(std::vector<Value> grads, Gradients(g, loss_, g.parameters()));
  std::vector<Value> fetches = {loss_};
  fetches.insert(fetches.end(), grads.begin(), grads.end());
  DLF_ASSIGN_OR_RETURN(executor_, Executor::Compile(g, fetches, {.training = true, .bf16 = options_.bf16}));
  optim::OptimizerConfig oc = {.kind = optim::OptimizerKind::kAdamW, .beta1 = options_.beta1, .beta2 = options_.beta2,
                               .weight_decay = options_.weight_decay};
  std::vector<optim::ParamSpec> specs;
  for (size_t i = 0; i < g.parameters().size(); ++i) {
    const Value p = g.parameters()[i];
    specs.push_back({g.name(p), g.shape(p)});
    if (g.shape(p).size() < 2) oc.no_decay.insert(g.name(p));
    params_.push_back(&g.parameter_value(p));
    grads_.push_back(&executor_->fetch(1 + static_cast<int>(i)));
    if (options_.bf16) bf16_copies_.push_back(executor_->bf16_copy(params_.back()));
  }
  DLF_ASSIGN_OR_RETURN(optimizer_, optim::MakeOptimizer(oc, specs));
  return absl::OkStatus();
}

absl::StatusOr<double> GptTrainStep::Step(const Tensor& ids, const Tensor& targets, double lr) {
  DLF_RETURN_IF_ERROR(executor_->Run({{ids_, &ids}, {targets_, &targets}}));
  const double loss = executor_->fetch(0).f32()[0];
  float scale = 1.0f;
  if (options_.clip_norm > 0) {
    const double norm = optim::GlobalNorm(grads_);
    if (norm > options_.clip_norm) scale = optim::ClipFactor(norm, options_.clip_norm);
  }
  DLF_RETURN_IF_ERROR(optimizer_->Step(params_, grads_, lr, scale, bf16_copies_));
  if (options_.bf16) executor_->Bf16CopiesWritten(params_);
  return loss;
}

absl::StatusOr<double> GptTrainStep::EvalLoss(const Tensor& ids, const Tensor& targets) {
  if (eval_executor_ == nullptr) {
    DLF_ASSIGN_OR_RETURN(eval_executor_, Executor::Compile(graph_, {loss_}, {.training = false, .bf16 = options_.bf16}));
  }
  DLF_RETURN_IF_ERROR(eval_executor_->Run({{ids_, &ids}, {targets_, &targets}}));
  return static_cast<double>(eval_executor_->fetch(0).f32()[0]);
}

}  // namespace dlf::models
