#include "models/training/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
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

// Every metric name of the history, in the order of first appearance.
std::vector<std::string> MetricNames(const std::vector<EpochMetrics>& history) {
  std::vector<std::string> names;
  for (const EpochMetrics& m : history) {
    for (const auto& [name, value] : m.values) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

// A column's digits: rates in %g, seconds to the millisecond, throughputs to a tenth.
std::string CsvValue(const std::string& name, double v) {
  if (name == "lr") return absl::StrFormat("%.6g", v);
  if (name == "step") return absl::StrFormat("%.0f", v);
  if (name == "epoch_seconds") return absl::StrFormat("%.3f", v);
  if (absl::EndsWith(name, "_per_second")) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.6f", v);
}

// A curve's legend: its split ("ema_test" reads "test (EMA)").
std::string SplitLabel(const std::string& split) {
  if (absl::StartsWith(split, "ema_")) return split.substr(4) + " (EMA)";
  return split;
}

// Positions of the rows of a history written before metrics had names.
const char* const kUnnamedColumns[] = {"train_loss", "train_accuracy", "test_loss",     "test_accuracy",
                                       "lr",         "epoch_seconds",  "images_per_second", "ema_test_loss",
                                       "ema_test_accuracy"};

double JsonNumber(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; }

}  // namespace

double EpochMetrics::Get(const std::string& name) const {
  for (const auto& [n, v] : values) {
    if (n == name) return v;
  }
  return NAN;
}

void EpochMetrics::Set(const std::string& name, double value) {
  for (auto& [n, v] : values) {
    if (n == name) {
      v = value;
      return;
    }
  }
  values.emplace_back(name, value);
}

absl::Status WriteMetricsCsv(const std::string& path, const std::vector<EpochMetrics>& history) {
  const std::vector<std::string> names = MetricNames(history);
  std::string csv = absl::StrCat("epoch,", absl::StrJoin(names, ","), "\n");
  for (const EpochMetrics& m : history) {
    absl::StrAppend(&csv, m.epoch);
    for (const std::string& name : names) absl::StrAppend(&csv, ",", CsvValue(name, m.Get(name)));
    csv += "\n";
  }
  return data::WriteFileAtomically(path, csv);
}

absl::Status WriteLearningCurveSvg(const std::string& path, const std::string& title,
                                   const std::vector<EpochMetrics>& history,
                                   const std::vector<CurveFamily>& families) {
  static const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  const std::vector<std::string> names = MetricNames(history);
  const int64_t epochs = std::max<int64_t>(1, static_cast<int64_t>(history.size()));
  const double width = 900.0 / static_cast<double>(std::max<size_t>(1, families.size()));
  std::string svg = SvgStart(900, 360, title);
  for (size_t f = 0; f < families.size(); ++f) {
    std::vector<Series> series;
    for (const std::string& name : names) {
      const std::string suffix = "_" + families[f].family;
      if (!absl::EndsWith(name, suffix)) continue;
      Series s{SplitLabel(name.substr(0, name.size() - suffix.size())), kColors[series.size() % 5], {}};
      for (const EpochMetrics& m : history) s.values.push_back(m.Get(name));
      if (std::any_of(s.values.begin(), s.values.end(), [](double v) { return std::isfinite(v); })) {
        series.push_back(std::move(s));
      }
    }
    svg += Panel(width * f, 25, width, 335, families[f].title, EpochAxis(epochs), series, families[f].fraction);
  }
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
    nlohmann::json values = nlohmann::json::array();
    for (const auto& [name, v] : m.values) values.push_back({name, v});  // NaN is written as null
    rows.push_back({{"epoch", m.epoch}, {"metrics", values}});
  }
  return rows.dump();
}

absl::Status HistoryFromJson(const std::string& text, std::vector<EpochMetrics>& history) {
  history.clear();
  try {
    for (const auto& r : nlohmann::json::parse(text)) {
      EpochMetrics& m = history.emplace_back();
      if (r.is_array()) {  // unnamed: epoch, then kUnnamedColumns in order
        m.epoch = r.at(0).get<int64_t>();
        for (size_t i = 1; i < r.size() && i <= std::size(kUnnamedColumns); ++i) {
          m.Set(kUnnamedColumns[i - 1], JsonNumber(r.at(i)));
        }
        continue;
      }
      m.epoch = r.at("epoch").get<int64_t>();
      for (const auto& v : r.at("metrics")) m.Set(v.at(0).get<std::string>(), JsonNumber(v.at(1)));
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("bad metrics history: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace dlf::training
