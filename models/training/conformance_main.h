#ifndef DLF_MODELS_TRAINING_CONFORMANCE_MAIN_H_
#define DLF_MODELS_TRAINING_CONFORMANCE_MAIN_H_

namespace dlf::training {

// Runs ONNX backend-test cases (model.onnx with test_data_set_N/input_K.pb and output_K.pb) in
// dlf's inference and compares every output. Returns the exit code: 1 when a case failed.
int ConformanceMain(int argc, char** argv);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_CONFORMANCE_MAIN_H_
