#include "tests/testing/temp_dir.h"

#include <cstdlib>
#include <filesystem>

namespace dlf::testing {

std::string TempDir(const std::string& name) {
  namespace fs = std::filesystem;
  const char* base = std::getenv("TEST_TMPDIR");
  const fs::path dir = fs::path(base ? base : "/tmp") / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace dlf::testing
