#include "data/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dlf::data {
namespace fs = std::filesystem;

bool IsImageFileName(const std::string& path) {
  const std::string ext = absl::AsciiStrToLower(fs::path(path).extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

namespace {

bool Hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

// The sorted entries of `dir` that are not hidden (errors become empty: the caller checks).
std::vector<fs::directory_entry> Entries(const fs::path& dir, std::error_code& ec) {
  std::vector<fs::directory_entry> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!Hidden(it->path())) out.push_back(*it);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path() < b.path(); });
  return out;
}

}  // namespace

absl::StatusOr<ImageFolderListing> ListImageFolder(const std::string& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) return absl::NotFoundError(absl::StrCat(root, ": no such folder"));
  if (!fs::is_directory(root, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(root, ": is a file, expected a folder of class folders"));
  }
  ImageFolderListing out;
  Dataset& d = out.dataset;
  auto files = std::make_shared<std::vector<std::string>>();
  std::vector<std::string> empty_classes;
  for (const fs::directory_entry& class_dir : Entries(root, ec)) {
    if (!class_dir.is_directory(ec)) {
      ++out.ignored_files;  // a file beside the class folders
      continue;
    }
    const int32_t label = static_cast<int32_t>(d.class_names.size());
    d.class_names.push_back(class_dir.path().filename().string());
    // Images may sit in sub-folders of a class folder, as ImageFolder's walk allows; sorted
    // as it sorts them (by folder, then name).
    std::vector<std::pair<std::string, std::string>> images;
    for (fs::recursive_directory_iterator it(class_dir.path(), fs::directory_options::follow_directory_symlink, ec), end;
         !ec && it != end; it.increment(ec)) {
      if (Hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory(ec)) continue;
      if (!IsImageFileName(it->path().string())) {
        ++out.ignored_files;
        continue;
      }
      images.push_back({it->path().parent_path().string(), it->path().filename().string()});
    }
    std::sort(images.begin(), images.end());
    for (const auto& [folder, name] : images) {
      files->push_back((fs::path(folder) / name).string());
      d.labels.push_back(label);
    }
    if (images.empty()) empty_classes.push_back(d.class_names.back());
  }
  if (ec) return absl::PermissionDeniedError(absl::StrCat(root, ": cannot list: ", ec.message()));
  if (d.class_names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        root, ": no class folders; expected ", root, "/<class>/<image> (.jpg .jpeg .png .bmp), as torchvision's ImageFolder"));
  }
  if (!empty_classes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(root, ": class folders without images (.jpg .jpeg .png .bmp): ",
                                                   absl::StrJoin(empty_classes, ", ")));
  }
  d.num_classes = static_cast<int>(d.class_names.size());
  d.description = absl::StrCat(root, " (", files->size(), " images, ", d.num_classes, " classes)");
  d.files = std::move(files);
  return out;
}

}  // namespace dlf::data
