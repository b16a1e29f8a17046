// Forward and backward of every AlexNet layer shape at batch 128 (both presets), in f32 and
// bf16, and the SGD update of the whole seed model. Each reports GFLOP/s and its share of the
// machine's peak in its precision (benchmarks/peak.h). GFLOP/s counts a layer's nominal FLOPs, every kernel tap of a direct
// convolution: where a kernel does less work (Winograd, or the seed preset's 3x3 convs on 1x1
// maps, which run on the centre tap only) the figure can pass the peak.
// And a GPT layer's attention, fused and composed (BM_Attention).
//   bazel run //benchmarks:ops_benchmark
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/peak.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "optim/optimizer.h"
#include "ops/ops.h"

namespace dlf::bench {
namespace {

constexpr int64_t kBatch = 128;

// One layer as a graph: its forward plan and its backward plan given dy. As in training, the
// input x and dy are fed at each run while the weights are parameters (not copied in each
// run), and the backward computes d/dweights, plus d/dx unless the layer is a first layer (x is
// the images, which need no gradient).
struct LayerPlans {
  Graph graph;
  Value x, dy;
  Tensor x_value, dy_value;
  std::unique_ptr<Executor> forward, backward;
  std::vector<Feed> feeds;
};

using LayerFn = std::function<Value(Graph&, const std::vector<Value>&)>;

// shapes[0] is x's, the rest are the weights'.
std::unique_ptr<LayerPlans> MakePlans(const std::vector<Shape>& shapes, bool first_layer,
                                      const LayerFn& layer, bool bf16 = false) {
  auto p = std::make_unique<LayerPlans>();
  Graph& g = p->graph;
  p->x = g.Input("x", DType::kF32, shapes[0]);
  p->x_value = Tensor(DType::kF32, shapes[0]);
  p->x_value.Fill(0.01f);
  std::vector<Value> inputs = {p->x}, wrt;
  if (!first_layer) wrt.push_back(p->x);
  for (size_t i = 1; i < shapes.size(); ++i) {
    inputs.push_back(g.Parameter("w" + std::to_string(i), shapes[i],
                                 Initializer::Constant(0.01f * static_cast<float>(i + 1))));
    wrt.push_back(inputs.back());
  }
  Value y = layer(g, inputs);
  p->dy = g.Input("dy", DType::kF32, g.shape(y));
  p->dy_value = Tensor(DType::kF32, g.shape(y));
  p->dy_value.Fill(0.001f);
  auto grads = Gradients(g, y, wrt, p->dy);
  if (!g.status().ok() || !grads.ok()) std::abort();
  p->forward = *Executor::Compile(g, {y}, {.bf16 = bf16});
  p->backward = *Executor::Compile(g, *grads, {.bf16 = bf16});
  p->feeds = {{p->x, &p->x_value}, {p->dy, &p->dy_value}};
  return p;
}

void RunPlan(benchmark::State& state, Executor& exec, const std::vector<Feed>& feeds, double flops,
             bool bf16 = false) {
  bf16 ? Bf16PeakGflops() : PeakGflops();  // measured before timing starts
  for (auto _ : state) {
    if (!exec.Run(feeds).ok()) state.SkipWithError("run failed");
  }
  if (flops > 0) SetFlopCounters(state, flops, bf16);
}

// A layer's forward and backward benchmarks, in f32 and bf16 (BM_Conv/seed.conv1/forward/bf16).
void RegisterLayer(const std::string& name, double forward_flops, double backward_flops,
                   const std::function<std::unique_ptr<LayerPlans>(bool bf16)>& make) {
  for (bool bf16 : {false, true}) {
    auto plans = std::make_shared<std::unique_ptr<LayerPlans>>();
    auto get = [=]() -> LayerPlans& {
      if (!*plans) *plans = make(bf16);
      return **plans;
    };
    const std::string precision = bf16 ? "/bf16" : "/f32";
    benchmark::RegisterBenchmark((name + "/forward" + precision).c_str(), [=](benchmark::State& s) {
      RunPlan(s, *get().forward, get().feeds, forward_flops, bf16);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((name + "/backward" + precision).c_str(), [=](benchmark::State& s) {
      RunPlan(s, *get().backward, get().feeds, backward_flops, bf16);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

struct ConvLayer {
  const char* name;
  int64_t c, hw, o, k, stride, pad;
};

struct FcLayer {
  const char* name;
  int64_t in, out;
};

struct PoolLayer {
  const char* name;
  int64_t c, hw, k, stride, pad;
};

const ConvLayer kConvs[] = {
    {"seed.conv1", 3, 32, 96, 11, 4, 2},   {"seed.conv2", 96, 3, 256, 5, 1, 2},
    {"seed.conv3", 256, 1, 384, 3, 1, 1},  {"seed.conv4", 384, 1, 384, 3, 1, 1},
    {"seed.conv5", 384, 1, 256, 3, 1, 1},  {"cifar.conv1", 3, 32, 32, 3, 1, 1},
    {"cifar.conv2", 32, 16, 96, 3, 1, 1},  {"cifar.conv3", 96, 8, 192, 3, 1, 1},
    {"cifar.conv4", 192, 8, 128, 3, 1, 1}, {"cifar.conv5", 128, 8, 128, 3, 1, 1},
};
const FcLayer kFcs[] = {{"seed.fc1", 256, 4096},   {"seed.fc2", 4096, 4096},
                        {"seed.fc3", 4096, 10},    {"cifar.fc1", 2048, 1024},
                        {"cifar.fc2", 1024, 1024}, {"cifar.fc3", 1024, 10}};
const PoolLayer kPools[] = {{"seed.pool1", 96, 7, 3, 2, 0},   {"seed.pool2", 256, 3, 3, 2, 0},
                            {"seed.pool3", 256, 1, 3, 2, 1},  {"cifar.pool1", 32, 32, 2, 2, 0},
                            {"cifar.pool2", 96, 16, 2, 2, 0}, {"cifar.pool3", 128, 8, 2, 2, 0}};

void RegisterConv(const ConvLayer& l) {
  const int64_t out = (l.hw + 2 * l.pad - l.k) / l.stride + 1;
  const double flops = 2.0 * kBatch * l.o * out * out * l.c * l.k * l.k;
  const bool first = l.c == 3;  // takes the images
  RegisterLayer(std::string("BM_Conv/") + l.name, flops, first ? flops : 2 * flops, [l, first](bool bf16) {
    return MakePlans({{kBatch, l.c, l.hw, l.hw}, {l.o, l.c, l.k, l.k}, {l.o}}, first,
                     [l](Graph& g, const std::vector<Value>& in) {
                       return ops::Conv2D(g, in[0], in[1], in[2], {{l.stride, l.stride}, {l.pad, l.pad}});
                     }, bf16);
  });
}

void RegisterFc(const FcLayer& l) {
  const double flops = 2.0 * kBatch * l.in * l.out;
  RegisterLayer(std::string("BM_Linear/") + l.name, flops, 2 * flops, [l](bool bf16) {
    return MakePlans({{kBatch, l.in}, {l.out, l.in}, {l.out}}, false,
                     [](Graph& g, const std::vector<Value>& in) { return ops::Linear(g, in[0], in[1], in[2]); },
                     bf16);
  });
}

// Pooling moves memory rather than computing: it reports time only. Its backward plan also
// runs the forward, which produces the workspace the backward reads.
void RegisterPool(const PoolLayer& l) {
  auto plans = std::make_shared<std::unique_ptr<LayerPlans>>();
  auto get = [=]() -> LayerPlans& {
    if (!*plans) {
      *plans = MakePlans({{kBatch, l.c, l.hw, l.hw}}, false, [l](Graph& g, const std::vector<Value>& in) {
        return ops::MaxPool2D(g, in[0], {{l.k, l.k}, {l.stride, l.stride}, {l.pad, l.pad}, false});
      });
    }
    return **plans;
  };
  benchmark::RegisterBenchmark((std::string("BM_MaxPool/") + l.name + "/forward").c_str(),
                               [=](benchmark::State& s) { RunPlan(s, *get().forward, get().feeds, 0); })
      ->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark((std::string("BM_MaxPool/") + l.name + "/forward+backward").c_str(),
                               [=](benchmark::State& s) { RunPlan(s, *get().backward, get().feeds, 0); })
      ->UseRealTime()->Unit(benchmark::kMillisecond);
}

// SGD with momentum over the seed AlexNet's 21.6 M parameters: a memory-bound pass reading
// parameter, gradient and velocity and writing two of them (20 bytes per parameter).
void BM_SgdMomentumUpdate(benchmark::State& state) {
  const std::vector<Shape> shapes = {{96, 3, 11, 11},  {256, 96, 5, 5}, {384, 256, 3, 3},
                                     {384, 384, 3, 3}, {256, 384, 3, 3}, {4096, 256},
                                     {4096, 4096},     {10, 4096}};
  std::vector<optim::ParamSpec> specs;
  std::vector<Tensor> params, grads;
  int64_t n = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    specs.push_back({"p" + std::to_string(i), shapes[i]});
    params.emplace_back(DType::kF32, shapes[i]);
    grads.emplace_back(DType::kF32, shapes[i]);
    grads.back().Fill(0.001f);
    n += NumElements(shapes[i]);
  }
  auto opt = optim::MakeSgd(specs, {.momentum = 0.9});
  std::vector<Tensor*> p;
  std::vector<const Tensor*> g;
  for (size_t i = 0; i < shapes.size(); ++i) p.push_back(&params[i]), g.push_back(&grads[i]);
  for (auto _ : state) {
    if (!(*opt)->Step(p, g, 0.01).ok()) state.SkipWithError("step failed");
  }
  state.counters["params"] = static_cast<double>(n);
  state.counters["GB/s"] = benchmark::Counter(20.0 * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgdMomentumUpdate)->UseRealTime()->Unit(benchmark::kMillisecond);

// A GPT layer's causal self-attention, forward and backward in one plan as in training, fused
// (FusedAttention: scores in scratch, recomputed by the backward) or composed (the weights kept
// for the backward): time, and the plan's intermediate values (arena_MB) and scratch.
struct AttentionShape {
  const char* name;
  int64_t batch, heads, t, head_dim;
};
constexpr AttentionShape kAttentions[] = {
    {"nanogpt_cpu", 12, 4, 64, 32}, {"block128", 12, 4, 128, 32}, {"shakespeare_char", 64, 6, 256, 64}};

void BM_Attention(benchmark::State& state, AttentionShape a, bool composed) {
  Graph g;
  const Shape shape = {a.batch, a.heads, a.t, a.head_dim};
  std::vector<Value> qkv;
  std::vector<Tensor> values;
  std::vector<Feed> feeds;
  for (const char* name : {"q", "k", "v", "dy"}) {
    qkv.push_back(g.Input(name, DType::kF32, shape));
    values.emplace_back(DType::kF32, shape);
    values.back().Fill(0.01f);
  }
  const Value y = ops::ScaledDotProductAttention(g, qkv[0], qkv[1], qkv[2], {.causal = true,
                                                             .kernel = composed ? ops::AttentionOptions::Kernel::kComposed
                                                                                : ops::AttentionOptions::Kernel::kFused});
  auto grads = Gradients(g, y, {qkv[0], qkv[1], qkv[2]}, qkv[3]);
  if (!g.status().ok() || !grads.ok()) return state.SkipWithError("building the attention failed");
  std::vector<Value> fetches = {y};
  fetches.insert(fetches.end(), grads->begin(), grads->end());
  auto exec = Executor::Compile(g, fetches, {});
  if (!exec.ok()) return state.SkipWithError(std::string(exec.status().message()).c_str());
  for (size_t i = 0; i < qkv.size(); ++i) feeds.push_back({qkv[i], &values[i]});
  for (auto _ : state) {
    if (!(*exec)->Run(feeds).ok()) return state.SkipWithError("run failed");
  }
  state.counters["arena_MB"] = static_cast<double>((*exec)->stats().arena_bytes) / 1e6;
  state.counters["scratch_MB"] = static_cast<double>((*exec)->stats().scratch_bytes) / 1e6;
  state.counters["tokens_per_second"] =
      benchmark::Counter(static_cast<double>(a.batch * a.t), benchmark::Counter::kIsIterationInvariantRate);
}

[[maybe_unused]] const bool registered = [] {
  for (const AttentionShape& a : kAttentions) {
    for (const bool composed : {false, true}) {
      benchmark::RegisterBenchmark((std::string("BM_Attention/") + a.name + (composed ? "/composed" : "/fused")).c_str(),
                                   [=](benchmark::State& s) { BM_Attention(s, a, composed); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const ConvLayer& l : kConvs) RegisterConv(l);
  for (const FcLayer& l : kFcs) RegisterFc(l);
  for (const PoolLayer& l : kPools) RegisterPool(l);
  return true;
}();

}  // namespace
}  // namespace dlf::bench
