// bazel run //models:predict -- --checkpoint=runs/.../best.safetensors IMAGE...
#include "models/training/predict_main.h"

int main(int argc, char** argv) { return dlf::training::PredictMain(argc, argv); }
