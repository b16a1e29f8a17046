// Data-parallel costs: allreduce time by bucket size (f32 and bf16 on the wire), and one
// AlexNet training step with its gradient allreduce overlapped with the backward pass or not.
//
//   bazel build //benchmarks:distributed_benchmark
//   mpirun -np 2 bazel-bin/benchmarks/distributed_benchmark     # 2 ranks x 1 thread (bound)
//   bazel-bin/benchmarks/distributed_benchmark                  # 1 rank x 2 threads
//
// Every rank runs the same fixed iteration counts (collectives must match); rank 0 reports.
// images_per_second counts all ranks; comm_wait_ms is the part of a step spent waiting for
// the allreduce after the backward pass finished (what overlap did not hide).
#include <omp.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "data/dataset.h"
#include "graph/random.h"
#include "models/registry.h"
#include "models/training/distributed/communicator.h"
#include "models/training/trainer.h"

namespace dlf::training {
namespace {

Communicator* comm = nullptr;

void AbortOnError(const absl::Status& s) {
  if (!s.ok()) comm->Abort(s);
}

void BM_Allreduce(benchmark::State& state) {
  const int64_t bytes = state.range(0) << 20;
  const bool bf16 = state.range(1) == 1;
  std::vector<float> f32(bytes / 4, 1.0f);
  std::vector<uint16_t> wire(bytes / 4, 0x3f80);  // the same gradients as bf16: 1.0
  for (auto _ : state) {
    AbortOnError(bf16 ? comm->SumBf16(wire.data(), static_cast<int64_t>(wire.size()), "benchmark", 0)
                      : comm->SumF32({{f32.data(), static_cast<int64_t>(f32.size())}}, "benchmark", 0));
  }
  state.SetBytesProcessed(state.iterations() * bytes);  // f32 gradient bytes averaged per second
  state.SetLabel(absl::StrCat(comm->size(), " ranks, ", bf16 ? "bf16" : "f32", " on the wire"));
}
BENCHMARK(BM_Allreduce)
    ->ArgsProduct({{1, 4, 25, 86}, {0, 1}})
    ->ArgNames({"MB", "bf16"})
    ->Iterations(10)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// A synthetic data set of the model's input shape: step time does not depend on the pixels.
data::Dataset SyntheticData(const Shape& image, int64_t n) {
  data::Dataset d;
  d.images = Tensor(DType::kU8, {n, image[0], image[1], image[2]});
  uint64_t x = 1;
  for (int64_t i = 0; i < d.images.num_elements(); ++i) d.images.u8()[i] = static_cast<uint8_t>(SplitMix64(x++));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 10));
  d.num_classes = 10;
  d.description = "synthetic";
  return d;
}

// Arguments: overlap (0/1), bf16 on the wire (0/1).
void BM_AlexNetTrainStep(benchmark::State& state) {
  const models::ModelSpec* spec = *models::FindModel("alexnet-seed");
  constexpr int64_t kBatch = 128;
  const data::Dataset train = SyntheticData(spec->input_shape, kBatch);
  TrainConfig c = ConfigForModel(*spec, "synthetic", 10);
  c.batch_size = kBatch;
  c.verbose = false;
  c.comm = comm;
  c.reducer.overlap = state.range(0) == 1;
  c.reducer.bf16 = state.range(1) == 1;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, &train, nullptr);
  AbortOnError(trainer.status());
  const int64_t local = kBatch / comm->size();
  const Shape& s = spec->input_shape;
  data::Batch batch;
  batch.images = Tensor(DType::kF32, {local, s[0], s[1], s[2]});
  batch.images.Fill(0.5f);
  batch.labels = Tensor(DType::kI32, {local});
  for (int64_t i = 0; i < local; ++i) batch.labels.i32()[i] = static_cast<int32_t>(i % 10);
  batch.sample_offset = comm->rank() * local;
  AbortOnError((*trainer)->TrainStep(batch, 0.001));  // warm-up
  const double wait_before = (*trainer)->communication_wait_seconds();
  for (auto _ : state) AbortOnError((*trainer)->TrainStep(batch, 0.001));
  const double waited = (*trainer)->communication_wait_seconds() - wait_before;
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(kBatch * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["comm_wait_ms"] = 1e3 * waited / static_cast<double>(state.iterations());
  state.SetLabel(absl::StrCat(comm->size(), " ranks x ", omp_get_max_threads(), " threads, ",
                              c.reducer.overlap ? "overlapped" : "after backward", ", ",
                              c.reducer.bf16 ? "bf16" : "f32"));
}
BENCHMARK(BM_AlexNetTrainStep)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"overlap", "bf16"})
    ->Iterations(15)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

class NullReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace
}  // namespace dlf::training

int main(int argc, char** argv) {
  using dlf::training::Communicator;
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(120);
  if (!comm.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(comm.status().message()).c_str());
    return 1;
  }
  dlf::training::comm = comm->get();
  benchmark::Initialize(&argc, argv);
  if ((*comm)->is_root()) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    dlf::training::NullReporter quiet;
    benchmark::RunSpecifiedBenchmarks(&quiet);
  }
  return 0;
}
