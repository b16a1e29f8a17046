#ifndef DLF_GRAPH_BF16_H_
#define DLF_GRAPH_BF16_H_

// bfloat16: the upper half of an f32. Conversions are branch-free so loops over them vectorize.
#include <cstdint>
#include <cstring>

namespace dlf {

// Round to nearest even; NaN stays NaN.
inline uint16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  return static_cast<uint16_t>(nan ? (u >> 16) | 0x40u : rounded);
}

inline float FromBf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace dlf

#endif  // DLF_GRAPH_BF16_H_
