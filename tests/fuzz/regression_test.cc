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
#include "tests/fuzz/onnx_entry.h"

namespace dlf {
namespace {

namespace fs = std::filesystem;

// The files of one reader: the seed corpus (valid files, which must parse) and the inputs a
// fuzzer once crashed on (each a value or a clear error naming the file).
struct Inputs {
  std::vector<std::string> seeds, regressions;
};

std::vector<std::string> FilesIn(const fs::path& dir) {
  std::vector<std::string> files;
  if (fs::is_directory(dir)) {
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  }
  return files;
}

Inputs InputsOf(const std::string& reader) {
  return {FilesIn(fs::path("tests/fuzz/corpus") / reader), FilesIn(fs::path("tests/fuzz/regressions") / reader)};
}

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<uint8_t> Bytes(const std::string& path) {
  const std::string s = Contents(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// A refusal must name the file it refuses.
void ExpectNamesTheFile(const absl::Status& s, const std::string& f) {
  EXPECT_NE(s.message().find(f), std::string::npos) << s;
}

TEST(FuzzRegressionTest, Cifar10) {
  const Inputs in = InputsOf("cifar10");
  ASSERT_FALSE(in.seeds.empty());
  for (const std::string& f : in.seeds) {
    absl::StatusOr<data::Dataset> d = data::ParseCifar10(Bytes(f), f);
    ASSERT_TRUE(d.ok()) << f << ": a seed must parse: " << d.status();
    EXPECT_EQ(d->size(), static_cast<int64_t>(Bytes(f).size() / 3073)) << f;  // 1 label + 3x32x32 bytes each
    EXPECT_EQ(d->images.dim(0), d->size()) << f;
  }
  for (const std::string& f : in.regressions) {
    absl::StatusOr<data::Dataset> d = data::ParseCifar10(Bytes(f), f);
    if (d.ok()) {
      EXPECT_EQ(d->images.dim(0), d->size()) << f;
    } else {
      ExpectNamesTheFile(d.status(), f);
    }
  }
}

void CheckIdx(const std::string& f, const absl::StatusOr<data::IdxArray>& a) {
  int64_t count = 1;
  for (int64_t d : a->dims) count *= d;
  EXPECT_EQ(count, static_cast<int64_t>(a->data.size())) << f;
}

TEST(FuzzRegressionTest, Idx) {
  const Inputs in = InputsOf("idx");
  ASSERT_FALSE(in.seeds.empty());
  for (const std::string& f : in.seeds) {  // plain and gzip'd
    absl::StatusOr<data::IdxArray> a = data::DecodeIdx(Bytes(f), f);
    ASSERT_TRUE(a.ok()) << f << ": a seed must parse: " << a.status();
    CheckIdx(f, a);
  }
  for (const std::string& f : in.regressions) {
    absl::StatusOr<data::IdxArray> a = data::DecodeIdx(Bytes(f), f);
    if (a.ok()) {
      CheckIdx(f, a);
    } else {
      ExpectNamesTheFile(a.status(), f);
    }
  }
}

TEST(FuzzRegressionTest, Safetensors) {
  const Inputs in = InputsOf("safetensors");
  ASSERT_FALSE(in.seeds.empty());
  for (const std::string& f : in.seeds) {
    absl::StatusOr<data::TensorFile> t = data::ParseSafetensors(Contents(f), f);
    ASSERT_TRUE(t.ok()) << f << ": a seed must parse: " << t.status();
    EXPECT_FALSE(t->tensors.empty()) << f;
  }
  for (const std::string& f : in.regressions) {
    absl::StatusOr<data::TensorFile> t = data::ParseSafetensors(Contents(f), f);
    if (!t.ok()) ExpectNamesTheFile(t.status(), f);
  }
}

// Seeds are dlf's image classifiers (they import as --model=net.onnx does) and ONNX's node test
// cases of the ops the import takes (they build as networks for inference).
TEST(FuzzRegressionTest, Onnx) {
  const Inputs in = InputsOf("onnx");
  ASSERT_FALSE(in.seeds.empty());
  for (const std::string& f : in.seeds) {
    const fuzz::OnnxImportResults r = fuzz::ImportBothWays(Contents(f), f);
    EXPECT_TRUE(r.classifier.ok() || r.network.ok())
        << f << ": a seed must import: " << r.classifier << "; " << r.network;
    absl::StatusOr<models::ModelSpec> spec = onnx_import::ParseModel(Contents(f), f);
    if (spec.ok()) EXPECT_EQ(spec->input_shape.size(), 3u) << f;
  }
  for (const std::string& f : in.regressions) {
    const fuzz::OnnxImportResults r = fuzz::ImportBothWays(Contents(f), f);
    if (!r.classifier.ok()) ExpectNamesTheFile(r.classifier, f);
    if (!r.network.ok()) ExpectNamesTheFile(r.network, f);
  }
}

}  // namespace
}  // namespace dlf
