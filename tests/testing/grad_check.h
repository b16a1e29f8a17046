#ifndef DLF_TESTS_TESTING_GRAD_CHECK_H_
#define DLF_TESTS_TESTING_GRAD_CHECK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graph/executor.h"
#include "graph/graph.h"
#include "graph/tensor.h"

namespace dlf::testing {

// Deterministic test data.
Tensor RandomTensor(Shape shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
// Values in random order, all at least `gap` apart: max-pool and ReLU inputs with no ties or
// values near a kink, so finite differences are valid.
Tensor SpacedTensor(Shape shape, uint64_t seed, float gap = 0.05f, bool avoid_zero = true);

// Builds a model from its inputs and returns its output.
using BuildFn = std::function<Value(Graph&, const std::vector<Value>&)>;

struct GradCheckOptions {
  double eps = 1e-2;        // central-difference step
  double rtol = 2e-2;       // |analytic - numeric| <= atol + rtol * max(|a|, |n|)
  double atol = 2e-3;
  int max_checks_per_input = 200;  // elements checked per input (a deterministic sample)
};

// Compares the autodiff gradients of loss = sum(build(inputs) * R) (R a fixed random tensor)
// with respect to every f32 input against central finite differences, with gtest expectations.
void ExpectGradientsMatch(const BuildFn& build, const std::vector<const Tensor*>& inputs,
                          GradCheckOptions options = {});

// Runs build(inputs) forward once (training mode, step 0) and returns a copy of its output.
Tensor RunForward(const BuildFn& build, const std::vector<const Tensor*>& inputs,
                  bool training = true);

// Runs build(inputs) with `options` (e.g. bf16 compute): returns the output, then the
// gradients of loss = sum(output * R) with respect to every f32 input, in input order.
std::vector<Tensor> RunForwardAndBackward(const BuildFn& build,
                                          const std::vector<const Tensor*>& inputs,
                                          ExecutorOptions options);

// For a reduced-precision path: every tensor of `actual` differs from `expected` by at most
// `rtol` times the largest |expected| of that tensor; returns the largest such ratio.
double ExpectTensorsNearScaled(const std::vector<Tensor>& actual,
                               const std::vector<Tensor>& expected, double rtol);

// Asserts the two tensors have the same shape and close values.
void ExpectTensorNear(const Tensor& actual, const Tensor& expected, float tol);

// |actual - expected| / |expected| in the L2 norm: how far one f32 tensor is from another.
double RelativeError(const Tensor& actual, const Tensor& expected);

// Compiles `fetches` of `g` with `options`, runs it once on `feeds` and returns copies of the
// fetched values (empty, with a test failure, if compiling or running fails); `profile`, if
// given, receives the executor's ProfileReport().
std::vector<Tensor> CompileRunFetch(Graph& g, const std::vector<Value>& fetches, ExecutorOptions options,
                                    const std::vector<Feed>& feeds, std::string* profile = nullptr);

// Every element of every tensor of `actual` equals `expected`'s, bit for bit (a test failure
// names the first that does not).
void ExpectSameValues(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected);

}  // namespace dlf::testing

#endif  // DLF_TESTS_TESTING_GRAD_CHECK_H_
