#ifndef DLF_GRAPH_RANDOM_H_
#define DLF_GRAPH_RANDOM_H_

#include <cstdint>

namespace dlf {

// SplitMix64 (Steele, Lea, Flood 2014): a strong 64-bit mix. Every seed derived anywhere in
// the framework (dropout streams, shuffles, augmentation draws) goes through this one function.
inline uint64_t SplitMix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace dlf

#endif  // DLF_GRAPH_RANDOM_H_
