#ifndef DLF_MODELS_TRAINING_EVAL_MAIN_H_
#define DLF_MODELS_TRAINING_EVAL_MAIN_H_

namespace dlf::training {

// Scores a checkpoint on the test split of its data set (or of --dataset): loss, accuracy,
// per-class accuracy and the confusion matrix. Returns the process exit code.
int EvalMain(int argc, char** argv);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_EVAL_MAIN_H_
