// libFuzzer target: arbitrary bytes as an ONNX model file, imported as dlf's --model=net.onnx
// does (the protobuf parse, the signature checks, and a build of the network on a graph) and
// as any network for inference (onnx_import::BuildNetwork).
#include <cstdint>
#include <string>

#include "tests/fuzz/onnx_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  dlf::fuzz::ImportBothWays(bytes, "fuzz.onnx");
  return 0;
}
