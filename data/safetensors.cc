#include "data/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "data/file_io.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"

namespace dlf::data {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100 << 20;
constexpr int64_t kMaxFileBytes = int64_t{64} << 30;

const char* DTypeTag(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
    case DType::kU8:
      return "U8";
    case DType::kBF16:
      return "BF16";
  }
  return "?";
}

absl::StatusOr<DType> ParseDType(const std::string& tag) {
  if (tag == "F32") return DType::kF32;
  if (tag == "I32") return DType::kI32;
  if (tag == "U8") return DType::kU8;
  if (tag == "I64") return DType::kI64;
  return absl::InvalidArgumentError("unsupported dtype '" + tag + "' (expected F32, I32, I64 or U8)");
}

absl::Status WriteAll(const std::string& path, const std::string& header,
                             const TensorFile& file) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  auto write_all = [fd](const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  bool ok = write_all(len, 8) && write_all(header.data(), header.size());
  for (const auto& [name, t] : file.tensors) ok = ok && write_all(t.raw(), t.num_bytes());
  ok = ::close(fd) == 0 && ok;
  if (!ok) return absl::DataLossError(absl::StrCat(path, ": write failed: ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, const TensorFile& file) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    header[name] = {{"dtype", DTypeTag(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + t.num_bytes()}}};
    offset += t.num_bytes();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // aligns the data to 8 bytes, as the reference writer does
  const std::string tmp = path + ".tmp";
  if (absl::Status s = WriteAll(tmp, text, file); !s.ok()) {
    std::remove(tmp.c_str());
    return s;
  }
  return CommitTempFile(tmp, path);
}

absl::StatusOr<TensorFile> ParseSafetensors(const std::string& bytes, const std::string& name) {
  auto error = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a valid safetensors file: ", what));
  };
  if (bytes.size() < 8) return error(absl::StrCat("only ", bytes.size(), " bytes"));
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8) {
    return error(absl::StrCat("header length ", header_len, " exceeds the file (", bytes.size(), " bytes)"));
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_start;
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + static_cast<int64_t>(data_start));
  } catch (const json::exception& e) {
    return error(absl::StrCat("header is not JSON (", e.what(), ")"));
  }
  if (!header.is_object()) return error("header is not a JSON object");
  TensorFile file;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const json& entry = it.value();
    if (it.key() == "__metadata__") {
      if (!entry.is_object()) return error("__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) return error("metadata value '" + m.key() + "' is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
        !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2) {
      return error("tensor '" + it.key() + "' needs dtype, shape and data_offsets [begin, end]");
    }
    absl::StatusOr<DType> dtype = ParseDType(entry["dtype"].get<std::string>());
    if (!dtype.ok()) return error("tensor '" + it.key() + "': " + std::string(dtype.status().message()));
    Shape shape;
    int64_t count = 1;
    for (const json& d : entry["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) {
        return error("tensor '" + it.key() + "' has a bad dimension");
      }
      shape.push_back(d.get<int64_t>());
      // Checked before multiplying, so the count cannot overflow.
      if (shape.back() != 0 && count > (int64_t{1} << 40) / shape.back()) {
        return error("tensor '" + it.key() + "' is too large");
      }
      count *= shape.back();
    }
    const json& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      return error("tensor '" + it.key() + "' has bad data_offsets");
    }
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    const uint64_t expected = static_cast<uint64_t>(count) * DTypeSize(*dtype);
    if (begin > end || end > data_size || end - begin != expected) {
      return error(absl::StrCat("tensor '", it.key(), "' ", ShapeString(shape), " needs ", expected,
                                " bytes but data_offsets [", begin, ", ", end, "] lie in ",
                                data_size, " bytes of data"));
    }
    Tensor t(*dtype, shape);
    if (expected > 0) std::memcpy(t.raw(), bytes.data() + data_start + begin, expected);
    file.tensors.emplace(it.key(), std::move(t));
  }
  return file;
}

absl::StatusOr<TensorFile> ReadSafetensors(const std::string& path) {
  DLF_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path, kMaxFileBytes));
  return ParseSafetensors(bytes, path);
}

}  // namespace dlf::data
