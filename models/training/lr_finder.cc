// --lr_finder: the LR range test (Smith 2015; fastai's lr_find): the rate grows exponentially
// from lr_finder.start to lr_finder.end over lr_finder.steps updates; the loss is smoothed (an
// exponential average with bias correction, beta 0.98) and the test stops early once it
// exceeds 4x its best. The suggestion is fastai's default ("valley", fastai 2.5+): in the
// longest run of points along which the smoothed loss keeps falling, the point 1/2 of the
// way in from its first third (robust to the noise that fools the steepest slope).

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "graph/status_macros.h"
#include "models/training/callbacks.h"
#include "models/training/trainer.h"

namespace dlf::training {
namespace {

class LrFinder final : public Callback {
 public:
  absl::Status OnTrainBegin(Trainer& t) override {
    t.state().lr_factor = Rate(t, 0) / t.config().lr;
    return absl::OkStatus();
  }

  absl::Status OnStepEnd(Trainer& t) override {
    const StepOutcome& step = t.last_step();
    const int64_t i = static_cast<int64_t>(lrs_.size());
    if (!step.skipped.empty() || !std::isfinite(step.loss)) {
      t.RequestStop(absl::StrFormat("the loss diverged at lr %.3g", step.lr));
      return absl::OkStatus();
    }
    average_ = kBeta * average_ + (1 - kBeta) * step.loss;
    const double smooth = average_ / (1 - std::pow(kBeta, i + 1));
    lrs_.push_back(step.lr);
    losses_.push_back(step.loss);
    smoothed_.push_back(smooth);
    best_ = std::min(best_, smooth);
    if (t.is_root() && t.config().verbose) absl::PrintF("lr %.3e  loss %.4f  smoothed %.4f\n", step.lr, step.loss, smooth);
    if (smooth > 4 * best_) {
      t.RequestStop(absl::StrFormat("the smoothed loss passed 4x its minimum at lr %.3g", step.lr));
    } else if (i + 1 >= t.config().lr_finder.steps) {
      t.RequestStop("the sweep reached --lr_finder_end");
    }
    t.state().lr_factor = Rate(t, i + 1) / t.config().lr;
    return absl::OkStatus();
  }

  absl::Status OnTrainEnd(Trainer& t) override {
    if (!t.is_root()) return absl::OkStatus();
    const double suggested = Suggestion();
    if (!t.config().out_dir.empty()) {
      DLF_RETURN_IF_ERROR(WriteLrFinderFiles(t.config().out_dir, lrs_, losses_, smoothed_, suggested));
    }
    const auto lowest = std::min_element(smoothed_.begin(), smoothed_.end()) - smoothed_.begin();
    absl::PrintF("LR range test over %d steps: %s\n", lrs_.size(), t.stop_reason());
    if (lrs_.empty()) return absl::OkStatus();
    absl::PrintF("suggested lr %.3g (fastai's valley; the smoothed loss was lowest at lr %.3g)\n",
                 suggested, lrs_[lowest]);
    if (!t.config().out_dir.empty()) {
      absl::PrintF("curve: %s/lr_finder.svg, %s/lr_finder.csv\n", t.config().out_dir, t.config().out_dir);
    }
    return absl::OkStatus();
  }

 private:
  static constexpr double kBeta = 0.98;

  static double Rate(const Trainer& t, int64_t i) {
    const LrFinderConfig& f = t.config().lr_finder;
    return f.start * std::pow(f.end / f.start, static_cast<double>(i) / std::max<int64_t>(1, f.steps - 1));
  }

  // fastai's valley: lds[i] is the length of the longest falling sequence ending at i.
  double Suggestion() const {
    const int64_t n = static_cast<int64_t>(smoothed_.size());
    if (n == 0) return NAN;
    std::vector<int64_t> lds(n, 1);
    int64_t max_start = 0, max_end = 0;
    for (int64_t i = 1; i < n; ++i) {
      for (int64_t j = 0; j < i; ++j) {
        if (smoothed_[i] < smoothed_[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
        if (lds[max_end] < lds[i]) {
          max_end = i;
          max_start = max_end - lds[max_end];
        }
      }
    }
    const double sections = static_cast<double>(max_end - max_start) / 3;
    const int64_t index = max_start + static_cast<int64_t>(sections) + static_cast<int64_t>(sections / 2);
    return lrs_[std::clamp<int64_t>(index, 0, n - 1)];
  }

  std::vector<double> lrs_, losses_, smoothed_;
  double average_ = 0, best_ = 1e300;
};

}  // namespace

std::unique_ptr<Callback> MakeLrFinder() { return std::make_unique<LrFinder>(); }

}  // namespace dlf::training
