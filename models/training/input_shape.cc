#include "models/training/input_shape.h"

#include "absl/algorithm/container.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/graph.h"
#include "graph/status_macros.h"

namespace dlf::training {
namespace {

// A network file may leave sizes open (0), which the flag then gives; it must agree with the
// sizes the file fixes.
absl::StatusOr<models::ModelSpec> WithInputShape(const models::ModelSpec& spec, const std::vector<std::string>& flag) {
  models::ModelSpec out = spec;
  const bool open = absl::c_count(spec.input_shape, 0) > 0;
  if (flag.empty()) {
    if (!open) return out;
    return absl::InvalidArgumentError(absl::StrCat(spec.description, ": give --input_shape=C,H,W"));
  }
  std::vector<int64_t> shape;
  for (const std::string& d : flag) {
    int64_t v = 0;
    shape.push_back(absl::SimpleAtoi(d, &v) ? v : -1);
  }
  const std::string given = absl::StrJoin(flag, ",");
  if (shape.size() != 3 || absl::c_count_if(shape, [](int64_t v) { return v <= 0; }) > 0) {
    return absl::InvalidArgumentError(absl::StrCat("--input_shape must be C,H,W (three sizes > 0), found '", given, "'"));
  }
  for (int i = 0; i < 3; ++i) {
    if (spec.input_shape[i] != 0 && spec.input_shape[i] != shape[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--input_shape=", given, " does not fit ", spec.name, ", whose input is [",
          absl::StrJoin(spec.input_shape, ", "), "] (0: open)"));
    }
  }
  out.input_shape = shape;
  return out;
}

// The shapes of the model's parameters for one image of `shape`.
absl::StatusOr<std::vector<Shape>> ParameterShapes(const models::ModelSpec& spec, const std::vector<int64_t>& shape) {
  Graph g;
  spec.build(g, g.Input("images", DType::kF32, {1, shape[0], shape[1], shape[2]}), {});
  if (!g.status().ok()) return g.status();
  std::vector<Shape> shapes;
  for (Value p : g.parameters()) shapes.push_back(g.shape(p));
  return shapes;
}

}  // namespace

absl::StatusOr<models::ModelSpec> ResolveInputShape(const models::ModelSpec& spec,
                                                    const std::vector<std::string>& input_shape,
                                                    int64_t crop_size) {
  absl::StatusOr<models::ModelSpec> out = WithInputShape(spec, input_shape);
  if (!out.ok() || crop_size == 0) return out;
  DLF_RETURN_IF_ERROR(CheckCropSize(spec, crop_size, "train_crop_size"));
  out->input_shape = {out->input_shape[0], crop_size, crop_size};
  return out;
}

absl::Status CheckCropSize(const models::ModelSpec& spec, int64_t crop_size, const std::string& flag) {
  if (crop_size <= 0) return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be > 0, found ", crop_size));
  const std::vector<int64_t> shape = {spec.input_shape[0], crop_size, crop_size};
  // A model takes another size when its parameters keep their shapes (its pooling is global);
  // AlexNet's classifier would grow with the image instead.
  const absl::StatusOr<std::vector<Shape>> at_own = ParameterShapes(spec, spec.input_shape);
  const absl::StatusOr<std::vector<Shape>> at_crop = ParameterShapes(spec, shape);
  if (!at_own.ok() || !at_crop.ok() || *at_own != *at_crop) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "=", crop_size, ": ", spec.name, " takes ", spec.input_shape[1], "x", spec.input_shape[2],
        " images only (its classifier's size depends on the image's; models ending in global pooling, as resnet18, "
        "take any size)"));
  }
  return absl::OkStatus();
}

}  // namespace dlf::training
