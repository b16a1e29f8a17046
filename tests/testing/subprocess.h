#ifndef DLF_TESTS_TESTING_SUBPROCESS_H_
#define DLF_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
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

// tools/python.sh: the project's Python (the environment tools/setup.sh makes, with Debian's
// torch, torchvision, onnx and PIL and ONNX Runtime from PyPI). Run tools/*.py with it.
std::string PythonPath();

// Runs `binary` with `args` (no shell), waits for it and returns what it printed.
ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args);

// A child process running in the background; its stdout and stderr are collected by a thread.
class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args);
  ~ChildProcess();  // kills the child (SIGKILL) if it still runs

  pid_t pid() const { return pid_; }
  // True once `text` has appeared in the output; false if the child ended or `timeout_s`
  // passed first.
  bool WaitForOutput(const std::string& text, double timeout_s);
  // Waits at most timeout_s for the child to end; false if it did not (it is then killed).
  bool Wait(double timeout_s, ProcessResult& result);
  std::string output();

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;
  bool eof_ = false;
  std::thread reader_;
};

}  // namespace dlf::testing

#endif  // DLF_TESTS_TESTING_SUBPROCESS_H_
