// benchmarks/onednn_kernels (the timer benchmarks/compare_onednn.py runs in each oneDNN): every
// primitive kind dlf's steps log is rebuilt from its verbose line and timed; what it cannot
// rebuild is named, never a crash.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf {
namespace {

using ::testing::HasSubstr;

// Lines as 2.6.3's ONEDNN_VERBOSE prints them for dlf's steps (from the kind on), small sizes.
const std::vector<std::string>& KnownLines() {
  static const auto* lines = new std::vector<std::string>{
      "convolution,jit:avx512_core,forward_training,src_f32::blocked:aBcd16b:f0 wei_f32::blocked:ABcd16b16a:f0 "
      "bia_f32::blocked:a:f0 dst_f32::blocked:aBcd16b:f0,attr-post-ops:eltwise_relu ,alg:convolution_direct,"
      "mb4_ic16oc32_ih8oh4kh3sh2dh0ph1_iw8ow4kw3sw2dw0pw1",
      "convolution,jit_wino_4x3:avx512_core,backward_data,src_f32::blocked:aBcd16b:f0 wei_f32::blocked:ABcd16b16a:f0 "
      "bia_undef::undef::f0 dst_f32::blocked:aBcd16b:f0,,alg:convolution_winograd,"
      "mb4_ic16oc16_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1",
      "convolution,jit:avx512_core,backward_weights,src_f32::blocked:abcd:f0 wei_f32::blocked:Acdb16a:f0 "
      "bia_f32::blocked:a:f0 dst_f32::blocked:aBcd16b:f0,,alg:convolution_direct,"
      "mb4_ic3oc16_ih12oh3kh5sh4dh0ph2_iw12ow3kw5sw4dw0pw2",
      "batch_normalization,bnorm_jit:avx512_core,forward_training,data_f32::blocked:aBcd16b:f0 "
      "diff_undef::undef::f0,,flags:CHR,mb4ic16ih8iw8",
      "batch_normalization,bnorm_jit:avx512_core,backward,data_f32::blocked:aBcd16b:f0 "
      "diff_f32::blocked:aBcd16b:f0,,flags:CH,mb4ic16ih8iw8",
      "pooling_v2,jit:avx512_core,forward_training,src_f32::blocked:aBcd16b:f0 dst_f32::blocked:aBcd16b:f0 "
      "ws_u8::blocked:aBcd16b:f0,attr-post-ops:eltwise_relu ,alg:pooling_max,"
      "mb4ic16_ih7oh3kh3sh2dh0ph0_iw7ow3kw3sw2dw0pw0",
      "pooling_v2,jit:avx512_core,backward_data,src_f32::blocked:aBcd16b:f0 dst_f32::blocked:aBcd16b:f0 "
      "ws_u8::blocked:aBcd16b:f0,,alg:pooling_max,mb4ic16_ih8oh4kh2sh2dh0ph0_iw8ow4kw2sw2dw0pw0",
      "eltwise,jit:avx512_core,backward_data,data_f32::blocked:aBcd16b:f0 diff_f32::blocked:aBcd16b:f0,,"
      "alg:eltwise_relu_use_dst_for_bwd alpha:0 beta:0,4x16x8x8",
      "binary,jit:uni,undef,src_f32::blocked:aBcd16b:f0 src_f32::blocked:aBcd16b:f0 dst_f32::blocked:aBcd16b:f0,,"
      "alg:binary_add,4x16x8x8:4x16x8x8",
      "matmul,brg:avx512_core,undef,src_f32::blocked:ab:f0 wei_f32::blocked:ba:f0 bia_f32::blocked:ab:f0_mask2 "
      "dst_f32::blocked:ab:f0,attr-post-ops:eltwise_relu ,,4x64:64x10:4x10",
      "matmul,brg:avx512_core,undef,src_f32::blocked:ab:f0 wei_f32:p:blocked:BA16a64b:f0 "
      "bia_f32::blocked:ab:f0_mask2 dst_f32::blocked:ab:f0,,,4x64:64x10:4x10",  // packed for inference
      "inner_product,x64:gemm:jit,backward_weights,src_f32::blocked:ab:f0 wei_f32::blocked:ab:f0 "
      "bia_f32::blocked:a:f0 dst_f32::blocked:ab:f0,,,mb4ic64oc10",
  };
  return *lines;
}

std::string WriteLines(const std::string& name, const std::vector<std::string>& lines) {
  const std::string path = testing::TempDir("onednn_kernels_test") + "/" + name;
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
  return path;
}

std::vector<std::vector<std::string>> Rows(const std::string& output) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream row(line);
    for (std::string field; std::getline(row, field, '\t');) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

testing::ProcessResult RunKernels(const std::vector<std::string>& args) {
  return testing::RunProcess(testing::BinaryPath("benchmarks/onednn_kernels"), args);
}

TEST(OnednnKernelsTest, RebuildsAndTimesEveryKindOfDlfsSteps) {
  const auto result = RunKernels({"--seconds=0", "--min_runs=2", WriteLines("known.txt", KnownLines())});
  ASSERT_EQ(result.exit_code(), 0) << result.output;
  const auto rows = Rows(result.output);
  ASSERT_EQ(rows.size(), KnownLines().size()) << result.output;
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 3u) << result.output;
    EXPECT_EQ(rows[i][0], std::to_string(i + 1));
    EXPECT_THAT(rows[i][1], ::testing::Not(HasSubstr("unsupported"))) << KnownLines()[i];
    const double ms = std::stod(rows[i][2]);
    EXPECT_TRUE(std::isfinite(ms) && ms > 0) << rows[i][2] << " for " << KnownLines()[i];
  }
}

TEST(OnednnKernelsTest, WhatItCannotRebuildIsNamedPerLine) {
  const std::vector<std::string> lines = {
      "lrn,jit:avx512_core,forward_training,src_f32::blocked:aBcd16b:f0,,alg:lrn_across_channels,mb4ic16ih8iw8",
      "convolution,jit:avx512_core",
      "convolution,jit:avx512_core,forward_training,src_f32::blocked:aBcd16b:f0 wei_f32::blocked:x:f0 "
      "dst_f32::blocked:aBcd16b:f0,,alg:convolution_direct,mb4_ic16",
      "eltwise,jit:avx512_core,forward_training,data_f32::blocked:ABcd16a16b:f0,,alg:eltwise_relu,4x16x8x8",
  };
  const auto result = RunKernels({"--seconds=0", WriteLines("bad.txt", lines)});
  ASSERT_EQ(result.exit_code(), 0) << result.output;
  const auto rows = Rows(result.output);
  ASSERT_EQ(rows.size(), lines.size()) << result.output;
  EXPECT_EQ(rows[0][1], "unsupported: primitive kind lrn");
  EXPECT_EQ(rows[1][1], "unsupported: expected 7 fields, found 2");
  EXPECT_THAT(rows[2][1], HasSubstr("unsupported: cannot parse"));
  EXPECT_EQ(rows[3][1], "unsupported: memory format ABcd16a16b");
  for (const auto& row : rows) EXPECT_EQ(row[2], "nan");
}

TEST(OnednnKernelsTest, BadArgumentsAreNamed) {
  auto result = RunKernels({"--bogus"});
  EXPECT_EQ(result.exit_code(), 2);
  EXPECT_THAT(result.output, HasSubstr("unknown argument '--bogus'"));
  result = RunKernels({testing::TempDir("onednn_kernels_dir")});
  EXPECT_EQ(result.exit_code(), 1);
  EXPECT_THAT(result.output, HasSubstr("found a directory"));
  result = RunKernels({"/nonexistent/lines.txt"});
  EXPECT_EQ(result.exit_code(), 1);
  EXPECT_THAT(result.output, HasSubstr("expected a file of oneDNN verbose lines at '/nonexistent/lines.txt'"));
}

}  // namespace
}  // namespace dlf
