#ifndef DLF_GRAPH_NAME_TABLE_H_
#define DLF_GRAPH_NAME_TABLE_H_

// An enum's names in one table, read both ways: a config string is parsed into the enum once
// (optimizer kinds, schedules, tasks, init schemes), and the enum is named from the same table.

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace dlf {

template <typename Kind>
struct Named {
  Kind kind;
  const char* name;
};

// The kind called `name`, or an error listing the names ("<what> must be a, b or c, found 'x'").
template <typename Kind, size_t N>
absl::StatusOr<Kind> ParseNamed(const Named<Kind> (&table)[N], std::string_view name, const char* what) {
  std::string names;
  for (size_t i = 0; i < N; ++i) {
    if (table[i].name == name) return table[i].kind;
    absl::StrAppend(&names, i == 0 ? "" : i + 1 == N ? " or " : ", ", table[i].name);
  }
  return absl::InvalidArgumentError(absl::StrCat(what, " must be ", names, ", found '", std::string(name), "'"));
}

// The name of `kind` in the table ("?" if it has none).
template <typename Kind, size_t N>
const char* NameOf(const Named<Kind> (&table)[N], Kind kind) {
  for (const Named<Kind>& entry : table) {
    if (entry.kind == kind) return entry.name;
  }
  return "?";
}

}  // namespace dlf

#endif  // DLF_GRAPH_NAME_TABLE_H_
