#ifndef DLF_DATA_PNG_H_
#define DLF_DATA_PNG_H_

// PNG through libpng's simplified API (Debian's libpng-dev): about 1.3x stb's speed on photos
// (a 500x375 photo: 3.5-3.7 ms against 4.7-4.8 ms). 16-bit samples become 8-bit by their high
// byte (as stb does); 8-bit alpha is dropped, not composited (as stb and Pillow's
// convert("RGB")); 16-bit color with alpha comes out premultiplied (libpng's linear formats).

#include <string>

#include "absl/status/statusor.h"
#include "data/image.h"

namespace dlf::data {

bool IsPng(const std::string& bytes);

// 1 channel (gray, gray + alpha) or 3 (color, color + alpha, palette). Errors name `name`.
absl::StatusOr<Image> DecodePng(const std::string& bytes, const std::string& name);

}  // namespace dlf::data

#endif  // DLF_DATA_PNG_H_
