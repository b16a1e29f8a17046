#ifndef DLF_GRAPH_STATUS_MACROS_H_
#define DLF_GRAPH_STATUS_MACROS_H_

// The one error idiom of the code base: propagate an absl::Status, or unwrap an
// absl::StatusOr and propagate its error.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DLF_STATUS_CONCAT_INNER(a, b) a##b
#define DLF_STATUS_CONCAT(a, b) DLF_STATUS_CONCAT_INNER(a, b)

#define DLF_RETURN_IF_ERROR(expr)              \
  do {                                         \
    absl::Status dlf_status_ = (expr);         \
    if (!dlf_status_.ok()) return dlf_status_; \
  } while (0)

// `lhs` may declare a variable: DLF_ASSIGN_OR_RETURN(auto file, ReadSafetensors(path));
#define DLF_ASSIGN_OR_RETURN(lhs, expr)                        \
  auto DLF_STATUS_CONCAT(dlf_or_, __LINE__) = (expr);          \
  if (!DLF_STATUS_CONCAT(dlf_or_, __LINE__).ok())              \
    return DLF_STATUS_CONCAT(dlf_or_, __LINE__).status();      \
  lhs = *std::move(DLF_STATUS_CONCAT(dlf_or_, __LINE__))

#endif  // DLF_GRAPH_STATUS_MACROS_H_
