#ifndef DLF_MODELS_TRAINING_CLI_H_
#define DLF_MODELS_TRAINING_CLI_H_

// What every command-line tool of the training package shares: flag parsing with --help and
// --version, paths relative to where the user typed `bazel run`, and the rule that every
// failure ends in one "error: ..." line and exit code 1, never an abort.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dlf::training {

// Parses the flags (--help lists those of models/training; --version prints dlf's version and
// build mode), after setting the usage text. An unknown flag or a value that does not parse is
// an error naming the flag; otherwise returns the positional arguments.
absl::StatusOr<std::vector<std::string>> ParseFlags(int argc, char** argv, const std::string& usage);

// A tool that defines --config takes a run config: a JSON object of flag names and values
// ({"epochs": 30, "lr_milestones": [10, 20]}), read before the command line, whose flags
// override it; it counts as typed for FlagGiven.
//
// Whether --flag (or --flag=..., --noflag) was typed on the command line parsed last.
bool FlagGiven(const std::string& flag);

// The tool's flags (those of models/training) with their current values, as a JSON object
// that --config reads back; `leave_out` names flags not to write.
std::string FlagsAsJson(const std::vector<std::string>& leave_out);

// Writes FlagsAsJson (without --config and --resume) to dir/config.json, creating dir. With
// `resume`, a config.json already there must hold the same values of `fixed` flags: the error
// names each that differs.
absl::Status RecordRunConfig(const std::string& dir, bool resume, const std::vector<std::string>& fixed);

// A relative path under `bazel run` means relative to the workspace (where the user typed the
// command), not to Bazel's runfiles directory.
std::string ResolveUserPath(const std::string& path);

// --precision (every tool has it): true for bf16, false for f32, an error otherwise. bf16 on a
// CPU without native bf16 prints a note that oneDNN emulates it.
absl::StatusOr<bool> Bf16FromFlags();

// Runs a tool's body: prints "error: <message>" and returns 1 on an error status or an escaped
// exception, 0 otherwise.
int RunTool(const std::function<absl::Status()>& body);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_CLI_H_
