// Checkpoints of a run (written by rank 0, atomically): last.safetensors with everything a
// resume needs, best.safetensors by --best_metric, and the last --keep_checkpoints epochs.

#include <cmath>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "graph/status_macros.h"
#include "models/training/callbacks.h"
#include "models/training/trainer.h"

namespace dlf::training {
namespace {

std::string EpochFile(int64_t epoch) { return absl::StrFormat("epoch_%03d.safetensors", epoch); }

class CheckpointSaver final : public Callback {
 public:
  absl::Status OnStepEnd(Trainer& t) override {
    const TrainConfig& c = t.config();
    if (c.checkpoint_every == 0 || t.global_step() % c.checkpoint_every != 0 || c.out_dir.empty()) {
      return absl::OkStatus();
    }
    return t.SaveLast();
  }

  // The running statistics were averaged over the ranks before the evaluation.
  absl::Status OnEpochEnd(Trainer& t, const EpochMetrics& m) override {
    const TrainConfig& c = t.config();
    if (c.out_dir.empty() || !t.is_root()) return absl::OkStatus();
    const double score = t.best_metric().Score(m);  // NaN: not measured
    const bool best = std::isfinite(score) && score > t.state().best_score;
    if (best) t.state().best_score = score;
    DLF_RETURN_IF_ERROR(t.SaveCheckpoint(t.OutPath("last.safetensors"), true));
    if (best) DLF_RETURN_IF_ERROR(t.SaveCheckpoint(t.OutPath("best.safetensors"), false));
    return c.keep_checkpoints > 0 ? KeepEpoch(t, m.epoch) : absl::OkStatus();
  }

  // Stopped mid-epoch (--max_steps): the position so far.
  absl::Status OnTrainEnd(Trainer& t) override {
    if (t.stop_reason().empty() || t.state().step_in_epoch == 0) return absl::OkStatus();
    return t.SaveLast();
  }

 private:
  // epoch_<N>.safetensors: a copy of last.safetensors; the one keep_checkpoints epochs older goes.
  absl::Status KeepEpoch(Trainer& t, int64_t epoch) {
    std::error_code ec;
    const std::string path = t.OutPath(EpochFile(epoch));
    std::filesystem::copy_file(t.OutPath("last.safetensors"), path,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
    const int64_t old = epoch - t.config().keep_checkpoints;
    if (old >= 1) std::filesystem::remove(t.OutPath(EpochFile(old)), ec);
    return absl::OkStatus();
  }
};

class MetricsWriter final : public Callback {
 public:
  absl::Status OnEpochEnd(Trainer& t, const EpochMetrics&) override {
    const TrainConfig& c = t.config();
    if (c.out_dir.empty() || !t.is_root()) return absl::OkStatus();
    const std::string title = absl::StrCat(c.run.model, " on ", t.data_description());
    DLF_RETURN_IF_ERROR(WriteMetricsCsv(t.OutPath("metrics.csv"), t.history()));
    return WriteLearningCurveSvg(t.OutPath("learning_curve.svg"), title, t.history(), t.task().families());
  }
};

}  // namespace

std::unique_ptr<Callback> MakeCheckpointSaver() { return std::make_unique<CheckpointSaver>(); }
std::unique_ptr<Callback> MakeMetricsWriter() { return std::make_unique<MetricsWriter>(); }

}  // namespace dlf::training
