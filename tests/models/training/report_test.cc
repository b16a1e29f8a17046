// The reports of a run by metric name: metrics.csv's columns, learning_curve.svg's panels, and
// the task's checks of --best_metric.
#include "models/training/report.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/training/task.h"

namespace dlf::training {
namespace {

using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<EpochMetrics> History() {
  EpochMetrics a{.epoch = 1, .values = {{"train_loss", 1.5}, {"val_perplexity", 4.25}, {"lr", 0.001},
                                        {"epoch_seconds", 2.5}, {"tokens_per_second", 1234.56}}};
  EpochMetrics b = a;
  b.epoch = 2;
  b.Set("val_perplexity", NAN);
  b.Set("ema_val_perplexity", 3.5);  // a metric that appears later gets a column from then on
  return {a, b};
}

TEST(ReportTest, MetricsCsvHasAColumnPerMetricNameInTheOrderTheyAppear) {
  const std::string path = ::testing::TempDir() + "/metrics.csv";
  ASSERT_TRUE(WriteMetricsCsv(path, History()).ok());
  EXPECT_EQ(Read(path),
            "epoch,train_loss,val_perplexity,lr,epoch_seconds,tokens_per_second,ema_val_perplexity\n"
            "1,1.500000,4.250000,0.001,2.500,1234.6,nan\n"
            "2,1.500000,nan,0.001,2.500,1234.6,3.500000\n");
}

TEST(ReportTest, LearningCurveHasAPanelPerFamilyAndACurvePerSplitWithValues) {
  const std::string path = ::testing::TempDir() + "/curve.svg";
  ASSERT_TRUE(WriteLearningCurveSvg(path, "run", History(),
                                    {{"loss", "Loss", "loss", false}, {"perplexity", "Perplexity", "ppl", false}})
                  .ok());
  const std::string svg = Read(path);
  EXPECT_THAT(svg, HasSubstr(">Loss</text>"));
  EXPECT_THAT(svg, HasSubstr(">Perplexity</text>"));
  EXPECT_THAT(svg, HasSubstr(">train</text>"));
  EXPECT_THAT(svg, HasSubstr(">val</text>"));
  EXPECT_THAT(svg, HasSubstr(">val (EMA)</text>"));
}

TEST(ReportTest, ClassificationNamesItsMetricsAndTheirDirection) {
  const Task& task = ClassificationTask();
  absl::StatusOr<MetricChoice> loss = ChooseMetric(task, "test_loss", false);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_FALSE(loss->higher_is_better);
  EpochMetrics m{.epoch = 1, .values = {{"test_loss", 0.25}, {"test_accuracy", 0.9}}};
  EXPECT_EQ(loss->Score(m), -0.25);
  EXPECT_EQ(ChooseMetric(task, "test_accuracy", false)->Score(m), 0.9);
  EXPECT_TRUE(ChooseMetric(task, "ema_test_loss", true).ok());
  EXPECT_THAT(std::string(ChooseMetric(task, "ema_test_accuracy", false).status().message()),
              HasSubstr("--best_metric=ema_test_accuracy needs --model_ema"));
  EXPECT_THAT(std::string(ChooseMetric(task, "train_loss", false).status().message()),
              HasSubstr("must be one of test_loss, test_accuracy, ema_test_loss, ema_test_accuracy"));
  EXPECT_EQ(task.Summary(m, "test"), "loss 0.2500 acc 90.00%");
}

}  // namespace
}  // namespace dlf::training
