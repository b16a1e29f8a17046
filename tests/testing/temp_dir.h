#ifndef DLF_TESTS_TESTING_TEMP_DIR_H_
#define DLF_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace dlf::testing {

// An empty directory `name` under the test's TEST_TMPDIR (/tmp outside Bazel), emptied first.
std::string TempDir(const std::string& name);

}  // namespace dlf::testing

#endif  // DLF_TESTS_TESTING_TEMP_DIR_H_
