// Callbacks that watch the evaluation loss for a plateau: --lr_schedule=plateau reduces the rate,
// --early_stopping_patience ends the run. Their watches are part of the TrainState, so a
// resumed run goes on counting.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "models/training/callbacks.h"
#include "models/training/trainer.h"
#include "optim/plateau.h"

namespace dlf::training {
namespace {

// What the patience counts: epochs, or a run counted in steps' evaluations.
const char* Period(const Trainer& t) { return t.task().step_based() ? "evaluation" : "epoch"; }

class ReduceLrOnPlateau final : public Callback {
 public:
  absl::Status OnEpochEnd(Trainer& t, const EpochMetrics& m) override {
    TrainState& s = t.state();
    s.plateau.Update(m.Get(absl::StrCat(t.task().eval_split(), "_loss")));
    const TrainConfig& c = t.config();
    if (optim::ReduceOnPlateau(s.plateau, c.plateau_patience, c.schedule.gamma, s.lr_factor) && c.verbose) {
      absl::PrintF("the %s loss has not improved on %.4f for %d %s%s: the learning rate is now %g\n",
                   t.task().eval_split(), s.plateau.best, c.plateau_patience + 1, Period(t),
                   c.plateau_patience == 0 ? "" : "s", t.CurrentLearningRate());
    }
    return absl::OkStatus();
  }
};

class EarlyStopping final : public Callback {
 public:
  absl::Status OnEpochEnd(Trainer& t, const EpochMetrics& m) override {
    optim::PlateauTracker& watch = t.state().early_stopping;
    watch.Update(m.Get(absl::StrCat(t.task().eval_split(), "_loss")));
    const int64_t patience = t.config().early_stopping_patience;
    if (watch.bad_epochs >= patience && t.state().epoch < t.config().epochs) {
      t.RequestStop(absl::StrFormat(
          "stopped early after %s %d: the %s loss has not improved on %.4f for %d %ss (--early_stopping_patience=%d)",
          Period(t), m.epoch, t.task().eval_split(), watch.best, watch.bad_epochs, Period(t), patience));
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<Callback> MakeReduceLrOnPlateau() { return std::make_unique<ReduceLrOnPlateau>(); }
std::unique_ptr<Callback> MakeEarlyStopping() { return std::make_unique<EarlyStopping>(); }

}  // namespace dlf::training
