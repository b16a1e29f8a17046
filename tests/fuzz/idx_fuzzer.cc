// libFuzzer target: arbitrary bytes as an IDX file, plain or gzip'd (by its magic bytes).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  absl::StatusOr<dlf::data::IdxArray> a = dlf::data::DecodeIdx(bytes, "fuzz.idx");
  if (a.ok()) {
    int64_t count = 1;
    for (int64_t d : a->dims) count *= d;
    if (count != static_cast<int64_t>(a->data.size())) std::abort();
  }
  return 0;
}
