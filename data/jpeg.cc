#include "data/jpeg.h"

// jpeglib.h needs FILE and size_t declared first.
#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dlf::data {
namespace {

// libjpeg reports errors by calling error_exit, which must not return: it jumps back.
struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void ErrorExit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void IgnoreMessage(j_common_ptr, int) {}  // corrupt-data warnings: decode what is there, as Pillow

struct Request {
  int eighths = 8;
  bool header_only = false;
  const PixelRegion* region = nullptr;
};

struct Result {
  JpegHeader header;
  Image image;
  PixelRegion origin;
};

// Everything with a destructor lives outside: longjmp skips none.
bool Decode(const std::string& bytes, const Request& request, Result& result, std::vector<uint8_t>& row,
            ErrorManager& errors) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = ErrorExit;
  errors.base.emit_message = IgnoreMessage;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(&cinfo, TRUE);
  result.header = {cinfo.image_height, cinfo.image_width, cinfo.jpeg_color_space == JCS_GRAYSCALE};
  if (request.header_only || static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > kMaxImagePixels) {
    jpeg_destroy_decompress(&cinfo);
    return true;
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = result.header.gray ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
  cinfo.scale_num = std::clamp(request.eighths, 1, 8);
  cinfo.scale_denom = 8;
  jpeg_start_decompress(&cinfo);
  JDIMENSION left = 0, width = cinfo.output_width;
  JDIMENSION top = 0, height = cinfo.output_height;
  if (request.region != nullptr) {
    const PixelRegion& r = *request.region;
    left = static_cast<JDIMENSION>(r.left);
    width = static_cast<JDIMENSION>(r.width);
    if (width < cinfo.output_width) jpeg_crop_scanline(&cinfo, &left, &width);  // widened to whole blocks
    top = static_cast<JDIMENSION>(r.top);
    height = static_cast<JDIMENSION>(r.height);
    if (top > 0) jpeg_skip_scanlines(&cinfo, top);
  }
  const int channels = cinfo.output_components;
  Image& out = result.image;
  out = Image{height, width, cmyk ? 3 : channels, {}};
  out.pixels.resize(static_cast<size_t>(height) * width * out.channels);
  row.resize(static_cast<size_t>(width) * channels);
  for (JDIMENSION y = 0; y < height; ++y) {
    JSAMPROW rows[1] = {row.data()};
    jpeg_read_scanlines(&cinfo, rows, 1);
    uint8_t* dst = &out.pixels[static_cast<size_t>(y) * width * out.channels];
    if (!cmyk) {
      std::copy(row.begin(), row.end(), dst);
      continue;
    }
    // Adobe stores CMYK inverted; Pillow's conversion then gives R = C + K - 255 (clipped).
    for (JDIMENSION x = 0; x < width; ++x) {
      const int k = row[4 * x + 3];
      for (int c = 0; c < 3; ++c) dst[3 * x + c] = static_cast<uint8_t>(std::max(0, row[4 * x + c] + k - 255));
    }
  }
  result.origin = {top, left, height, width};
  jpeg_abort_decompress(&cinfo);  // the rows below the region are not needed
  jpeg_destroy_decompress(&cinfo);
  return true;
}

absl::StatusOr<Result> Run(const std::string& bytes, const std::string& name, const Request& request) {
  Result result;
  std::vector<uint8_t> row;
  ErrorManager errors;
  if (!Decode(bytes, request, result, row, errors)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a readable JPEG (libjpeg-turbo: ", errors.message, ")"));
  }
  if (result.header.height * result.header.width > kMaxImagePixels) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", result.header.width, "x", result.header.height,
                                                   " pixels; at most ", kMaxImagePixels, " are decoded"));
  }
  return result;
}

}  // namespace

bool IsJpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF && static_cast<uint8_t>(bytes[1]) == 0xD8 &&
         static_cast<uint8_t>(bytes[2]) == 0xFF;
}

absl::StatusOr<JpegHeader> ReadJpegHeader(const std::string& bytes, const std::string& name) {
  absl::StatusOr<Result> r = Run(bytes, name, {.header_only = true});
  if (!r.ok()) return r.status();
  return r->header;
}

int JpegScaleEighths(int64_t region_h, int64_t region_w, int64_t need_h, int64_t need_w) {
  // libjpeg-turbo has SIMD inverse DCTs for 1/8, 1/4, 1/2 and 1 only: 3/8, 5/8 ... run in plain
  // C and cost more than a full-size decode.
  for (int m : {1, 2, 4}) {
    if (region_h * m >= need_h * 8 && region_w * m >= need_w * 8) return m;
  }
  return 8;
}

int64_t JpegScaledSize(int64_t size, int eighths) { return (size * eighths + 7) / 8; }

absl::StatusOr<Image> DecodeJpeg(const std::string& bytes, const std::string& name, int eighths,
                                 const PixelRegion* region, PixelRegion* origin) {
  absl::StatusOr<Result> r = Run(bytes, name, {.eighths = eighths, .region = region});
  if (!r.ok()) return r.status();
  if (origin != nullptr) *origin = r->origin;
  return std::move(r->image);
}

}  // namespace dlf::data
