// Whole-model throughput at batch 128: BM_AlexNetTrainStep (forward, backward, SGD momentum
// update, exactly what training runs per batch) and BM_AlexNetInference, for both presets, and
// the same for ResNet-20; each in f32 and with bf16 convolutions and linear layers. GFLOP/s
// counts the convolutions' and linear layers' nominal FLOPs (OpDef::flops), peak_% is of the
// machine's peak in the step's precision (benchmarks/peak.h: f32 or bf16).
//   bazel run //benchmarks:train_step_benchmark
// benchmarks/compare_peers.py runs this and its peers (PyTorch 1 and 2, OpenVINO, ONNX Runtime) side by side.
#include <functional>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/peak.h"
#include "data/synthetic.h"
#include "graph/cpu.h"
#include "graph/executor.h"
#include "models/models.h"
#include "models/training/trainer.h"
#include "ops/ops.h"

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

// --freeze: the parameters whose names match `freeze` get no gradient (and, with freeze_bn,
// their BatchNorms keep the running statistics).
void TrainStep(benchmark::State& state, const models::ModelFn& build, bool bf16,
               const std::string& freeze, bool freeze_bn) {
  bf16 ? Bf16PeakGflops() : PeakGflops();  // measured before the timing
  training::TrainConfig c;
  c.freeze = *training::NamePattern::Create("freeze", freeze);
  c.freeze_bn = freeze_bn;
  c.run = {.model = "benchmark", .input_shape = {3, 32, 32}, .mean = {0.5f}, .std = {0.25f}};
  c.build = build;
  c.batch_size = kBatch;
  c.verbose = false;
  c.bf16 = bf16;
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
  SetFlopCounters(state, (*trainer)->executor().stats().flops_per_run, bf16);
}

void Inference(benchmark::State& state, const models::ModelFn& build, bool bf16) {
  bf16 ? Bf16PeakGflops() : PeakGflops();
  Graph g(1);
  Value x = g.Input("images", DType::kF32, {kBatch, 3, 32, 32});
  Value logits = build(g, x, {});
  // As the evaluator runs it: the weights are fixed, so their bf16 copies are made once.
  auto exec = Executor::Compile(g, {logits}, {.training = false, .bf16 = bf16, .fixed_parameters = true});
  if (!exec.ok()) return state.SkipWithError(std::string(exec.status().message()).c_str());
  const data::Batch batch = MakeBatch();
  const Feed feeds[] = {{x, &batch.images}};
  if (!(*exec)->Run(feeds).ok()) return state.SkipWithError("run failed");
  for (auto _ : state) {
    if (!(*exec)->Run(feeds).ok()) state.SkipWithError("run failed");
  }
  state.counters["images_per_second"] =
      benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
  SetFlopCounters(state, (*exec)->stats().flops_per_run, bf16);
}

// Names say model, preset and precision: BM_AlexNetTrainStep/seed/bf16, BM_ResNet20Inference/f32.
// bf16 runs carry the instruction set oneDNN dispatched to (bf16 is emulated without
// avx512_core_bf16).
using RunFn = std::function<void(benchmark::State&, const models::ModelFn&, bool)>;

void Register(const std::string& name, RunFn run, models::ModelFn build, double min_time) {
  for (bool bf16 : {false, true}) {
    benchmark::RegisterBenchmark((name + (bf16 ? "/bf16" : "/f32")).c_str(),
                                 [=](benchmark::State& state) {
                                   run(state, build, bf16);
                                   if (bf16) state.SetLabel("oneDNN ISA " + DnnlIsaName());
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(min_time);
  }
}

RunFn Training(std::string freeze = "", bool freeze_bn = false) {
  return [=](benchmark::State& s, const models::ModelFn& b, bool bf16) { TrainStep(s, b, bf16, freeze, freeze_bn); };
}

[[maybe_unused]] const bool registered = [] {
  Register("BM_AlexNetTrainStep/seed", Training(), models::AlexNetSeed, 3.0);
  Register("BM_AlexNetTrainStep/cifar", Training(), models::AlexNetCifar, 3.0);
  Register("BM_AlexNetInference/seed", Inference, models::AlexNetSeed, 2.0);
  Register("BM_AlexNetInference/cifar", Inference, models::AlexNetCifar, 2.0);
  // ResNet-20: BatchNorm in training mode for the step, running statistics for inference.
  Register("BM_ResNet20TrainStep", Training(), models::ResNet20, 3.0);
  Register("BM_ResNet20Inference", Inference, models::ResNet20, 2.0);
  // Fine-tuning: the stem and the first two stages frozen, or everything but the classifier.
  Register("BM_ResNet20TrainStep/freeze_to_layer2", Training("^(conv1|bn1|layer1|layer2)\\.", false), models::ResNet20, 3.0);
  Register("BM_ResNet20TrainStep/freeze_all_but_fc_bn", Training("^(?!fc\\.)", true), models::ResNet20, 3.0);
  return true;
}();

}  // namespace
}  // namespace dlf::bench
