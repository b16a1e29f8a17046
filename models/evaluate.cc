// Scores a checkpoint: bazel run //models:evaluate -- --checkpoint=runs/.../best.safetensors
#include "models/training/eval_main.h"

int main(int argc, char** argv) { return dlf::training::EvalMain(argc, argv); }
