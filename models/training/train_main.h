#ifndef DLF_MODELS_TRAINING_TRAIN_MAIN_H_
#define DLF_MODELS_TRAINING_TRAIN_MAIN_H_

#include <string>

namespace dlf::training {

// What a training binary sets before flags are parsed; flags override all of it.
struct TrainDefaults {
  std::string program;   // "alexnet_train"
  std::string model;     // empty: --model is required
  int epochs = 90;
  double lr = 0.01;
  int lr_step_size = 30;
};

// The whole command-line program: flags (--help lists them and the registered models), data,
// training, reports. Returns the process exit code.
int TrainMain(int argc, char** argv, const TrainDefaults& defaults);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TRAIN_MAIN_H_
