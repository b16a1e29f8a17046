#ifndef DLF_DATA_FILE_IO_H_
#define DLF_DATA_FILE_IO_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dlf::data {

// Reads a whole regular file. Errors name the file and what was found instead: NotFound when
// nothing is there, InvalidArgument for a directory (or another non-file) or a file larger
// than `max_bytes`, DataLoss when reading fails part way.
absl::StatusOr<std::string> ReadFile(const std::string& path, int64_t max_bytes);

// Whether `bytes` start with gzip's magic bytes.
bool IsGzip(std::string_view bytes);
// The decompressed content of a gzip stream; errors (truncated, corrupt, larger than
// `max_bytes` once inflated) name `name`.
absl::StatusOr<std::string> Gunzip(std::string_view compressed, const std::string& name, int64_t max_bytes);

// Moves a fully written temporary file `tmp` into place: flushes it to disk, then renames it
// over `path` (atomic on POSIX), so a crash leaves either the old file or the new one, never a
// partial one. Removes `tmp` if anything fails. Every writer of checkpoints, metrics and data
// files ends with this.
absl::Status CommitTempFile(const std::string& tmp, const std::string& path);

// Writes `content` to "<path>.tmp", then CommitTempFile.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content);

}  // namespace dlf::data

#endif  // DLF_DATA_FILE_IO_H_
