#include "tests/testing/subprocess.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>

namespace dlf::testing {

bool ProcessResult::exited() const { return WIFEXITED(status); }
int ProcessResult::exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

std::string BinaryPath(const std::string& workspace_path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return std::string(srcdir ? srcdir : ".") + "/dlf/" + workspace_path;
}

std::string PythonPath() { return BinaryPath("tools/python.sh"); }

namespace {

// Starts `binary` with stdout and stderr into a pipe; returns the pid and the read end.
pid_t Spawn(const std::string& binary, const std::vector<std::string>& args, int& read_fd) {
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
  read_fd = fds[0];
  return pid;
}

}  // namespace

ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args) {
  int fd = -1;
  const pid_t pid = Spawn(binary, args, fd);
  ProcessResult r;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) r.output.append(buffer, static_cast<size_t>(n));
  close(fd);
  waitpid(pid, &r.status, 0);
  return r;
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args) {
  pid_ = Spawn(binary, args, fd_);
  reader_ = std::thread([this] {
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd_, buffer, sizeof(buffer))) > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      output_.append(buffer, static_cast<size_t>(n));
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    eof_ = true;
    cv_.notify_all();
  });
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  reader_.join();
  close(fd_);
}

bool ChildProcess::WaitForOutput(const std::string& text, double timeout_s) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] {
    return eof_ || output_.find(text) != std::string::npos;
  }) && output_.find(text) != std::string::npos;
}

bool ChildProcess::Wait(double timeout_s, ProcessResult& result) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  reaped_ = true;
  {
    // The output is complete once every process holding the pipe has ended.
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return eof_; });
  }
  result.status = status;
  result.output = output();
  return true;
}

std::string ChildProcess::output() {
  std::lock_guard<std::mutex> lock(mu_);
  return output_;
}

}  // namespace dlf::testing
