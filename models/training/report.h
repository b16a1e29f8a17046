#ifndef DLF_MODELS_TRAINING_REPORT_H_
#define DLF_MODELS_TRAINING_REPORT_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace dlf::training {

// One epoch's metrics by name, in the order metrics.csv gives them their columns: the task's
// training and evaluation metrics ("train_loss", "train_accuracy", "test_loss", ...), "lr",
// "epoch_seconds", "<samples>_per_second", then what callbacks add ("ema_test_loss", ...).
// NaN: not measured (no test set).
struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  std::vector<std::pair<std::string, double>> values;

  // The value of `name`, NaN when the epoch has none.
  double Get(const std::string& name) const;
  // Sets `name`, appending it when new.
  void Set(const std::string& name, double value);
};

// A metric every split reports ("train_loss", "test_loss": the family "loss"): one panel of
// learning_curve.svg, and how progress lines print it ("loss 0.4321", a fraction "acc 85.12%").
struct CurveFamily {
  std::string family;        // "loss", "accuracy"
  std::string title;         // "Loss (cross-entropy)"
  std::string abbreviation;  // "loss", "acc"
  bool fraction;             // plotted and printed as a percentage
};

// metrics.csv: one row per epoch, with a header. Written atomically.
absl::Status WriteMetricsCsv(const std::string& path, const std::vector<EpochMetrics>& history);
// learning_curve.svg: one panel per family, each split's curve against the epoch, as a
// self-contained SVG any browser opens. Written atomically.
absl::Status WriteLearningCurveSvg(const std::string& path, const std::string& title,
                                   const std::vector<EpochMetrics>& history,
                                   const std::vector<CurveFamily>& families);

// The LR range test's record: dir/lr_finder.csv (lr, loss, smoothed loss per step) and
// dir/lr_finder.svg (both losses against the rate on a log scale, the suggestion marked).
absl::Status WriteLrFinderFiles(const std::string& dir, const std::vector<double>& lrs,
                                const std::vector<double>& losses, const std::vector<double>& smoothed,
                                double suggested);

// The history as JSON (stored in checkpoints so a resumed run rewrites the same files): per
// epoch {"epoch": N, "metrics": [[name, value], ...]} (null for NaN). Histories of checkpoints
// written before metrics had names (rows of numbers in a fixed order) are read too.
std::string HistoryToJson(const std::vector<EpochMetrics>& history);
absl::Status HistoryFromJson(const std::string& text, std::vector<EpochMetrics>& history);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_REPORT_H_
