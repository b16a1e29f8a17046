#include "data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/file_io.h"
#include "graph/status_macros.h"

namespace dlf::data {
namespace {

constexpr int64_t kMaxIdxBytes = int64_t{4} << 30;  // larger is surely a corrupt header

int ExpectedRank(int32_t magic) {
  switch (magic) {
    case kIdxLabels:
      return 1;
    case kIdxGrayImages:
      return 3;
    case kIdxRgbImages:
      return 4;
  }
  return -1;
}

uint32_t BigEndian(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void PutBigEndian(uint32_t v, uint8_t* p) {
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}



}  // namespace

absl::StatusOr<IdxArray> ParseIdx(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size < 4) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", size,
                                                   " bytes, too short for an IDX header"));
  }
  IdxArray a;
  a.magic = static_cast<int32_t>(BigEndian(bytes));
  const int rank = ExpectedRank(a.magic);
  if (rank < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": magic number ", a.magic, ", expected 2049 (labels), 2051 (grayscale images) "
        "or 2052 (RGB images)"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (size < header) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": truncated header (", size,
                                                   " bytes, expected ", header, ")"));
  }
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    a.dims.push_back(BigEndian(bytes + 4 + 4 * i));
    // Checked before multiplying: two 32-bit dimensions can overflow int64.
    if (a.dims.back() != 0 && count > kMaxIdxBytes / a.dims.back()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": header describes more than 4 GiB"));
    }
    count *= a.dims.back();
  }
  const int64_t body = static_cast<int64_t>(size - header);
  if (body != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": header says ", count, " data bytes (dims ", ShapeString(a.dims), ") but the file has ",
        body, body < count ? " (truncated)" : " (trailing data)"));
  }
  a.data.assign(bytes + header, bytes + size);
  return a;
}

absl::StatusOr<IdxArray> DecodeIdx(const std::vector<uint8_t>& file, const std::string& name) {
  const std::string_view view(reinterpret_cast<const char*>(file.data()), file.size());
  if (!IsGzip(view)) return ParseIdx(file.data(), file.size(), name);
  DLF_ASSIGN_OR_RETURN(const std::string bytes, Gunzip(view, name, kMaxIdxBytes));
  return ParseIdx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
}

absl::StatusOr<IdxArray> ReadIdx(const std::string& path) {
  DLF_ASSIGN_OR_RETURN(const std::string file, ReadFile(path, kMaxIdxBytes));
  return DecodeIdx(std::vector<uint8_t>(file.begin(), file.end()), path);
}

absl::Status WriteIdx(const std::string& path, const IdxArray& a) {
  if (ExpectedRank(a.magic) != static_cast<int>(a.dims.size())) {
    return absl::InvalidArgumentError(absl::StrCat("IDX magic ", a.magic, " does not match rank ",
                                                   a.dims.size()));
  }
  std::vector<uint8_t> header(4 + 4 * a.dims.size());
  PutBigEndian(static_cast<uint32_t>(a.magic), header.data());
  for (size_t i = 0; i < a.dims.size(); ++i) {
    PutBigEndian(static_cast<uint32_t>(a.dims[i]), header.data() + 4 + 4 * i);
  }
  const std::string tmp = path + ".tmp";
  const bool gz = absl::EndsWith(path, ".gz");
  gzFile f = gzopen(tmp.c_str(), gz ? "wb6" : "wbT");  // T: plain, uncompressed
  if (f == nullptr) return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot create"));
  const bool ok = gzwrite(f, header.data(), header.size()) == static_cast<int>(header.size()) &&
                  (a.data.empty() ||
                   gzwrite(f, a.data.data(), a.data.size()) == static_cast<int>(a.data.size()));
  if (gzclose(f) != Z_OK || !ok) {
    std::remove(tmp.c_str());
    return absl::DataLossError(absl::StrCat(tmp, ": write failed"));
  }
  return CommitTempFile(tmp, path);
}

absl::StatusOr<Dataset> LoadIdxDataset(const std::string& images_path,
                                       const std::string& labels_path, int num_classes) {
  DLF_ASSIGN_OR_RETURN(const IdxArray images, ReadIdx(images_path));
  if (images.magic == kIdxLabels) {
    return absl::InvalidArgumentError(absl::StrCat(images_path,
                                                   ": holds labels (magic 2049), expected images"));
  }
  DLF_ASSIGN_OR_RETURN(const IdxArray labels, ReadIdx(labels_path));
  if (labels.magic != kIdxLabels) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": magic ", labels.magic,
                                                   ", expected 2049 (labels)"));
  }
  const int64_t n = images.dims[0];
  if (labels.dims[0] != n) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": ", labels.dims[0],
                                                   " labels for ", n, " images in ", images_path));
  }
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat(images_path, ": holds no images"));
  Dataset d;
  const bool rgb = images.magic == kIdxRgbImages;
  const Shape shape = rgb ? Shape{n, images.dims[1], images.dims[2], images.dims[3]}
                          : Shape{n, 1, images.dims[1], images.dims[2]};
  d.images = Tensor(DType::kU8, shape);
  std::memcpy(d.images.u8(), images.data.data(), images.data.size());
  d.num_classes = num_classes;
  d.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    if (labels.data[i] >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", int{labels.data[i]},
                                                     " at index ", i, " is outside [0, ",
                                                     num_classes, ")"));
    }
    d.labels[i] = labels.data[i];
  }
  d.description = absl::StrCat(images_path, " (", n, " images)");
  return d;
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, bool train) {
  const std::string prefix = dir + (train ? "/train" : "/t10k");
  DLF_ASSIGN_OR_RETURN(Dataset d, LoadIdxDataset(prefix + "-images-idx3-ubyte.gz",
                                                 prefix + "-labels-idx1-ubyte.gz", 10));
  d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  d.description = absl::StrCat("Fashion-MNIST ", train ? "train" : "test", " (", d.size(),
                               " images)");
  return d;
}

}  // namespace dlf::data
