#include "tests/testing/subprocess.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace dlf::testing {

bool ProcessResult::exited() const { return WIFEXITED(status); }
int ProcessResult::exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

std::string BinaryPath(const std::string& workspace_path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return std::string(srcdir ? srcdir : ".") + "/dlf/" + workspace_path;
}

ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  ProcessResult r;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) r.output.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  waitpid(pid, &r.status, 0);
  return r;
}

}  // namespace dlf::testing
