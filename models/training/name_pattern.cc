#include "models/training/name_pattern.h"

#include "absl/strings/str_cat.h"

namespace dlf::training {

absl::StatusOr<NamePattern> NamePattern::Create(const std::string& flag, const std::string& pattern) {
  NamePattern p;
  p.pattern_ = pattern;
  if (pattern.empty()) return p;
  try {
    p.regex_ = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "='", pattern, "' is not a valid regular expression: ", e.what()));
  }
  return p;
}

bool NamePattern::Matches(const std::string& name) const {
  return regex_ != nullptr && std::regex_search(name, *regex_);
}

}  // namespace dlf::training
