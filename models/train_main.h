#ifndef DLF_MODELS_TRAIN_MAIN_H_
#define DLF_MODELS_TRAIN_MAIN_H_

#include <string>


namespace dlf::models {

// What a training binary changes from the AlexNet defaults before flags are parsed.
struct TrainDefaults {
  std::string program;  // "alexnet_train"
  std::string model = "seed";
  std::string dataset = "cifar10";
  int epochs = 90;
  double lr = 0.01;
  int lr_step_size = 30;
};

// The whole command-line program: flags (--help lists them), data, training, reports.
int TrainMain(int argc, char** argv, const TrainDefaults& defaults);

}  // namespace dlf::models

#endif  // DLF_MODELS_TRAIN_MAIN_H_
