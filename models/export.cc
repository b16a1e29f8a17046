// bazel run //models:export -- --checkpoint=runs/.../best.safetensors --output=model.onnx
#include "models/training/export_main.h"

int main(int argc, char** argv) { return dlf::training::ExportMain(argc, argv); }
