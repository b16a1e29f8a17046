#ifndef DLF_GRAPH_MEMORY_H_
#define DLF_GRAPH_MEMORY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace dlf {

// Bytes the machine can still hand out without swapping (MemAvailable in /proc/meminfo; total
// physical memory where that is not readable).
int64_t AvailableMemoryBytes();

// Replaces the machine's available memory with `bytes` in every check below (a budget to stay
// under, or a test's limit that holds on any host); 0 goes back to the machine's.
void SetMemoryLimitBytes(int64_t bytes);

// An error naming `what`, the bytes it needs and the bytes available, if `bytes` would not fit.
// Called before allocating: with Linux's overcommit a too-large allocation does not fail, the
// process is killed when the memory is first touched.
absl::Status CheckFitsInMemory(int64_t bytes, const std::string& what);

}  // namespace dlf

#endif  // DLF_GRAPH_MEMORY_H_
