// Whole-model throughput at batch 128: BM_AlexNetTrainStep (forward, backward, SGD momentum
// update, exactly what training runs per batch) and BM_AlexNetInference, for both presets, and
// the same for ResNet-20; at batch 32 of 224x224, MobileNetV2 and ConvNeXt-Tiny; each in f32 and
// with bf16 convolutions and linear layers; nanoGPT's GPT at two configurations (tokens/s). GFLOP/s
// counts the convolutions' and linear layers' nominal FLOPs (OpDef::flops), peak_% is of the
// machine's peak in the step's precision (benchmarks/peak.h: f32 or bf16).
//   bazel run //benchmarks:train_step_benchmark
// benchmarks/compare_peers.py runs this and its peers (PyTorch 1 and 2, OpenVINO, ONNX Runtime) side by side.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/peak.h"
#include "data/synthetic.h"
#include "graph/cpu.h"
#include "graph/executor.h"
#include "graph/autodiff.h"
#include "models/gpt.h"
#include "models/gpt_generate.h"
#include "models/gpt_train.h"
#include "models/models.h"
#include "models/registry.h"
#include "models/training/trainer.h"
#include "ops/ops.h"
#include "optim/factory.h"

namespace dlf::bench {
namespace {

// A batch of images: the CIFAR-size models' (128 of 32x32) or the ImageNet-size ones' (32 of 224x224).
struct Workload {
  int64_t batch = 128, size = 32;
};
constexpr Workload kImageNetSize = {32, 224};

const data::Dataset& Images(Workload w) {
  static auto* sets = new std::map<std::pair<int64_t, int64_t>, data::Dataset>();
  auto [it, added] = sets->try_emplace({w.batch, w.size});
  if (added) it->second = data::MakeSyntheticDataset(w.batch, 3, w.size, 10, 1);
  return it->second;
}

data::Batch MakeBatch(Workload w) {
  data::Batch b{Tensor(DType::kF32, {w.batch, 3, w.size, w.size}), Tensor(DType::kI32, {w.batch})};
  const data::Dataset& images = Images(w);
  for (int64_t i = 0; i < b.images.num_elements(); ++i) b.images.f32()[i] = images.images.u8()[i] / 255.0f;
  for (int64_t i = 0; i < w.batch; ++i) b.labels.i32()[i] = images.labels[i];
  return b;
}

// --freeze: the parameters whose names match `freeze` get no gradient (and, with freeze_bn,
// their BatchNorms keep the running statistics).
void TrainStep(benchmark::State& state, const models::ModelFn& build, bool bf16,
               const std::string& freeze, bool freeze_bn, Workload w) {
  bf16 ? Bf16PeakGflops() : PeakGflops();  // measured before the timing
  training::TrainConfig c;
  c.freeze = *training::NamePattern::Create("freeze", freeze);
  c.freeze_bn = freeze_bn;
  c.run = {.model = "benchmark", .input_shape = {3, w.size, w.size}, .mean = {0.5f}, .std = {0.25f}};
  c.build = build;
  c.batch_size = w.batch;
  c.verbose = false;
  c.bf16 = bf16;
  auto trainer = training::Trainer::Create(c, &Images(w), nullptr);
  if (!trainer.ok()) return state.SkipWithError(std::string(trainer.status().message()).c_str());
  const data::Batch batch = MakeBatch(w);
  if (!(*trainer)->TrainStep(batch, 0.01).ok()) return state.SkipWithError("step failed");  // warm-up
  for (auto _ : state) {
    if (!(*trainer)->TrainStep(batch, 0.01).ok()) state.SkipWithError("step failed");
  }
  state.counters["images_per_second"] =
      benchmark::Counter(w.batch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["arena_MB"] = (*trainer)->executor().stats().arena_bytes / 1e6;
  SetFlopCounters(state, (*trainer)->executor().stats().flops_per_run, bf16);
}

void Inference(benchmark::State& state, const models::ModelFn& build, bool bf16, Workload w) {
  bf16 ? Bf16PeakGflops() : PeakGflops();
  Graph g(1);
  Value x = g.Input("images", DType::kF32, {w.batch, 3, w.size, w.size});
  Value logits = build(g, x, {});
  // As the evaluator runs it: the weights are fixed, so their bf16 copies are made once.
  auto exec = Executor::Compile(g, {logits}, {.training = false, .bf16 = bf16, .fixed_parameters = true});
  if (!exec.ok()) return state.SkipWithError(std::string(exec.status().message()).c_str());
  const data::Batch batch = MakeBatch(w);
  const Feed feeds[] = {{x, &batch.images}};
  if (!(*exec)->Run(feeds).ok()) return state.SkipWithError("run failed");
  for (auto _ : state) {
    if (!(*exec)->Run(feeds).ok()) state.SkipWithError("run failed");
  }
  state.counters["images_per_second"] =
      benchmark::Counter(w.batch, benchmark::Counter::kIsIterationInvariantRate);
  SetFlopCounters(state, (*exec)->stats().flops_per_run, bf16);
}

// A GPT training step as nanoGPT's train.py runs it: forward, cross-entropy over every token,
// backward, AdamW (betas 0.9 / 0.99, weight decay 0.1 on the 2-D parameters) on `batch` windows of
// block_size random tokens of a 65-character vocabulary (shakespeare_char's).
struct GptWorkload {
  models::GptConfig config;
  int64_t batch;
};

void GptTrainStep(benchmark::State& state, const GptWorkload& w, bool bf16) {
  bf16 ? Bf16PeakGflops() : PeakGflops();
  const int64_t t = w.config.block_size;
  auto step = models::GptTrainStep::Create(w.config, {.batch = w.batch, .clip_norm = 0, .bf16 = bf16});
  if (!step.ok()) return state.SkipWithError(std::string(step.status().message()).c_str());
  Tensor x(DType::kI32, {w.batch, t}), y(DType::kI32, {w.batch, t});
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    x.i32()[i] = static_cast<int32_t>((i * 7919) % w.config.vocab_size);
    y.i32()[i] = static_cast<int32_t>((i * 104729 + 3) % w.config.vocab_size);
  }
  if (!(*step)->Step(x, y, 1e-3).ok()) return state.SkipWithError("step failed");  // warm-up
  for (auto _ : state) {
    if (!(*step)->Step(x, y, 1e-3).ok()) state.SkipWithError("step failed");
  }
  const Executor& exec = (*step)->executor();
  state.counters["tokens_per_second"] = benchmark::Counter(w.batch * t, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["arena_MB"] = exec.stats().arena_bytes / 1e6;
  SetFlopCounters(state, exec.stats().flops_per_run, bf16);
}

// Sampling as //models:generate does (temperature 0.8, top_k 200), one sequence with a key/value
// cache: a 1-token prompt and block_size - 1 new tokens, so the context never outgrows the block
// (what compare_peers.py's PyTorch loop does too). Weights: the model's initialization.
void GptGenerate(benchmark::State& state, const GptWorkload& w, bool bf16) {
  Graph g(1);
  models::Gpt(g, g.Input("ids", DType::kI32, {1, 1}), w.config);
  std::map<std::string, Tensor> weights;
  for (Value p : g.parameters()) weights[g.name(p)] = g.parameter_value(p).Clone();
  auto generator = models::GptGenerator::Create(w.config, weights, bf16);
  if (!generator.ok()) return state.SkipWithError(std::string(generator.status().message()).c_str());
  const int64_t new_tokens = w.config.block_size - 1;
  // Each Generate starts a new sequence on the same cache: new_tokens decoding steps (the prompt
  // token's, and one per sampled token but the last).
  for (auto _ : state) {
    if (!(*generator)->Generate({0}, new_tokens, {}).ok()) state.SkipWithError("generation failed");
  }
  state.counters["tokens_per_second"] = benchmark::Counter(new_tokens, benchmark::Counter::kIsIterationInvariantRate);
}

void RegisterGpt(const std::string& name, const GptWorkload& w) {
  for (bool bf16 : {false, true}) {
    const std::string precision = bf16 ? "/bf16" : "/f32";
    benchmark::RegisterBenchmark(("BM_GPTTrainStep/" + name + precision).c_str(),
                                 [=](benchmark::State& state) { GptTrainStep(state, w, bf16); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(3.0);
    benchmark::RegisterBenchmark(("BM_GPTGenerate/" + name + precision).c_str(),
                                 [=](benchmark::State& state) { GptGenerate(state, w, bf16); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2.0);
  }
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

RunFn Training(std::string freeze = "", bool freeze_bn = false, Workload w = {}) {
  return [=](benchmark::State& s, const models::ModelFn& b, bool bf16) { TrainStep(s, b, bf16, freeze, freeze_bn, w); };
}

RunFn Inferring(Workload w = {}) {
  return [=](benchmark::State& s, const models::ModelFn& b, bool bf16) { Inference(s, b, bf16, w); };
}

// A registered model's builder (the torchvision-form ones are not in models.h), looked up when it
// runs: models register at static initialization too, in an order this file does not control.
models::ModelFn Registered(const std::string& name) {
  return [name](Graph& g, Value images, const models::ModelOptions& options) {
    return (*models::FindModel(name))->build(g, images, options);
  };
}

[[maybe_unused]] const bool registered = [] {
  Register("BM_AlexNetTrainStep/seed", Training(), models::AlexNetSeed, 3.0);
  Register("BM_AlexNetTrainStep/cifar", Training(), models::AlexNetCifar, 3.0);
  Register("BM_AlexNetInference/seed", Inferring(), models::AlexNetSeed, 2.0);
  Register("BM_AlexNetInference/cifar", Inferring(), models::AlexNetCifar, 2.0);
  // ResNet-20: BatchNorm in training mode for the step, running statistics for inference.
  Register("BM_ResNet20TrainStep", Training(), models::ResNet20, 3.0);
  Register("BM_ResNet20Inference", Inferring(), models::ResNet20, 2.0);
  // Fine-tuning: the stem and the first two stages frozen, or everything but the classifier.
  Register("BM_ResNet20TrainStep/freeze_to_layer2", Training("^(conv1|bn1|layer1|layer2)\\.", false), models::ResNet20, 3.0);
  Register("BM_ResNet20TrainStep/freeze_all_but_fc_bn", Training("^(?!fc\\.)", true), models::ResNet20, 3.0);
  // The modern blocks at ImageNet size, batch 32: depthwise convolutions with ReLU6 (MobileNetV2),
  // 7x7 depthwise convolutions, LayerNorm and GELU (ConvNeXt-Tiny).
  Register("BM_MobileNetV2TrainStep", Training("", false, kImageNetSize), Registered("mobilenet_v2"), 3.0);
  Register("BM_MobileNetV2Inference", Inferring(kImageNetSize), Registered("mobilenet_v2"), 2.0);
  Register("BM_ConvNeXtTinyTrainStep", Training("", false, kImageNetSize), Registered("convnext_tiny"), 3.0);
  Register("BM_ConvNeXtTinyInference", Inferring(kImageNetSize), Registered("convnext_tiny"), 2.0);
  // nanoGPT's CPU configuration (its README: shakespeare_char on a laptop, dropout 0) and
  // shakespeare_char's own (dropout 0.2).
  RegisterGpt("nanogpt_cpu",
              {{.vocab_size = 65, .block_size = 64, .n_layer = 4, .n_head = 4, .n_embd = 128, .dropout = 0.0}, 12});
  RegisterGpt("shakespeare_char",
              {{.vocab_size = 65, .block_size = 256, .n_layer = 6, .n_head = 6, .n_embd = 384, .dropout = 0.2}, 64});
  return true;
}();

}  // namespace
}  // namespace dlf::bench
