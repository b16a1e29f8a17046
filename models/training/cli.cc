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
#include "absl/strings/str_join.h"
#include "data/file_io.h"
#include "nlohmann/json.hpp"
#include "graph/cpu.h"
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

// The value of --config=PATH or --config PATH on the command line ("" without).
std::string ConfigPath(const std::vector<std::string>& args) {
  std::string path;
  for (size_t i = 0; i < args.size() && args[i] != "--"; ++i) {
    const std::string& a = args[i];
    if (absl::StartsWith(a, "--config=") || absl::StartsWith(a, "-config=")) path = a.substr(a.find('=') + 1);
    if ((a == "--config" || a == "-config") && i + 1 < args.size()) path = args[i + 1];
  }
  return path;
}

// A run config's flags as command-line arguments (--name=value), to go before those typed.
absl::StatusOr<std::vector<std::string>> ConfigArgs(const std::string& path) {
  DLF_ASSIGN_OR_RETURN(const std::string text, data::ReadFile(ResolveUserPath(path), 1 << 20));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("--config=", path, ": not valid JSON: ", e.what()));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("--config=", path, ": expected a JSON object of flag names and values"));
  }
  std::vector<std::string> args;
  for (const auto& [name, value] : j.items()) {
    std::string text;
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_array()) {  // a list flag: its items joined by commas
      std::vector<std::string> items;
      for (const auto& item : value) items.push_back(item.is_string() ? item.get<std::string>() : item.dump());
      text = absl::StrJoin(items, ",");
    } else if (value.is_boolean() || value.is_number()) {
      text = value.dump();
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--config=", path, ": '", name, "' must be a string, number, boolean or list"));
    }
    if (name == "config") return absl::InvalidArgumentError(absl::StrCat("--config=", path, ": a config cannot name another config"));
    args.push_back(absl::StrCat("--", name, "=", text));
  }
  if (absl::Status s = CheckFlags(args); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--config=", path, ": ", s.message()));
  }
  return args;
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
  // A run config's flags go first, so that those on the command line override them.
  const std::string run_config = absl::FindCommandLineFlag("config") ? ConfigPath(Args()) : "";
  if (!run_config.empty()) {
    DLF_ASSIGN_OR_RETURN(std::vector<std::string> from_file, ConfigArgs(run_config));
    Args().insert(Args().begin(), from_file.begin(), from_file.end());
  }
  std::vector<char*> args = {argv[0]};
  for (std::string& a : Args()) args.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
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

std::string FlagsAsJson(const std::vector<std::string>& leave_out) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::StrContains(flag->Filename(), "models/training/") || flag->IsRetired()) continue;
    if (std::find(leave_out.begin(), leave_out.end(), std::string(name)) != leave_out.end()) continue;
    const std::string value = flag->CurrentValue();
    if (flag->IsOfType<bool>()) {
      j[std::string(name)] = value == "true";
    } else if (flag->IsOfType<int>() || flag->IsOfType<double>()) {
      j[std::string(name)] = nlohmann::json::parse(value);
    } else {
      j[std::string(name)] = value;
    }
  }
  return j.dump(2) + "\n";
}

absl::Status RecordRunConfig(const std::string& dir, bool resume, const std::vector<std::string>& fixed) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  const std::string now = FlagsAsJson({"config", "resume"});
  if (resume && std::filesystem::is_regular_file(path)) {
    DLF_ASSIGN_OR_RETURN(const std::string text, data::ReadFile(path, 1 << 20));
    const nlohmann::json saved = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    const nlohmann::json current = nlohmann::json::parse(now);
    if (!saved.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
    std::vector<std::string> changes;
    for (const std::string& key : fixed) {
      const nlohmann::json was = saved.contains(key) ? saved[key] : nlohmann::json();
      if (current.contains(key) && was != current[key]) {
        changes.push_back(absl::StrCat("--", key, " was ", was.dump(), ", now ", current[key].dump()));
      }
    }
    if (!changes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--resume: the run in ", dir, " trained another model or data (", absl::StrJoin(changes, "; "),
          "): resume with its config (--config=", path, ") or use another --checkpoint_dir"));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("--checkpoint_dir ", dir, ": cannot create the directory: ", ec.message()));
  return data::WriteFileAtomically(path, now);
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
  if (precision == "bf16" && !Bf16Supported()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--precision=bf16 needs a CPU with AVX-512: oneDNN 2.6.3 has no bf16 kernels below it, and this "
        "CPU's oneDNN ISA is ", DnnlIsaName()));
  }
  if (precision == "bf16" && !NativeBf16()) {
    std::printf("note: this CPU has no native bf16 (oneDNN dispatches %s): bf16 is emulated, "
                "slower than f32\n", DnnlIsaName().c_str());
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
