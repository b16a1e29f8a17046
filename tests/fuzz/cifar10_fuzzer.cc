// libFuzzer target: arbitrary bytes as a CIFAR-10 binary file. Any outcome but a crash, a leak,
// a sanitizer report or a hang is fine; a Dataset that comes back must be self-consistent.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data/cifar10.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  absl::StatusOr<dlf::data::Dataset> d = dlf::data::ParseCifar10(bytes, "fuzz.bin");
  if (d.ok() && d->images.dim(0) != d->size()) std::abort();
  return 0;
}
