#ifndef DLF_TESTS_TESTING_SUBPROCESS_H_
#define DLF_TESTS_TESTING_SUBPROCESS_H_

#include <string>
#include <vector>

namespace dlf::testing {

struct ProcessResult {
  std::string output;  // stdout and stderr, interleaved as written
  int status = 0;      // as waitpid reports it
  bool exited() const;        // ended by exit(), not by a signal
  int exit_code() const;      // -1 unless exited()
};

// The path of a binary built by Bazel and listed in the test's `data`, e.g. "models/train".
std::string BinaryPath(const std::string& workspace_path);

// Runs `binary` with `args` (no shell), waits for it and returns what it printed.
ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args);

}  // namespace dlf::testing

#endif  // DLF_TESTS_TESTING_SUBPROCESS_H_
