// Checks that the system libraries link and work: oneDNN runs a tiny convolution, Abseil
// status and flags behave.
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "oneapi/dnnl/dnnl.hpp"

ABSL_FLAG(int, smoke_value, 7, "a flag to check absl flags link");

namespace {

TEST(ToolchainSmoke, OneDnnConvolutionMatchesHandSum) {
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  // 1x1x3x3 input of ones, 1x1x2x2 kernel of [1 2; 3 4] -> each output is 10.
  dnnl::memory::desc src_md({1, 1, 3, 3}, dt::f32, tag::nchw);
  dnnl::memory::desc wei_md({1, 1, 2, 2}, dt::f32, tag::oihw);
  dnnl::memory::desc dst_md({1, 1, 2, 2}, dt::f32, tag::nchw);
  std::vector<float> src(9, 1.0f), wei = {1, 2, 3, 4}, dst(4, 0.0f);
  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, wei_md,
      dst_md, {1, 1}, {0, 0}, {0, 0});
  dnnl::convolution_forward::primitive_desc pd(desc, engine);
  dnnl::memory src_mem(src_md, engine, src.data());
  dnnl::memory wei_mem(wei_md, engine, wei.data());
  dnnl::memory dst_mem(dst_md, engine, dst.data());
  dnnl::convolution_forward(pd).execute(
      stream, {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, dst_mem}});
  stream.wait();
  for (float v : dst) EXPECT_FLOAT_EQ(v, 10.0f);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

TEST(ToolchainSmoke, AbslStatusAndFlags) {
  EXPECT_EQ(*Half(8), 4);
  EXPECT_EQ(Half(3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(absl::GetFlag(FLAGS_smoke_value), 7);
  absl::SetFlag(&FLAGS_smoke_value, 9);
  EXPECT_EQ(absl::GetFlag(FLAGS_smoke_value), 9);
}

}  // namespace
