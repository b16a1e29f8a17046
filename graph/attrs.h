#ifndef DLF_GRAPH_ATTRS_H_
#define DLF_GRAPH_ATTRS_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace dlf {

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>>;

// A node's named attributes (stride, padding, rate, ...), ordered so dumps are stable.
class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, AttrValue>> init) : values_(init) {}

  void Set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  void Erase(const std::string& name) { values_.erase(name); }

  template <typename T>
  absl::StatusOr<T> Get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return absl::InvalidArgumentError(absl::StrCat("missing attribute '", name, "'"));
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    return absl::InvalidArgumentError(absl::StrCat("attribute '", name, "' has the wrong type"));
  }

  // The value, or `fallback` when absent. A present value of the wrong type is a programming
  // error caught by the op's shape rule through Get().
  template <typename T>
  T GetOr(const std::string& name, T fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    return fallback;
  }

  const std::map<std::string, AttrValue>& values() const { return values_; }
  std::string ToString() const;  // "{pad=[1, 1], stride=[2, 2]}"

 private:
  std::map<std::string, AttrValue> values_;
};

}  // namespace dlf

#endif  // DLF_GRAPH_ATTRS_H_
