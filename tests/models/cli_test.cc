// The training binary as a user meets it: --help lists the flags, bad flags are clear errors.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

struct Result {
  std::string output;  // stdout and stderr
  int exit_code;
};

Result RunLenetTrain(const std::string& args) {
  const std::string cmd =
      std::string(std::getenv("TEST_SRCDIR")) + "/dlf/models/lenet_train " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  Result r;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(CliTest, HelpListsEveryTrainingFlag) {
  const Result r = RunLenetTrain("--help");
  for (const char* flag : {"--batch_size", "--lr", "--momentum", "--resume", "--checkpoint_dir",
                           "--skip_nonfinite", "--max_steps", "--dataset", "--model"}) {
    EXPECT_THAT(r.output, HasSubstr(std::string("    ") + flag + " (")) << flag;
  }
}

TEST(CliTest, BadFlagsAreClearErrors) {
  // Reported before the data set is read: nothing about Fashion-MNIST is printed.
  Result r = RunLenetTrain("--batch_size=0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output, "error: batch size must be > 0, found 0\n");
  r = RunLenetTrain("--lr=-1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("error: learning rate must be >= 0, found -1"));
  r = RunLenetTrain("--dataset=imagenet");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--dataset must be cifar10, fashion_mnist or synthetic, found 'imagenet'"));
  r = RunLenetTrain("--no_such_flag");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("Unknown command line flag 'no_such_flag'"));
}

}  // namespace
