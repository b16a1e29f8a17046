#ifndef DLF_OPTIM_FACTORY_H_
#define DLF_OPTIM_FACTORY_H_

// Optimizers and learning-rate schedules chosen by name, as a training script's flags do.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <string_view>

#include "absl/status/statusor.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace dlf::optim {

// The kinds by their flag names (a table in factory.cc): parsed once where a name comes in (a
// flag), named where one goes out (a message, a checkpoint's record).
enum class OptimizerKind { kSgd, kAdam, kAdamW };
absl::StatusOr<OptimizerKind> ParseOptimizerKind(std::string_view name);  // "sgd", "adam", "adamw"
const char* OptimizerName(OptimizerKind kind);

// kPlateau is the trainer's ReduceLROnPlateau: a constant rate it lowers when the evaluation loss
// stops improving (MakeSchedule refuses it).
enum class ScheduleKind { kStep, kMultiStep, kCosine, kConstant, kPlateau };
absl::StatusOr<ScheduleKind> ParseScheduleKind(std::string_view name);  // "step", ..., "plateau"
const char* ScheduleName(ScheduleKind kind);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kSgd;
  double momentum = 0.9;     // sgd
  bool nesterov = false;     // sgd
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // adam, adamw
  // L2 (sgd, adam) or decoupled (adamw) weight decay, except for no_decay parameters.
  double weight_decay = 0.0;
  std::set<std::string> no_decay;
};
absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerConfig& config,
                                                         std::vector<ParamSpec> params);
// Checks the settings alone (a clear error before any data is read).
absl::Status ValidateOptimizerConfig(const OptimizerConfig& config);

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::kStep;
  int64_t step_size = 30;     // step: lr *= gamma every step_size epochs
  double gamma = 0.1;         // step, multistep
  std::vector<int64_t> milestones;  // multistep: lr *= gamma at each of these epochs
  double total_epochs = 1;    // cosine: anneals to min_factor over the whole run
  double min_factor = 0.0;    // cosine
  // Linear warmup from 0 over this many (fractional) epochs, multiplied with the schedule.
  double warmup_epochs = 0.0;
};
absl::StatusOr<SchedulePtr> MakeSchedule(const ScheduleConfig& config);

}  // namespace dlf::optim

#endif  // DLF_OPTIM_FACTORY_H_
