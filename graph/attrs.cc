#include "graph/attrs.h"

#include "absl/strings/str_join.h"

namespace dlf {
namespace {

struct AttrPrinter {
  std::string operator()(int64_t v) const { return absl::StrCat(v); }
  std::string operator()(double v) const { return absl::StrCat(v); }
  std::string operator()(bool v) const { return v ? "true" : "false"; }
  std::string operator()(const std::string& v) const { return "\"" + v + "\""; }
  std::string operator()(const std::vector<int64_t>& v) const {
    return "[" + absl::StrJoin(v, ", ") + "]";
  }
};

}  // namespace

std::string Attrs::ToString() const {
  std::vector<std::string> parts;
  for (const auto& [name, value] : values_) {
    parts.push_back(absl::StrCat(name, "=", std::visit(AttrPrinter{}, value)));
  }
  return "{" + absl::StrJoin(parts, ", ") + "}";
}

}  // namespace dlf
