// The input pipeline of image folders alone: read, decode (libjpeg-turbo, DCT-scaled), torchvision's
// RandomResizedCrop(224) + horizontal flip, normalize into batches of 64, as training consumes
// them; images/s for 1 and 2 decode threads.
//   bazel run -c opt //benchmarks:image_folder_benchmark -- [--data_dir=DIR]
// DIR: any folder in ImageFolder layout (DIR/<class>/<image>, or DIR/train/...). Without it, 512
// photo-like 500x375 JPEGs (ImageNet's typical size, quality 90) are made in
// /tmp/dlf_image_folder_benchmark, once; benchmarks/torchvision_pipeline.py times torchvision's
// ImageFolder + DataLoader on the same files.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/loader_timing.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "stb/stb_image_write.h"

namespace dlf::bench {
namespace {

std::string data_dir = "/tmp/dlf_image_folder_benchmark";  // NOLINT: set once in main

// Smooth gradients, a few shapes and mild noise: compresses and decodes like a photo.
void MakePhotos(const std::string& root, int count) {
  if (std::filesystem::exists(root + "/c3")) return;
  for (int i = 0; i < count; ++i) {
    const int w = 500, h = 375;
    std::vector<uint8_t> px(w * h * 3);
    uint32_t noise = 2654435761u * (i + 1);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        noise = noise * 1664525u + 1013904223u;
        const double cx = x - w / 2.0 - 40 * std::sin(i), cy = y - h / 2.0;
        const bool inside = cx * cx + cy * cy < (60.0 + i % 40) * (60.0 + i % 40);
        for (int c = 0; c < 3; ++c) {
          const double base = inside ? 200 - 50 * c : 40 + 0.3 * x + 0.2 * y + 30 * c + 20 * std::sin((x + i * 7) * 0.02 * (c + 1));
          px[(y * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(base + static_cast<int>(noise >> 28) - 8, 0.0, 255.0));
        }
      }
    }
    const std::string dir = root + "/c" + std::to_string(i % 4);
    std::filesystem::create_directories(dir);
    stbi_write_jpg((dir + "/" + std::to_string(i) + ".jpg").c_str(), w, h, 3, px.data(), 90);
  }
}

void BM_ImageFolderPipeline(benchmark::State& state) {
  static const data::Dataset ds = [] {
    MakePhotos(data_dir, 512);
    const std::string train = data_dir + "/train";
    absl::StatusOr<data::ImageFolderListing> l = data::ListImageFolder(std::filesystem::is_directory(train) ? train : data_dir);
    if (!l.ok()) {
      std::fprintf(stderr, "%s\n", std::string(l.status().message()).c_str());
      std::exit(1);
    }
    data::Dataset d = std::move(l->dataset);
    d.file_shape = {3, 224, 224};
    return d;
  }();
  constexpr int64_t kBatch = 64;
  data::LoaderOptions o{.batch_size = kBatch, .seed = 1};
  o.normalization = data::Normalization::ImageNet();
  o.augmentation.random_resized_crop = o.augmentation.horizontal_flip = true;
  o.decode_threads = static_cast<int>(state.range(0));
  auto loader = *data::Loader::Create(&ds, o);
  TimeBatches(state, *loader, kBatch);
  state.SetLabel(ds.description);
}
BENCHMARK(BM_ImageFolderPipeline)->ArgName("decode_threads")->Arg(1)->Arg(2)->UseRealTime()->MinTime(5);

}  // namespace
}  // namespace dlf::bench

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--data_dir=", 11) == 0) dlf::bench::data_dir = argv[i] + 11;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
