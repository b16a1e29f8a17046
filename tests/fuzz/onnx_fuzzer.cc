// libFuzzer target: arbitrary bytes as an ONNX model file, imported as dlf's --model=net.onnx
// does (the protobuf parse, the signature checks, and a build of the network on a graph).
#include <cstdint>
#include <string>

#include "models/onnx/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dlf::models::ModelSpec> spec = dlf::onnx_import::ParseModel(bytes, "fuzz.onnx");
  return spec.ok() ? 0 : 0;
}
