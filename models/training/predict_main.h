#ifndef DLF_MODELS_TRAINING_PREDICT_MAIN_H_
#define DLF_MODELS_TRAINING_PREDICT_MAIN_H_

namespace dlf::training {

// Prints the top classes of each image file with a checkpoint's model. Returns the exit code.
int PredictMain(int argc, char** argv);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_PREDICT_MAIN_H_
