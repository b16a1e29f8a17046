// The linear layers' backward passes on oneDNN's two GEMM-shaped primitives, per AlexNet layer
// at batch 128, in f32 and bf16 (operands bf16, results f32): the inner product's backward
// (what oneDNN offers for a fully connected layer) and a matmul on the same plain tensors (dx =
// dy W; dW = dy^T x). ops/matmul.cc runs each backward on the one that measured faster.
//   bazel run //benchmarks:linear_benchmark
// The counter "impl" is not a number: the label names the implementation oneDNN dispatched.
#include <cstring>
#include <string>
#include <unordered_map>

#include "benchmark/benchmark.h"
#include "benchmarks/peak.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace dlf::bench {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::dim kBatch = 128;

struct Layer {
  const char* name;
  memory::dim in, out;
};
const Layer kLayers[] = {{"seed.fc1", 256, 4096},    {"seed.fc2", 4096, 4096}, {"seed.fc3", 4096, 10},
                         {"cifar.fc1", 2048, 1024}, {"cifar.fc2", 1024, 1024}, {"cifar.fc3", 1024, 10}};

const dnnl::engine& Engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Runs `primitive` with fresh memory for each argument's descriptor.
void Time(benchmark::State& state, const dnnl::primitive& primitive,
          const std::unordered_map<int, memory::desc>& args, const char* impl, double flops, bool bf16) {
  dnnl::stream stream(Engine());
  std::unordered_map<int, memory> memories;
  for (const auto& [arg, desc] : args) memories.emplace(arg, memory(desc, Engine()));
  for (auto& [arg, m] : memories) std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
  primitive.execute(stream, memories);  // warm-up
  for (auto _ : state) primitive.execute(stream, memories);
  stream.wait();
  state.SetLabel(impl);
  SetFlopCounters(state, flops, bf16);
}

void Register(const Layer& l, bool bf16) {
  const auto compute = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  const auto f32 = memory::data_type::f32;
  const memory::desc x({kBatch, l.in}, compute, Tag::ab), w({l.out, l.in}, compute, Tag::ab);
  const memory::desc dy({kBatch, l.out}, compute, Tag::ab), dy_t({l.out, kBatch}, compute, Tag::ba);
  const memory::desc dx({kBatch, l.in}, f32, Tag::ab), dw({l.out, l.in}, f32, Tag::ab);
  const memory::desc db({l.out}, f32, Tag::a), y({kBatch, l.out}, f32, Tag::ab);
  const double flops = 2.0 * kBatch * l.in * l.out;
  const std::string name = std::string(l.name) + (bf16 ? "/bf16" : "/f32");
  using namespace dnnl;
  const auto add = [&](const std::string& what, primitive p, std::unordered_map<int, memory::desc> args,
                       const char* impl) {
    benchmark::RegisterBenchmark(("BM_LinearBackward/" + name + "/" + what).c_str(),
                                 [=](benchmark::State& s) { Time(s, p, args, impl, flops, bf16); })
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  inner_product_forward::primitive_desc hint({prop_kind::forward_training, x, w, db, y}, Engine());
  inner_product_backward_data::primitive_desc ip_data({dx, w, dy}, Engine(), hint);
  inner_product_backward_weights::primitive_desc ip_weights({x, dw, db, dy}, Engine(), hint);
  matmul::primitive_desc mm_data({dy, w, dx}, Engine());
  matmul::primitive_desc mm_weights({dy_t, x, dw}, Engine());
  add("data/inner_product", inner_product_backward_data(ip_data),
      {{DNNL_ARG_DIFF_DST, ip_data.diff_dst_desc()}, {DNNL_ARG_WEIGHTS, ip_data.weights_desc()},
       {DNNL_ARG_DIFF_SRC, ip_data.diff_src_desc()}}, ip_data.impl_info_str());
  add("data/matmul", matmul(mm_data), {{DNNL_ARG_SRC, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dx}},
      mm_data.impl_info_str());
  // The inner product also sums db; the matmul path adds that loop (n x out additions).
  add("weights/inner_product", inner_product_backward_weights(ip_weights),
      {{DNNL_ARG_SRC, ip_weights.src_desc()}, {DNNL_ARG_DIFF_DST, ip_weights.diff_dst_desc()},
       {DNNL_ARG_DIFF_WEIGHTS, ip_weights.diff_weights_desc()}, {DNNL_ARG_DIFF_BIAS, db}},
      ip_weights.impl_info_str());
  add("weights/matmul", matmul(mm_weights), {{DNNL_ARG_SRC, dy_t}, {DNNL_ARG_WEIGHTS, x}, {DNNL_ARG_DST, dw}},
      mm_weights.impl_info_str());
}

[[maybe_unused]] const bool registered = [] {
  for (bool bf16 : {false, true}) {
    for (const Layer& l : kLayers) Register(l, bf16);
  }
  return true;
}();

}  // namespace
}  // namespace dlf::bench
