#ifndef DLF_DATA_SYNTHETIC_H_
#define DLF_DATA_SYNTHETIC_H_

#include <cstdint>

#include "data/dataset.h"

namespace dlf::data {

// A learnable, generated image set: each class has its own bright square at a fixed place and
// its own colour, on uniform noise. For smoke runs and tests: a model that learns drives the
// loss far below log(num_classes) in a few hundred images.
Dataset MakeSyntheticDataset(int64_t count, int64_t channels, int64_t size, int num_classes,
                             uint64_t seed);

}  // namespace dlf::data

#endif  // DLF_DATA_SYNTHETIC_H_
