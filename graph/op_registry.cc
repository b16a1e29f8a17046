#include "graph/op_registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace dlf {

OpRegistry& OpRegistry::Global() {
  static auto* registry = new OpRegistry();
  return *registry;
}

absl::Status OpRegistry::Register(OpDef def) {
  if (def.name.empty() || !def.shape || !def.kernel) {
    return absl::InvalidArgumentError(
        absl::StrCat("op '", def.name, "' needs a name, a shape rule and a kernel"));
  }
  if (ops_.contains(def.name)) {
    return absl::AlreadyExistsError(absl::StrCat("op '", def.name, "' is registered twice"));
  }
  std::string name = def.name;
  ops_[name] = std::make_unique<OpDef>(std::move(def));
  return absl::OkStatus();
}

const OpDef* OpRegistry::Find(const std::string& name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : it->second.get();
}

std::vector<std::string> OpRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, def] : ops_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

bool RegisterOpOrDie(OpDef def) {
  absl::Status s = OpRegistry::Global().Register(std::move(def));
  if (!s.ok()) {
    std::fprintf(stderr, "op registration failed: %s\n", s.ToString().c_str());
    std::abort();
  }
  return true;
}

}  // namespace dlf
