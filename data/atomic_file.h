#ifndef DLF_DATA_ATOMIC_FILE_H_
#define DLF_DATA_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace dlf::data {

// Moves a fully written temporary file `tmp` into place: flushes it to disk, then renames it
// over `path` (atomic on POSIX), so a crash leaves either the old file or the new one, never a
// partial one. Removes `tmp` if anything fails. Every writer of checkpoints, metrics and data
// files ends with this.
absl::Status CommitTempFile(const std::string& tmp, const std::string& path);

}  // namespace dlf::data

#endif  // DLF_DATA_ATOMIC_FILE_H_
