// bazel run //models:generate -- --checkpoint=PATH --prompt=TEXT
#include "models/training/generate_main.h"

int main(int argc, char** argv) { return dlf::training::GenerateMain(argc, argv); }
