#include "models/training/conformance_main.h"

#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/status_macros.h"
#include "models/onnx/backend_test.h"
#include "models/onnx/import.h"
#include "models/training/cli.h"

ABSL_FLAG(double, rtol, 1e-3, "relative tolerance of the comparison (ONNX's backend tests: 1e-3)");
ABSL_FLAG(double, atol, 1e-7, "absolute tolerance of the comparison (ONNX's backend tests: 1e-7)");
ABSL_FLAG(bool, imported_ops, false, "print the ONNX op types dlf's import takes, one per line, and exit");

namespace dlf::training {
namespace {

namespace fs = std::filesystem;
using onnx_import::Verdict;

absl::Status Conformance(const std::vector<std::string>& positional, bool& any_failed) {
  if (absl::GetFlag(FLAGS_imported_ops)) {
    for (const std::string& op : onnx_import::ImportedOps()) absl::PrintF("%s\n", op);
    return absl::OkStatus();
  }
  if (positional.empty()) return absl::InvalidArgumentError("expected one or more case directories (see --help)");
  std::vector<fs::path> cases;
  for (const std::string& arg : positional) {
    DLF_ASSIGN_OR_RETURN(const std::vector<fs::path> found, onnx_import::CaseDirs(ResolveUserPath(arg)));
    cases.insert(cases.end(), found.begin(), found.end());
  }
  const onnx_import::Tolerance tolerance = {.rtol = absl::GetFlag(FLAGS_rtol), .atol = absl::GetFlag(FLAGS_atol)};
  int counts[3] = {0, 0, 0};
  for (const fs::path& dir : cases) {
    const onnx_import::CaseOutcome o = onnx_import::RunCase(dir, tolerance);
    ++counts[static_cast<int>(o.verdict)];
    absl::PrintF("%s: %s%s\n", dir.filename().string(), onnx_import::VerdictName(o.verdict),
                 o.detail.empty() ? "" : absl::StrCat(": ", o.detail));
  }
  absl::PrintF("%d passed, %d failed, %d unsupported\n", counts[0], counts[1], counts[2]);
  any_failed = counts[static_cast<int>(Verdict::kFailed)] > 0;
  return absl::OkStatus();
}

}  // namespace
int ConformanceMain(int argc, char** argv) {
  bool any_failed = false;
  const int code = RunTool([&]() -> absl::Status {
    DLF_ASSIGN_OR_RETURN(const std::vector<std::string> positional,
                         ParseFlags(argc, argv,
                                    "runs ONNX backend-test cases in dlf's inference (f32, fast math off) and "
                                    "compares every output:\n  conformance DIR...   (DIR: a case with model.onnx "
                                    "and test_data_set_N/, or a directory of cases)"));
    return Conformance(positional, any_failed);
  });
  return code != 0 ? code : (any_failed ? 1 : 0);
}

}  // namespace dlf::training
