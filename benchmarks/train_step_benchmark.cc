// Whole-model throughput at batch 128: BM_AlexNetTrainStep (forward, backward, SGD momentum
// update, exactly what training runs per batch) and BM_AlexNetInference, for both presets, and
// the same for ResNet-20.
//   bazel run //benchmarks:train_step_benchmark
// benchmarks/compare_pytorch.py runs this and PyTorch side by side.
#include <memory>

#include "benchmark/benchmark.h"
#include "benchmarks/peak.h"
#include "data/synthetic.h"
#include "graph/executor.h"
#include "models/models.h"
#include "models/training/trainer.h"

namespace dlf::bench {
namespace {

constexpr int64_t kBatch = 128;

const data::Dataset& Images() {
  static const data::Dataset ds = data::MakeSyntheticDataset(kBatch, 3, 32, 10, 1);
  return ds;
}

data::Batch MakeBatch() {
  data::Batch b{Tensor(DType::kF32, {kBatch, 3, 32, 32}), Tensor(DType::kI32, {kBatch})};
  for (int64_t i = 0; i < b.images.num_elements(); ++i) b.images.f32()[i] = Images().images.u8()[i] / 255.0f;
  for (int64_t i = 0; i < kBatch; ++i) b.labels.i32()[i] = Images().labels[i];
  return b;
}

models::ModelFn Preset(int64_t which) { return which == 0 ? models::AlexNetSeed : models::AlexNetCifar; }

void TrainStep(benchmark::State& state, models::ModelFn build) {
  PeakGflops();
  training::TrainConfig c;
  c.run = {.model = "benchmark", .input_shape = {3, 32, 32}, .mean = {0.5f}, .std = {0.25f}};
  c.build = std::move(build);
  c.batch_size = kBatch;
  c.verbose = false;
  auto trainer = training::Trainer::Create(c, &Images(), nullptr);
  if (!trainer.ok()) return state.SkipWithError(std::string(trainer.status().message()).c_str());
  const data::Batch batch = MakeBatch();
  if (!(*trainer)->TrainStep(batch, 0.01).ok()) return state.SkipWithError("step failed");  // warm-up
  for (auto _ : state) {
    if (!(*trainer)->TrainStep(batch, 0.01).ok()) state.SkipWithError("step failed");
  }
  state.counters["images_per_second"] =
      benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["arena_MB"] = (*trainer)->executor().stats().arena_bytes / 1e6;
}

void Inference(benchmark::State& state, const models::ModelFn& build) {
  PeakGflops();
  Graph g(1);
  Value x = g.Input("images", DType::kF32, {kBatch, 3, 32, 32});
  Value logits = build(g, x, {});
  auto exec = Executor::Compile(g, {logits}, {/*training=*/false});
  if (!exec.ok()) return state.SkipWithError(std::string(exec.status().message()).c_str());
  const data::Batch batch = MakeBatch();
  const Feed feeds[] = {{x, &batch.images}};
  if (!(*exec)->Run(feeds).ok()) return state.SkipWithError("run failed");
  for (auto _ : state) {
    if (!(*exec)->Run(feeds).ok()) state.SkipWithError("run failed");
  }
  state.counters["images_per_second"] =
      benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AlexNetTrainStep(benchmark::State& state) { TrainStep(state, Preset(state.range(0))); }
BENCHMARK(BM_AlexNetTrainStep)->ArgName("preset(0=seed,1=cifar)")->Arg(0)->Arg(1)
    ->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);

void BM_AlexNetInference(benchmark::State& state) { Inference(state, Preset(state.range(0))); }
BENCHMARK(BM_AlexNetInference)->ArgName("preset(0=seed,1=cifar)")->Arg(0)->Arg(1)
    ->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

// ResNet-20 (BatchNorm in training mode for the step, with running statistics for inference).
void BM_ResNet20TrainStep(benchmark::State& state) { TrainStep(state, models::ResNet20); }
BENCHMARK(BM_ResNet20TrainStep)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);

void BM_ResNet20Inference(benchmark::State& state) { Inference(state, models::ResNet20); }
BENCHMARK(BM_ResNet20Inference)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace dlf::bench
