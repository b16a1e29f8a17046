// bazel run //models:alexnet_train -- --help
#include "models/training/train_main.h"

int main(int argc, char** argv) {
  return dlf::training::TrainMain(argc, argv, {.program = "alexnet_train", .model = "alexnet-seed"});
}
