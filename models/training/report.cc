#include "models/training/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_io.h"
#include "nlohmann/json.hpp"

namespace dlf::training {
namespace {

// One chart panel: polylines of (epoch, value) series, with axes, ticks and a legend.
struct Series {
  std::string name, color;
  std::vector<double> values;
};

std::string Panel(double x0, double y0, double w, double h, const std::string& title,
                  int64_t epochs, const std::vector<Series>& series, bool percent) {
  double lo = 1e300, hi = -1e300;
  for (const Series& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (lo > hi) lo = 0, hi = 1;
  const double margin = std::max(0.02, 0.1 * (hi - lo));
  lo -= margin;
  hi += margin;
  if (percent) lo = std::max(lo, 0.0), hi = std::min(hi, 1.0);
  if (hi - lo < 1e-9) hi = lo + 1;
  const double left = x0 + 50, right = x0 + w - 10, top = y0 + 30, bottom = y0 + h - 35;
  auto px = [&](double e) { return left + (epochs <= 1 ? 0.5 : (e - 1) / (epochs - 1)) * (right - left); };
  auto py = [&](double v) { return bottom - (v - lo) / (hi - lo) * (bottom - top); };
  std::string out = absl::StrFormat(
      "<text x='%.1f' y='%.1f' font-size='14' font-weight='bold'>%s</text>\n"
      "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#999'/>\n",
      left, y0 + 18, title, left, top, right - left, bottom - top);
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4;
    absl::StrAppendFormat(&out,
                          "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#eee'/>"
                          "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>%s</text>\n",
                          left, right, py(v), py(v), left - 4, py(v) + 3,
                          percent ? absl::StrFormat("%.1f%%", 100 * v) : absl::StrFormat("%.3g", v));
  }
  const int64_t step = std::max<int64_t>(1, epochs / 10);
  for (int64_t e = 1; e <= epochs; e += step) {
    absl::StrAppendFormat(&out, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%d</text>\n",
                          px(e), bottom + 14, e);
  }
  absl::StrAppendFormat(&out, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>epoch</text>\n",
                        (left + right) / 2, bottom + 28);
  // Loss falls and accuracy rises, so each legend goes where its curves are not.
  const double legend_top = percent ? bottom - 14 * series.size() - 6 : top;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    std::string points;
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (!std::isfinite(s.values[i])) continue;
      absl::StrAppendFormat(&points, "%.1f,%.1f ", px(i + 1.0), py(s.values[i]));
      absl::StrAppendFormat(&out, "<circle cx='%.1f' cy='%.1f' r='2.5' fill='%s'/>\n", px(i + 1.0),
                            py(s.values[i]), s.color);
    }
    absl::StrAppendFormat(&out, "<polyline points='%s' fill='none' stroke='%s' stroke-width='2'/>\n",
                          points, s.color);
    absl::StrAppendFormat(&out,
                          "<rect x='%.1f' y='%.1f' width='12' height='3' fill='%s'/>"
                          "<text x='%.1f' y='%.1f' font-size='11'>%s</text>\n",
                          right - 90, legend_top + 10 + 14 * k, s.color, right - 74,
                          legend_top + 14 + 14 * k, s.name);
  }
  return out;
}

bool HasEma(const std::vector<EpochMetrics>& history) {
  return std::any_of(history.begin(), history.end(),
                     [](const EpochMetrics& m) { return std::isfinite(m.ema_test_accuracy); });
}

}  // namespace

absl::Status WriteMetricsCsv(const std::string& path, const std::vector<EpochMetrics>& history) {
  const bool ema = HasEma(history);
  std::string csv = absl::StrCat("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,epoch_seconds,images_per_second",
                                 ema ? ",ema_test_loss,ema_test_accuracy\n" : "\n");
  for (const EpochMetrics& m : history) {
    absl::StrAppendFormat(&csv, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f", m.epoch, m.train_loss,
                          m.train_accuracy, m.test_loss, m.test_accuracy, m.lr, m.seconds,
                          m.images_per_second);
    if (ema) absl::StrAppendFormat(&csv, ",%.6f,%.6f", m.ema_test_loss, m.ema_test_accuracy);
    csv += "\n";
  }
  return data::WriteFileAtomically(path, csv);
}

absl::Status WriteLearningCurveSvg(const std::string& path, const std::string& title,
                                   const std::vector<EpochMetrics>& history) {
  Series train_loss{"train", "#1f77b4", {}}, test_loss{"test", "#d62728", {}};
  Series train_acc{"train", "#1f77b4", {}}, test_acc{"test", "#d62728", {}};
  Series ema_loss{"test (EMA)", "#2ca02c", {}}, ema_acc{"test (EMA)", "#2ca02c", {}};
  for (const EpochMetrics& m : history) {
    train_loss.values.push_back(m.train_loss);
    test_loss.values.push_back(m.test_loss);
    train_acc.values.push_back(m.train_accuracy);
    test_acc.values.push_back(m.test_accuracy);
    ema_loss.values.push_back(m.ema_test_loss);
    ema_acc.values.push_back(m.ema_test_accuracy);
  }
  std::vector<Series> losses = {train_loss, test_loss}, accuracies = {train_acc, test_acc};
  if (HasEma(history)) {
    losses.push_back(ema_loss);
    accuracies.push_back(ema_acc);
  }
  const int64_t epochs = std::max<int64_t>(1, static_cast<int64_t>(history.size()));
  std::string svg = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='900' height='360' "
      "font-family='Helvetica, Arial, sans-serif'>\n<rect width='900' height='360' fill='white'/>\n"
      "<text x='450' y='20' font-size='15' text-anchor='middle'>%s</text>\n", title);
  svg += Panel(0, 25, 450, 335, "Loss (cross-entropy)", epochs, losses, false);
  svg += Panel(450, 25, 450, 335, "Accuracy", epochs, accuracies, true);
  svg += "</svg>\n";
  return data::WriteFileAtomically(path, svg);
}

std::string HistoryToJson(const std::vector<EpochMetrics>& history) {
  nlohmann::json rows = nlohmann::json::array();
  for (const EpochMetrics& m : history) {
    nlohmann::json row = {m.epoch, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.lr,
                          m.seconds, m.images_per_second};
    if (std::isfinite(m.ema_test_accuracy)) row.insert(row.end(), {m.ema_test_loss, m.ema_test_accuracy});
    rows.push_back(row);
  }
  return rows.dump();
}

absl::Status HistoryFromJson(const std::string& text, std::vector<EpochMetrics>& history) {
  history.clear();
  try {
    for (const auto& r : nlohmann::json::parse(text)) {
      history.push_back({r.at(0).get<int64_t>(), r.at(1).get<double>(), r.at(2).get<double>(),
                         r.at(3).is_number() ? r.at(3).get<double>() : NAN,
                         r.at(4).is_number() ? r.at(4).get<double>() : NAN, r.at(5).get<double>(),
                         r.at(6).get<double>(), r.at(7).get<double>()});
      if (r.size() >= 10) {  // with --model_ema
        history.back().ema_test_loss = r.at(8).is_number() ? r.at(8).get<double>() : NAN;
        history.back().ema_test_accuracy = r.at(9).is_number() ? r.at(9).get<double>() : NAN;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("bad metrics history: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace dlf::training
