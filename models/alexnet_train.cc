// bazel run //models:alexnet_train -- --help
#include "models/train_main.h"

int main(int argc, char** argv) {
  return dlf::models::TrainMain(argc, argv, {.program = "alexnet_train"});
}
