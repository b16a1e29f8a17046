// Callbacks that watch the test loss for a plateau: --lr_schedule=plateau reduces the rate,
// --early_stopping_patience ends the run. Their watches are part of the TrainState, so a
// resumed run goes on counting.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "models/training/callbacks.h"
#include "models/training/trainer.h"
#include "optim/plateau.h"

namespace dlf::training {
namespace {

class ReduceLrOnPlateau final : public Callback {
 public:
  absl::Status OnEpochEnd(Trainer& t, const EpochMetrics& m) override {
    TrainState& s = t.state();
    s.plateau.Update(m.Get(absl::StrCat(t.task().eval_split(), "_loss")));
    const TrainConfig& c = t.config();
    if (optim::ReduceOnPlateau(s.plateau, c.plateau_patience, c.schedule.gamma, s.lr_factor) && c.verbose) {
      absl::PrintF("the test loss has not improved on %.4f for %d epoch%s: the learning rate is now %g\n",
                   s.plateau.best, c.plateau_patience + 1, c.plateau_patience == 0 ? "" : "s", t.CurrentLearningRate());
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
          "stopped early after epoch %d: the test loss has not improved on %.4f for %d epochs "
          "(--early_stopping_patience=%d)", m.epoch, watch.best, watch.bad_epochs, patience));
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<Callback> MakeReduceLrOnPlateau() { return std::make_unique<ReduceLrOnPlateau>(); }
std::unique_ptr<Callback> MakeEarlyStopping() { return std::make_unique<EarlyStopping>(); }

}  // namespace dlf::training
