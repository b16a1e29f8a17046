// Replays the fuzzers' seed corpus and every input a fuzzer once crashed on through the same
// readers, in the ordinary build: each must come back as a value or a clear error.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/safetensors.h"
#include "gtest/gtest.h"
#include "models/onnx/import.h"

namespace dlf {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> FilesIn(const std::string& reader) {
  std::vector<std::string> files;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path("tests/fuzz") / kind / reader;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  }
  return files;
}

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<uint8_t> Bytes(const std::string& path) {
  const std::string s = Contents(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

TEST(FuzzRegressionTest, Cifar10) {
  const std::vector<std::string> files = FilesIn("cifar10");
  ASSERT_FALSE(files.empty());
  for (const std::string& f : files) {
    absl::StatusOr<data::Dataset> d = data::ParseCifar10(Bytes(f), f);
    if (d.ok()) EXPECT_EQ(d->images.dim(0), d->size()) << f;
    else EXPECT_NE(d.status().message().find(f), std::string::npos) << d.status();
  }
}

TEST(FuzzRegressionTest, Idx) {
  const std::vector<std::string> files = FilesIn("idx");
  ASSERT_FALSE(files.empty());
  int decoded = 0;
  for (const std::string& f : files) {
    absl::StatusOr<data::IdxArray> a = data::DecodeIdx(Bytes(f), f);
    if (!a.ok()) {
      EXPECT_NE(a.status().message().find(f), std::string::npos) << a.status();
      continue;
    }
    ++decoded;
    int64_t count = 1;
    for (int64_t d : a->dims) count *= d;
    EXPECT_EQ(count, static_cast<int64_t>(a->data.size())) << f;
  }
  EXPECT_GT(decoded, 0) << "the seed corpus holds valid files, plain and gzip'd";
}

TEST(FuzzRegressionTest, Safetensors) {
  const std::vector<std::string> files = FilesIn("safetensors");
  ASSERT_FALSE(files.empty());
  for (const std::string& f : files) {
    absl::StatusOr<data::TensorFile> t = data::ParseSafetensors(Contents(f), f);
    if (!t.ok()) EXPECT_NE(t.status().message().find(f), std::string::npos) << t.status();
  }
}

TEST(FuzzRegressionTest, Onnx) {
  const std::vector<std::string> files = FilesIn("onnx");
  ASSERT_FALSE(files.empty());
  int imported = 0;
  for (const std::string& f : files) {
    absl::StatusOr<models::ModelSpec> spec = onnx_import::ParseModel(Contents(f), f);
    if (!spec.ok()) {
      EXPECT_NE(spec.status().message().find(f), std::string::npos) << spec.status();
      continue;
    }
    ++imported;
    EXPECT_EQ(spec->input_shape.size(), 3u) << f;
  }
  EXPECT_GT(imported, 0) << "the seed corpus holds valid networks";
}

}  // namespace
}  // namespace dlf
