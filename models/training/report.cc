#include "models/training/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_io.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"

namespace dlf::training {
namespace {

// One chart panel: polylines of series over shared x values (linear or log), with axes,
// ticks and a legend.
struct Series {
  std::string name, color;
  std::vector<double> values;
};

struct XAxis {
  std::vector<double> values;  // of every point of every series
  bool log = false;
  std::string label;
  std::vector<double> ticks;
  std::string (*tick_text)(double);
};

XAxis EpochAxis(int64_t epochs) {
  XAxis x{{}, false, "epoch", {}, [](double e) { return absl::StrCat(static_cast<int64_t>(e)); }};
  for (int64_t e = 1; e <= epochs; ++e) x.values.push_back(e);
  for (int64_t e = 1; e <= epochs; e += std::max<int64_t>(1, epochs / 10)) x.ticks.push_back(e);
  return x;
}

std::string Panel(double x0, double y0, double w, double h, const std::string& title, const XAxis& x,
                  const std::vector<Series>& series, bool percent) {
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
  auto scale = [&](double v) { return x.log ? std::log10(v) : v; };
  const double x_lo = scale(x.values.front()), x_hi = scale(x.values.back());
  auto px = [&](double v) {
    return left + (x_hi <= x_lo ? 0.5 : (scale(v) - x_lo) / (x_hi - x_lo)) * (right - left);
  };
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
  for (double t : x.ticks) {
    absl::StrAppendFormat(&out, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%s</text>\n",
                          px(t), bottom + 14, x.tick_text(t));
  }
  absl::StrAppendFormat(&out, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>%s</text>\n",
                        (left + right) / 2, bottom + 28, x.label);
  // Loss falls and accuracy rises, so each legend goes where its curves are not.
  const double legend_top = percent ? bottom - 14 * series.size() - 6 : top;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    std::string points;
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (!std::isfinite(s.values[i])) continue;
      absl::StrAppendFormat(&points, "%.1f,%.1f ", px(x.values[i]), py(s.values[i]));
      if (s.values.size() <= 200) {
        absl::StrAppendFormat(&out, "<circle cx='%.1f' cy='%.1f' r='2.5' fill='%s'/>\n", px(x.values[i]),
                              py(s.values[i]), s.color);
      }
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

std::string SvgStart(int width, int height, const std::string& title) {
  return absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
      "font-family='Helvetica, Arial, sans-serif'>\n<rect width='%d' height='%d' fill='white'/>\n"
      "<text x='%d' y='20' font-size='15' text-anchor='middle'>%s</text>\n",
      width, height, width, height, width / 2, title);
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
  std::string svg = SvgStart(900, 360, title);
  svg += Panel(0, 25, 450, 335, "Loss (cross-entropy)", EpochAxis(epochs), losses, false);
  svg += Panel(450, 25, 450, 335, "Accuracy", EpochAxis(epochs), accuracies, true);
  svg += "</svg>\n";
  return data::WriteFileAtomically(path, svg);
}

absl::Status WriteLrFinderFiles(const std::string& dir, const std::vector<double>& lrs,
                                const std::vector<double>& losses, const std::vector<double>& smoothed,
                                double suggested) {
  std::string csv = "lr,loss,smoothed_loss\n";
  for (size_t i = 0; i < lrs.size(); ++i) {
    absl::StrAppendFormat(&csv, "%.6g,%.6f,%.6f\n", lrs[i], losses[i], smoothed[i]);
  }
  DLF_RETURN_IF_ERROR(data::WriteFileAtomically(dir + "/lr_finder.csv", csv));
  if (lrs.empty()) return absl::OkStatus();
  XAxis x{lrs, true, "learning rate (log scale)", {}, [](double v) { return absl::StrFormat("%.0e", v); }};
  for (double t = std::pow(10.0, std::ceil(std::log10(lrs.front()))); t <= lrs.back() * 1.0001; t *= 10) {
    x.ticks.push_back(t);
  }
  // A vertical line at the suggested rate.
  std::string svg = SvgStart(600, 380, absl::StrFormat("LR range test: suggested lr %.2e", suggested));
  svg += Panel(0, 25, 600, 355, "Loss against learning rate", x,
               {{"loss", "#aec7e8", losses}, {"smoothed", "#1f77b4", smoothed}}, false);
  const double left = 50, right = 590;
  const double at = left + (std::log10(suggested) - std::log10(lrs.front())) /
                               std::max(1e-12, std::log10(lrs.back()) - std::log10(lrs.front())) * (right - left);
  absl::StrAppendFormat(&svg, "<line x1='%.1f' x2='%.1f' y1='55' y2='345' stroke='#d62728' stroke-dasharray='4'/>\n", at, at);
  svg += "</svg>\n";
  return data::WriteFileAtomically(dir + "/lr_finder.svg", svg);
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
