#include "data/dataset.h"

#include <algorithm>

namespace dlf::data {

Dataset PadAndReplicate(const Dataset& in, int64_t size, int64_t channels) {
  Dataset out;
  out.labels = in.labels;
  out.num_classes = in.num_classes;
  out.class_names = in.class_names;
  out.description = in.description;
  const int64_t n = in.size(), c = in.channels(), h = in.height(), w = in.width();
  const int64_t top = (size - h) / 2, left = (size - w) / 2;
  out.images = Tensor(DType::kU8, {n, channels, size, size});  // zero-filled
  const uint8_t* src = static_cast<const uint8_t*>(in.images.raw());
  uint8_t* dst = out.images.u8();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < channels; ++ch) {
      const uint8_t* plane = src + (i * c + std::min(ch, c - 1)) * h * w;
      uint8_t* out_plane = dst + (i * channels + ch) * size * size;
      for (int64_t y = 0; y < h; ++y) {
        std::copy_n(plane + y * w, w, out_plane + (y + top) * size + left);
      }
    }
  return out;
}

}  // namespace dlf::data
