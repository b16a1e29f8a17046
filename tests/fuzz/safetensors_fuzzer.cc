// libFuzzer target: arbitrary bytes as a safetensors checkpoint.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dlf::data::TensorFile> f = dlf::data::ParseSafetensors(bytes, "fuzz.safetensors");
  if (f.ok()) {
    for (const auto& [name, t] : f->tensors) {
      if (t.num_bytes() > size) std::abort();  // data must come from the file
    }
  }
  return 0;
}
