#ifndef DLF_MODELS_TRAINING_EXPORT_MAIN_H_
#define DLF_MODELS_TRAINING_EXPORT_MAIN_H_

namespace dlf::training {

// Writes a checkpoint's model as an ONNX file. Returns the exit code.
int ExportMain(int argc, char** argv);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_EXPORT_MAIN_H_
