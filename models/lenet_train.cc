// LeNet-5 on Fashion-MNIST: bazel run //models:lenet_train -- --help
#include "models/training/train_main.h"

int main(int argc, char** argv) {
  return dlf::training::TrainMain(argc, argv, {.program = "lenet_train",
                                               .model = "lenet",
                                               .epochs = 10,
                                               .lr = 0.02,
                                               .lr_step_size = 7});
}
