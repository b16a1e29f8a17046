// Converts a CIFAR-10 binary directory to IDX files: RGB images (magic 2052) and labels (2049).
//   bazel run //data:cifar_to_idx -- --cifar_dir=DIR --out_dir=DIR [--gzip]
#include <cstdio>
#include <cstring>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "data/cifar10.h"
#include "data/idx.h"
#include "graph/status_macros.h"

ABSL_FLAG(std::string, cifar_dir, "", "directory holding the CIFAR-10 .bin files");
ABSL_FLAG(std::string, out_dir, "", "directory to write {train,test}-{images,labels}.idx");
ABSL_FLAG(bool, gzip, false, "gzip the output files (.idx.gz)");

namespace {

absl::Status Convert(const std::string& in, const std::string& out, bool gzip) {
  for (bool train : {true, false}) {
    DLF_ASSIGN_OR_RETURN(const dlf::data::Dataset d, dlf::data::LoadCifar10(in, train));
    const std::string prefix = out + (train ? "/train" : "/test");
    const std::string ext = gzip ? ".idx.gz" : ".idx";
    dlf::data::IdxArray images{dlf::data::kIdxRgbImages, d.images.shape(), {}};
    images.data.assign(d.images.u8(), d.images.u8() + d.images.num_bytes());
    dlf::data::IdxArray labels{dlf::data::kIdxLabels, {d.size()}, {}};
    labels.data.assign(d.labels.begin(), d.labels.end());
    DLF_RETURN_IF_ERROR(dlf::data::WriteIdx(prefix + "-images" + ext, images));
    DLF_RETURN_IF_ERROR(dlf::data::WriteIdx(prefix + "-labels" + ext, labels));
    std::printf("wrote %s-{images,labels}%s: %lld images\n", prefix.c_str(), ext.c_str(),
                static_cast<long long>(d.size()));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Converts CIFAR-10 binary files to IDX (RGB magic 2052).");
  absl::ParseCommandLine(argc, argv);
  const std::string in = absl::GetFlag(FLAGS_cifar_dir), out = absl::GetFlag(FLAGS_out_dir);
  if (in.empty() || out.empty()) {
    std::fprintf(stderr, "error: --cifar_dir and --out_dir are required (see --help)\n");
    return 2;
  }
  absl::Status s = Convert(in, out, absl::GetFlag(FLAGS_gzip));
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
