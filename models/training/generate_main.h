#ifndef DLF_MODELS_TRAINING_GENERATE_MAIN_H_
#define DLF_MODELS_TRAINING_GENERATE_MAIN_H_

namespace dlf::training {

// bazel run //models:generate -- --checkpoint=PATH --prompt=TEXT: text sampled from a gpt
// checkpoint with a key/value cache.
int GenerateMain(int argc, char** argv);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_GENERATE_MAIN_H_
