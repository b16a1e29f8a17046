#ifndef DLF_DATA_IMAGE_FOLDER_H_
#define DLF_DATA_IMAGE_FOLDER_H_

// torchvision's ImageFolder convention: ROOT/<class>/<image>, the class index being the
// position of the class folder's name in sorted order. Images (.jpg .jpeg .png .bmp, any case)
// are listed, not read: the loader streams them.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace dlf::data {

struct ImageFolderListing {
  Dataset dataset;              // streamed (files set); file_shape is the caller's to set
  int64_t ignored_files = 0;    // files with other extensions
};

// Lists `root`; hidden files and folders (a leading '.') are skipped. Errors: `root` missing
// or not a folder, no class folders, a class folder without images.
absl::StatusOr<ImageFolderListing> ListImageFolder(const std::string& root);

// Whether `path` names an image the folder reader takes.
bool IsImageFileName(const std::string& path);

}  // namespace dlf::data

#endif  // DLF_DATA_IMAGE_FOLDER_H_
