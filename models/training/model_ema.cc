// --model_ema: an exponential moving average of the weights (timm's ModelEmaV2: parameters and
// float buffers alike), updated after every optimizer update and evaluated every epoch.

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "models/training/callbacks.h"
#include "models/training/trainer.h"

namespace dlf::training {
namespace {

class ModelEma final : public Callback {
 public:
  // A resumed run brings its average; otherwise it starts at the starting weights.
  absl::Status OnTrainBegin(Trainer& t) override {
    Graph& g = t.graph();
    std::map<std::string, Tensor>& ema = t.state().ema;
    if (ema.empty()) {
      for (Value v : g.persistent_values()) ema[g.name(v)] = g.parameter_value(v).Clone();
    }
    for (Value v : g.persistent_values()) pairs_.push_back({&ema.at(g.name(v)), &g.parameter_value(v)});
    return absl::OkStatus();
  }

  absl::Status OnStepEnd(Trainer& t) override {
    if (!t.last_step().skipped.empty()) return absl::OkStatus();
    const float decay = static_cast<float>(t.config().model_ema_decay);
    for (auto [average, weights] : pairs_) {
      if (average->dtype() != DType::kF32) {  // a count (num_batches_tracked): the model's
        std::memcpy(average->raw(), weights->raw(), weights->num_bytes());
        continue;
      }
      float* a = average->f32();
      const float* w = weights->f32();
      const int64_t n = average->num_elements();
#pragma omp parallel for simd
      for (int64_t i = 0; i < n; ++i) a[i] = decay * a[i] + (1 - decay) * w[i];
    }
    return absl::OkStatus();
  }

  absl::Status OnEvaluate(Trainer& t, EpochMetrics& m) override {
    TaskEvaluation* evaluation = t.evaluation();
    if (evaluation == nullptr) return absl::OkStatus();
    DLF_RETURN_IF_ERROR(evaluation->LoadWeights(t.state().ema, "the EMA weights"));
    return t.parallel().Evaluate(*evaluation, absl::StrCat("ema_", t.task().eval_split()), m, t.global_step());
  }

 private:
  std::vector<std::pair<Tensor*, const Tensor*>> pairs_;  // (average, weights)
};

}  // namespace

std::unique_ptr<Callback> MakeModelEma() { return std::make_unique<ModelEma>(); }

}  // namespace dlf::training
