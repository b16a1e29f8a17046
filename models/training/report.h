#ifndef DLF_MODELS_TRAINING_REPORT_H_
#define DLF_MODELS_TRAINING_REPORT_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace dlf::training {

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;  // NaN when there is no test set
  double lr = 0;
  double seconds = 0;
  double images_per_second = 0;
  // --model_ema: the averaged weights on the test set (NaN without).
  double ema_test_loss = NAN, ema_test_accuracy = NAN;
};

// metrics.csv: one row per epoch, with a header. Written atomically.
absl::Status WriteMetricsCsv(const std::string& path, const std::vector<EpochMetrics>& history);
// learning_curve.svg: loss and accuracy against epoch, train and test, as a self-contained
// SVG any browser opens. Written atomically.
absl::Status WriteLearningCurveSvg(const std::string& path, const std::string& title,
                                   const std::vector<EpochMetrics>& history);

// The LR range test's record: dir/lr_finder.csv (lr, loss, smoothed loss per step) and
// dir/lr_finder.svg (both losses against the rate on a log scale, the suggestion marked).
absl::Status WriteLrFinderFiles(const std::string& dir, const std::vector<double>& lrs,
                                const std::vector<double>& losses, const std::vector<double>& smoothed,
                                double suggested);

// The history as JSON (stored in checkpoints so a resumed run rewrites the same files).
std::string HistoryToJson(const std::vector<EpochMetrics>& history);
absl::Status HistoryFromJson(const std::string& text, std::vector<EpochMetrics>& history);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_REPORT_H_
