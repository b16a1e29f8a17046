// Kills a real training process with SIGKILL at seeded random moments, then resumes it: the
// checkpoint on disk is always whole, and the resumed run's losses equal those of an
// uninterrupted run with the same seed, step for step.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "data/safetensors.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

namespace fs = std::filesystem;

// LeNet-5 on generated data: 2048 images, batch 64 -> 32 steps an epoch, 2 epochs.
constexpr int kTotalSteps = 64;

std::vector<std::string> TrainArgs(const std::string& dir) {
  return {"--model=lenet", "--dataset=synthetic", "--epochs=2", "--batch_size=64",
          "--threads=1",   "--seed=5",            "--log_step_losses",
          "--checkpoint_every=1", "--checkpoint_dir=" + dir};
}

class Trainer {  // one child process running lenet_train, its stdout read line by line
 public:
  explicit Trainer(std::vector<std::string> args) {
    const std::string binary = std::string(std::getenv("TEST_SRCDIR")) + "/dlf/models/lenet_train";
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Trainer() {
    if (out_) fclose(out_);
    if (pid_ > 0 && !waited_) Kill();
  }

  // The next "step N loss X" line; false at end of output.
  bool NextStep(int& step, double& loss) {
    char line[512];
    while (fgets(line, sizeof(line), out_)) {
      if (std::sscanf(line, "step %d loss %lf", &step, &loss) == 2) return true;
    }
    return false;
  }
  std::map<int, double> AllSteps() {
    std::map<int, double> losses;
    int step;
    double loss;
    while (NextStep(step, loss)) losses[step] = loss;
    return losses;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    waited_ = true;
    return status;
  }
  void Kill() {
    kill(pid_, SIGKILL);
    Wait();
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  bool waited_ = false;
};

using ::dlf::testing::TempDir;

TEST(CrashResumeTest, KillNineThenResumeGivesTheUninterruptedLosses) {
  Trainer straight(TrainArgs(TempDir("straight")));
  const std::map<int, double> expected = straight.AllSteps();
  ASSERT_TRUE(WIFEXITED(straight.Wait()));
  ASSERT_EQ(expected.size(), static_cast<size_t>(kTotalSteps));

  std::mt19937 rng(2026);
  for (int trial = 0; trial < 3; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const std::string dir = TempDir("crash" + std::to_string(trial));
    Trainer victim(TrainArgs(dir));
    // A random moment: after a random number of steps, plus a random delay within a step or
    // two, so some kills land while a checkpoint is being written.
    const int after = std::uniform_int_distribution<int>(1, kTotalSteps / 2)(rng);
    int step = 0;
    double loss;
    while (step < after && victim.NextStep(step, loss)) {
    }
    ASSERT_EQ(step, after) << "the run ended before it could be killed";
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(rng)));
    victim.Kill();

    // Whatever moment it died at, the checkpoint is a whole file, never a partial one.
    const std::string last = dir + "/last.safetensors";
    ASSERT_TRUE(fs::exists(last));
    absl::StatusOr<data::TensorFile> file = data::ReadSafetensors(last);
    ASSERT_TRUE(file.ok()) << file.status();
    const int saved_step = std::stoi(file->metadata.at("global_step"));
    EXPECT_GE(saved_step, after - 1);
    // Step lines reach the pipe as they are written, so an early kill lands early: buffered,
    // the first epoch's lines arrived together at its end, and every kill landed after it.
    if (after < kTotalSteps / 4) {
      EXPECT_LT(saved_step, kTotalSteps / 2)
          << "killed " << after << " steps in, the checkpoint says " << saved_step;
    }

    std::vector<std::string> args = TrainArgs(dir);
    args.push_back("--resume");
    Trainer resumed(args);
    const std::map<int, double> after_resume = resumed.AllSteps();
    const int status = resumed.Wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_FALSE(after_resume.empty());
    EXPECT_EQ(after_resume.begin()->first, saved_step + 1) << "resumed where the checkpoint was";
    EXPECT_EQ(after_resume.rbegin()->first, kTotalSteps);
    for (const auto& [s, l] : after_resume) EXPECT_EQ(l, expected.at(s)) << "step " << s;
  }
}

}  // namespace
}  // namespace dlf::training
