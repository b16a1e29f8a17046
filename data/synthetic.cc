#include "data/synthetic.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace dlf::data {

Dataset MakeSyntheticDataset(int64_t count, int64_t channels, int64_t size, int num_classes,
                             uint64_t seed) {
  Dataset d;
  d.images = Tensor(DType::kU8, {count, channels, size, size});
  d.num_classes = num_classes;
  d.description = absl::StrCat("synthetic (", count, " images)");
  for (int k = 0; k < num_classes; ++k) d.class_names.push_back(absl::StrCat("class ", k));
  std::mt19937_64 rng(seed);
  const int64_t square = std::max<int64_t>(2, size / 4);
  const int64_t cells = std::max<int64_t>(1, size / square);
  for (int64_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(rng() % num_classes);
    d.labels.push_back(label);
    const int64_t top = (label / cells) % cells * square, left = label % cells * square;
    uint8_t* img = d.images.u8() + i * channels * size * size;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < size; ++y)
        for (int64_t x = 0; x < size; ++x) {
          const bool inside = y >= top && y < top + square && x >= left && x < left + square;
          const int base = inside ? 160 + 90 * ((label + c) % 2) : 0;
          img[(c * size + y) * size + x] = static_cast<uint8_t>(base + rng() % 64);
        }
  }
  return d;
}

}  // namespace dlf::data
