#include "models/training/cli.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "graph/version.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

ABSL_FLAG(std::string, precision, "f32",
          "f32 | bf16: convolutions and linear layers in bf16 (weights, gradients, optimizer "
          "state, loss and checkpoints stay f32)");

namespace dlf::training {
namespace {

std::vector<std::string>& Args() {
  static auto* args = new std::vector<std::string>;
  return *args;
}

bool IsBuiltinFlag(const std::string& name) {
  for (const char* builtin : {"help", "helpfull", "helpshort", "helppackage", "helpon", "helpmatch",
                              "version", "only_check_args", "flagfile", "fromenv", "tryfromenv",
                              "undefok"}) {
    if (name == builtin) return true;
  }
  return false;
}

// Abseil's parser exits on a bad flag with its own message; checking first gives ours.
absl::Status CheckFlags(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;  // a positional argument
    const std::string bare = a.substr(a.find_first_not_of('-'));
    const size_t eq = bare.find('=');
    const std::string name = bare.substr(0, eq);
    if (IsBuiltinFlag(name)) continue;  // --help, --version ...: Abseil's parser handles them
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && eq == std::string::npos) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      if (flag != nullptr && flag->IsOfType<bool>()) continue;
      flag = nullptr;
    }
    if (flag == nullptr || flag->IsRetired()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    std::string value;
    if (eq != std::string::npos) {
      value = bare.substr(eq + 1);
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    std::string error;
    // Parsing into the flag now is harmless: ParseCommandLine sets the same value again.
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, "=", value, ": ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseFlags(int argc, char** argv, const std::string& usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  // Abseil's --help lists the flags of the file named like the program; ours live here.
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "models/training/");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.version_string = [] { return absl::StrCat("dlf ", kVersion, " (", BuildMode(), " build)\n"); };
  absl::SetFlagsUsageConfig(config);
  Args().assign(argv + 1, argv + argc);
  DLF_RETURN_IF_ERROR(CheckFlags(Args()));
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  return std::vector<std::string>(rest.begin() + 1, rest.end());
}

bool FlagGiven(const std::string& flag) {
  for (const std::string& a : Args()) {
    if (a == "--") break;
    const size_t start = a.find_first_not_of('-');
    if (start == 0 || start == std::string::npos) continue;  // a positional argument
    const std::string bare = a.substr(start);
    if (bare == flag || absl::StartsWith(bare, flag + "=") || bare == "no" + flag) return true;
  }
  return false;
}

std::string ResolveUserPath(const std::string& path) {
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (path.empty() || path[0] == '/' || workspace == nullptr) return path;
  return (std::filesystem::path(workspace) / path).string();
}

absl::StatusOr<bool> Bf16FromFlags() {
  const std::string precision = absl::GetFlag(FLAGS_precision);
  if (precision != "f32" && precision != "bf16") {
    return absl::InvalidArgumentError(absl::StrCat("--precision must be f32 or bf16, found '", precision, "'"));
  }
  if (precision == "bf16" && !ops::NativeBf16()) {
    std::printf("note: this CPU has no native bf16 (oneDNN dispatches %s): bf16 is emulated, "
                "slower than f32\n", ops::DnnlIsaName().c_str());
  }
  return precision == "bf16";
}

int RunTool(const std::function<absl::Status()>& body) {
  absl::Status s;
  try {
    s = body();
  } catch (const std::exception& e) {
    s = absl::InternalError(absl::StrCat("unexpected failure: ", e.what()));
  }
  if (s.ok()) return 0;
  std::fflush(stdout);
  // An empty message: another rank of a data-parallel run already printed the error.
  if (!s.message().empty()) std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace dlf::training
