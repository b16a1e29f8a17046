#include "data/dataset.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "data/image.h"
#include "graph/status_macros.h"

namespace dlf::data {

Dataset Slice(const Dataset& in, int64_t begin, int64_t end) {
  Dataset out;
  out.labels.assign(in.labels.begin() + begin, in.labels.begin() + end);
  out.num_classes = in.num_classes;
  out.class_names = in.class_names;
  out.description = absl::StrCat(in.description, " [", begin, ", ", end, ")");
  if (in.streamed()) {
    out.files = std::make_shared<const std::vector<std::string>>(in.files->begin() + begin, in.files->begin() + end);
    out.file_shape = in.file_shape;
    return out;
  }
  const int64_t image_bytes = in.channels() * in.height() * in.width();
  out.images = Tensor(DType::kU8, {end - begin, in.channels(), in.height(), in.width()});
  std::memcpy(out.images.raw(), in.images.u8() + begin * image_bytes, (end - begin) * image_bytes);
  return out;
}

absl::StatusOr<Dataset> FitToShape(const Dataset& in, int64_t channels, int64_t height,
                                   int64_t width) {
  if (channels <= 0 || height <= 0 || width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("image shape must be positive, found [",
                                                   channels, ", ", height, ", ", width, "]"));
  }
  Dataset out;
  out.labels = in.labels;
  out.num_classes = in.num_classes;
  out.class_names = in.class_names;
  out.description = in.description;
  if (in.streamed()) {
    out.files = in.files;
    out.file_shape = {channels, height, width};
    return out;
  }
  if (in.channels() == channels && in.height() == height && in.width() == width) {
    out.images = in.images.Clone();
    return out;
  }
  const int64_t n = in.size(), image_bytes = channels * height * width;
  out.images = Tensor(DType::kU8, {n, channels, height, width});
  const uint8_t* src = static_cast<const uint8_t*>(in.images.raw());
  const int64_t src_bytes = in.channels() * in.height() * in.width();
  for (int64_t i = 0; i < n; ++i) {
    const Image image = FromPlanar(src + i * src_bytes, in.channels(), in.height(), in.width());
    DLF_ASSIGN_OR_RETURN(const Image fitted, FitImage(image, channels, height, width));
    ToPlanar(fitted, out.images.u8() + i * image_bytes);
  }
  return out;
}

}  // namespace dlf::data
