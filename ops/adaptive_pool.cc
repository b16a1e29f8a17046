// AdaptiveAvgPool2D: average pooling to a given output size, with PyTorch's windows. Our own
// loops: oneDNN pools with one kernel size and stride, and these windows vary in size (and
// overlap) when the output size does not divide the input's.
#include <algorithm>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

// Output position i of `out` averages inputs [floor(i * in / out), ceil((i + 1) * in / out)).
struct Windows {
  std::vector<int64_t> begin, end;
};

Windows AdaptiveWindows(int64_t in, int64_t out) {
  Windows w;
  for (int64_t i = 0; i < out; ++i) {
    w.begin.push_back(i * in / out);
    w.end.push_back(((i + 1) * in + out - 1) / out);
  }
  return w;
}

absl::StatusOr<std::vector<int64_t>> OutputSize(const Attrs& attrs) {
  DLF_ASSIGN_OR_RETURN(std::vector<int64_t> size, GetPair(attrs, "output_size", 1));
  DLF_RETURN_IF_ERROR(Expect(size[0] > 0 && size[1] > 0,
                             absl::StrCat("output_size must be positive, found ", size[0], "x", size[1])));
  return size;
}

absl::StatusOr<std::vector<ValueInfo>> AdaptiveShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 4, "x [n, c, h, w]"));
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> size, OutputSize(ctx.attrs));
  const Shape& x = ctx.inputs[0].shape;
  return std::vector<ValueInfo>{{DType::kF32, {x[0], x[1], size[0], size[1]}}};
}

absl::StatusOr<std::vector<ValueInfo>> AdaptiveBackwardShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(Shape x, ctx.attrs.Get<std::vector<int64_t>>("input_shape"));
  return std::vector<ValueInfo>{{DType::kF32, x}};
}

// Calls visit(plane, input offset in the plane, output offset in the plane, 1 / window size)
// for every (input, output) pair of every window, plane by plane in parallel.
template <typename Visit>
void ForEachWindowElement(const Shape& x, const Shape& y, Visit visit) {
  const Windows rows = AdaptiveWindows(x[2], y[2]), cols = AdaptiveWindows(x[3], y[3]);
  const int64_t planes = x[0] * x[1];
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < y[2]; ++oh) {
      for (int64_t ow = 0; ow < y[3]; ++ow) {
        const float inv = 1.0f / static_cast<float>((rows.end[oh] - rows.begin[oh]) * (cols.end[ow] - cols.begin[ow]));
        for (int64_t h = rows.begin[oh]; h < rows.end[oh]; ++h) {
          for (int64_t w = cols.begin[ow]; w < cols.end[ow]; ++w) visit(p, h * x[3] + w, oh * y[3] + ow, inv);
        }
      }
    }
  }
}

// Forward (y += x / window size over each window) and backward (dx += dy / window size, for
// every window an input element lies in) are the same loop with the roles swapped.
KernelFactory AdaptiveKernel(bool backward) {
  return [backward](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    const Shape x = backward ? k.outputs[0].shape : k.inputs[0].shape;
    const Shape y = backward ? k.inputs[0].shape : k.outputs[0].shape;
    return std::make_unique<FunctionKernel>([x, y, backward](RunContext& ctx) {
      const float* in = In(ctx, 0);
      float* out = Out(ctx);
      const int64_t x_plane = x[2] * x[3], y_plane = y[2] * y[3];
      std::fill_n(out, Size(ctx), 0.0f);
      ForEachWindowElement(x, y, [&](int64_t p, int64_t xi, int64_t yi, float inv) {
        if (backward) {
          out[p * x_plane + xi] += in[p * y_plane + yi] * inv;
        } else {
          out[p * y_plane + yi] += in[p * x_plane + xi] * inv;
        }
      });
      return absl::OkStatus();
    });
  };
}

absl::StatusOr<std::vector<Value>> AdaptiveGrad(GradContext& c) {
  Attrs attrs = c.node.attrs;
  attrs.Set("input_shape", c.graph.shape(c.node.inputs[0]));
  return std::vector<Value>{c.graph.Op1("AdaptiveAvgPool2DBackward", {c.output_grads[0]}, attrs)};
}

[[maybe_unused]] const bool registered =
    (RegisterOpOrDie({"AdaptiveAvgPool2D", 1, AdaptiveShape, AdaptiveKernel(false), AdaptiveGrad}),
     RegisterOpOrDie({"AdaptiveAvgPool2DBackward", 1, AdaptiveBackwardShape, AdaptiveKernel(true), nullptr}), true);

}  // namespace

Value AdaptiveAvgPool2D(Graph& g, Value x, std::vector<int64_t> output_size) {
  return g.Op1("AdaptiveAvgPool2D", {x}, {{"output_size", std::move(output_size)}});
}

}  // namespace dlf::ops
