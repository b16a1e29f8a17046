#include "graph/memory.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>

#include "absl/strings/str_format.h"

namespace dlf {
namespace {
std::atomic<int64_t> memory_limit_bytes{0};
}  // namespace

void SetMemoryLimitBytes(int64_t bytes) { memory_limit_bytes.store(bytes); }

int64_t AvailableMemoryBytes() {
  if (const int64_t limit = memory_limit_bytes.load(); limit > 0) return limit;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024;
    meminfo.ignore(64, '\n');
  }
  return static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
}

absl::Status CheckFitsInMemory(int64_t bytes, const std::string& what) {
  const int64_t available = AvailableMemoryBytes();
  if (bytes <= available) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s needs %.2f GB of memory but only %.2f GB is available; use a smaller batch size or "
      "model", what, bytes / 1e9, available / 1e9));
}

}  // namespace dlf
