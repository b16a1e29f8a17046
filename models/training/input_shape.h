#ifndef DLF_MODELS_TRAINING_INPUT_SHAPE_H_
#define DLF_MODELS_TRAINING_INPUT_SHAPE_H_

// The image size a run trains at: the model's own, what --input_shape gives a network file that
// leaves sizes open, or --train_crop_size for a model whose pooling is global.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/registry.h"

namespace dlf::training {

// `input_shape`: the flag's C,H,W items (empty: not given); `crop_size`: 0 when not given.
// A model that does not build at the asked size (a classifier of fixed size, as AlexNet's) is
// an error naming the size it takes.
absl::StatusOr<models::ModelSpec> ResolveInputShape(const models::ModelSpec& spec,
                                                    const std::vector<std::string>& input_shape,
                                                    int64_t crop_size);

// An error unless `spec` takes crop_size x crop_size images with the parameters it has at its
// own size (global pooling); `flag` names the flag in the error.
absl::Status CheckCropSize(const models::ModelSpec& spec, int64_t crop_size, const std::string& flag);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_INPUT_SHAPE_H_
