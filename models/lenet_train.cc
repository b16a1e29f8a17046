// LeNet-5 on Fashion-MNIST: bazel run //models:lenet_train -- --help
#include "models/train_main.h"

int main(int argc, char** argv) {
  return dlf::models::TrainMain(argc, argv, {.program = "lenet_train",
                                             .model = "lenet",
                                             .dataset = "fashion_mnist",
                                             .epochs = 10,
                                             .lr = 0.02,
                                             .lr_step_size = 7});
}
