#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "graph/passes/passes.h"

namespace dlf::passes {
namespace {

std::map<std::string, PlanRewrite>& Rewrites() {
  static auto* rewrites = new std::map<std::string, PlanRewrite>;  // by name: a fixed order
  return *rewrites;
}

}  // namespace

bool RegisterPlanRewrite(PlanRewrite rewrite) {
  if (!Rewrites().emplace(rewrite.name, rewrite).second) {
    std::fprintf(stderr, "plan rewrite '%s' registered twice\n", rewrite.name.c_str());
    std::abort();
  }
  return true;
}

Plan Rewrite(Plan plan) {
  if (!plan.options.rewrite) return plan;
  for (const auto& [name, rewrite] : Rewrites()) rewrite.apply(plan);
  return plan;
}

}  // namespace dlf::passes
