#ifndef DLF_MODELS_TRAINING_NAME_PATTERN_H_
#define DLF_MODELS_TRAINING_NAME_PATTERN_H_

// The parameter-name patterns of --init_exclude and --freeze.

#include <memory>
#include <regex>
#include <string>

#include "absl/status/statusor.h"

namespace dlf::training {

// A regular expression (ECMAScript syntax) that a name matches when it matches any part of it,
// as Python's re.search: "fc" matches "fc.weight", "^layer[12]\." the first two stages. An
// empty pattern matches nothing.
class NamePattern {
 public:
  NamePattern() = default;
  // The error names `flag` and says why the expression is not valid.
  static absl::StatusOr<NamePattern> Create(const std::string& flag, const std::string& pattern);

  bool Matches(const std::string& name) const;
  bool empty() const { return regex_ == nullptr; }
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<const std::regex> regex_;
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_NAME_PATTERN_H_
