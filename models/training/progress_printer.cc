// The console output of a run (rank 0): progress lines, skipped steps, per-step losses, the
// epoch summaries and why training stopped.

#include <chrono>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "models/training/callbacks.h"
#include "models/training/trainer.h"

namespace dlf::training {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  return absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

// "epoch 3/10", or for a run counted in steps "step 600/2000".
std::string EpochName(const Trainer& t, int64_t epoch) {
  if (t.task().step_based()) return absl::StrFormat("step %d/%d", t.global_step(), t.config().max_steps);
  return absl::StrFormat("epoch %d/%d", epoch, t.config().epochs);
}

class ProgressPrinter final : public Callback {
 public:
  absl::Status OnEpochBegin(Trainer& t) override {
    tty_ = t.parallel().interactive_output();
    return absl::OkStatus();
  }

  absl::Status OnStepEnd(Trainer& t) override {
    const TrainConfig& c = t.config();
    if (c.verbose && !t.last_step().skipped.empty()) {
      absl::PrintF("%sskipped: %s\n", tty_ ? "\r\033[K" : "", t.last_step().skipped);
    }
    if (c.log_step_losses && t.last_step().skipped.empty()) {
      absl::PrintF("step %d loss %.17g\n", t.global_step(), t.last_step().loss);
      std::fflush(stdout);  // a reader of a pipe (a test, a supervisor) sees each step as it ends
    }
    Print(t, t.state().step_in_epoch == t.batches_per_epoch());
    return absl::OkStatus();
  }

  absl::Status OnEpochEnd(Trainer& t, const EpochMetrics& m) override {
    if (!t.config().verbose) return absl::OkStatus();
    if (tty_) absl::PrintF("\r\033[K");
    const Task& task = t.task();
    const std::string eval = task.eval_split();
    absl::PrintF("%s: train %s | %s %s | lr %g | %.1f s (%.0f %s/s, %.2f s waiting for data), eval %.1f s\n",
                 EpochName(t, m.epoch), task.Summary(m, "train"), eval, task.Summary(m, eval), m.Get("lr"),
                 m.Get("epoch_seconds"), m.Get(task.throughput_metric()), task.unit(), t.data_wait_this_epoch(),
                 t.last_eval_seconds());
    if (t.config().model_ema && t.evaluation() != nullptr) {
      absl::PrintF("  EMA weights: %s %s\n", eval, task.Summary(m, "ema_" + eval));
    }
    PrintSkippedImages(t);
    std::fflush(stdout);
    return absl::OkStatus();
  }

  absl::Status OnTrainEnd(Trainer& t) override {
    if (!t.config().verbose || t.stop_reason().empty()) return absl::OkStatus();
    if (t.state().step_in_epoch > 0) Print(t, true);
    absl::PrintF("%s%s\n", t.state().step_in_epoch > 0 ? "\n" : "", t.stop_reason());
    std::fflush(stdout);
    return absl::OkStatus();
  }

 private:
  // --skip_bad_images: how many training images were replaced this epoch, and the first few
  // reasons (this rank's).
  static void PrintSkippedImages(const Trainer& t) {
    if (t.epoch_skipped_count() == 0) return;
    absl::PrintF("  skipped %d unreadable training image%s this epoch (--skip_bad_images), each replaced by the "
                 "next image of the epoch's order:\n", t.epoch_skipped_count(), t.epoch_skipped_count() == 1 ? "" : "s");
    const std::vector<std::string>& why = t.epoch_skipped_images();
    for (size_t i = 0; i < why.size() && i < 3; ++i) absl::PrintF("    %s\n", why[i]);
    if (why.size() > 3) absl::PrintF("    ... and %d more\n", why.size() - 3);
  }

  // The progress line, at most every progress_seconds (a quarter second on a terminal).
  void Print(Trainer& t, bool force) {
    const TrainConfig& c = t.config();
    if (!c.verbose) return;
    const double now = Now(), elapsed = t.seconds_this_session();
    if (!force && now - last_ < (tty_ ? 0.25 : c.progress_seconds)) return;
    last_ = now;
    const TrainState& s = t.state();
    const int64_t steps = t.updates_per_epoch(), accum = c.grad_accum_steps;
    const double rate = elapsed > 0 ? static_cast<double>(t.images_this_session()) / elapsed : 0;
    const double eta = rate > 0 ? (t.batches_per_epoch() - s.step_in_epoch) * c.batch_size / rate : 0;
    const std::string where = t.task().step_based()
        ? EpochName(t, 0)
        : absl::StrFormat("epoch %d/%d  step %d/%d", s.epoch + 1, c.epochs, (s.step_in_epoch + accum - 1) / accum, steps);
    const int64_t units = t.task().units_per_sample(c.run.input_shape);
    const std::string line = absl::StrFormat("%s  %s  %.0f %s/s  ETA %s", where,
                                             t.task().Running(s.epoch_loss_sum, s.epoch_sums, s.epoch_seen),
                                             rate * units, t.task().unit(), Duration(eta));
    if (tty_) {
      absl::PrintF("\r%s\033[K", line);
    } else {
      absl::PrintF("%s\n", line);
    }
    std::fflush(stdout);
  }

  bool tty_ = false;
  double last_ = 0;
};

}  // namespace

std::unique_ptr<Callback> MakeProgressPrinter() { return std::make_unique<ProgressPrinter>(); }

}  // namespace dlf::training
