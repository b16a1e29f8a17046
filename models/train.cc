// Trains any registered model: bazel run //models:train -- --model=NAME (--help lists them).
#include "models/training/train_main.h"

int main(int argc, char** argv) {
  return dlf::training::TrainMain(argc, argv, {.program = "train"});
}
