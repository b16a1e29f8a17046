// bazel-bin/models/onnx/conformance DIR...: ONNX backend-test cases run in dlf's inference.
#include "models/training/conformance_main.h"

int main(int argc, char** argv) { return dlf::training::ConformanceMain(argc, argv); }
