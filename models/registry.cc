#include "models/registry.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/name_table.h"

namespace dlf::models {
namespace {

struct Registry {
  std::map<std::string, std::unique_ptr<ModelSpec>> specs;  // by name
  std::map<std::string, const ModelSpec*> by_name_or_alias;
  std::map<std::string, ModelFileLoader> file_loaders;         // by extension
  std::map<std::string, std::unique_ptr<ModelSpec>> from_files;  // by path
};

Registry& GetRegistry() {
  static auto* registry = new Registry;
  return *registry;
}

}  // namespace

absl::Status RegisterModel(ModelSpec spec) {
  Registry& r = GetRegistry();
  if (spec.name.empty() || !spec.build) return absl::InvalidArgumentError("a model needs a name and a builder");
  if (spec.task == TaskKind::kLanguageModel) {
    if (spec.input_shape.size() != 1 || !spec.mean.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("model '", spec.name, "': a language model's input_shape is [block_size], without normalization"));
    }
  } else if (spec.input_shape.size() != 3 || spec.mean.size() != static_cast<size_t>(spec.input_shape[0]) ||
      spec.std.size() != spec.mean.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", spec.name, "': input_shape must be [c, h, w] with c normalization values"));
  }
  std::vector<std::string> keys = spec.aliases;
  keys.push_back(spec.name);
  for (const std::string& key : keys) {
    if (r.by_name_or_alias.count(key)) {
      return absl::AlreadyExistsError(absl::StrCat("model name '", key, "' is registered twice"));
    }
  }
  auto owned = std::make_unique<ModelSpec>(std::move(spec));
  for (const std::string& key : keys) r.by_name_or_alias[key] = owned.get();
  const std::string name = owned->name;
  r.specs[name] = std::move(owned);
  return absl::OkStatus();
}

namespace {

constexpr Named<TaskKind> kTaskNames[] = {{TaskKind::kClassification, "classification"},
                                           {TaskKind::kLanguageModel, "language_model"}};
constexpr Named<InitScheme> kInitNames[] = {{InitScheme::kHe, "he"}, {InitScheme::kTorch, "torch"}};

// Each ModelVariant field by its record name: how it is written, and read back into a variant.
struct VariantField {
  const char* name;
  std::optional<std::string> (*write)(const ModelVariant&);
  absl::Status (*read)(const std::string& value, ModelVariant&);
};
const VariantField kVariantFields[] = {
    {"init",
     [](const ModelVariant& v) -> std::optional<std::string> {
       if (!v.init) return std::nullopt;
       return std::string(NameOf(kInitNames, *v.init));
     },
     [](const std::string& value, ModelVariant& v) -> absl::Status {
       absl::StatusOr<InitScheme> scheme = ParseInitScheme(value);
       if (!scheme.ok()) return scheme.status();
       v.init = *scheme;
       return absl::OkStatus();
     }},
    {"lrn", [](const ModelVariant& v) { return v.lrn ? std::optional<std::string>("true") : std::nullopt; },
     [](const std::string& value, ModelVariant& v) -> absl::Status {
       if (value != "true" && value != "false") {
         return absl::InvalidArgumentError(absl::StrCat("lrn must be true or false, found '", value, "'"));
       }
       v.lrn = value == "true";
       return absl::OkStatus();
     }},
};

}  // namespace

const char* TaskName(TaskKind task) { return NameOf(kTaskNames, task); }

absl::StatusOr<TaskKind> ParseTaskName(const std::string& name) { return ParseNamed(kTaskNames, name, "task"); }

absl::StatusOr<InitScheme> ParseInitScheme(const std::string& name) { return ParseNamed(kInitNames, name, "init"); }

std::map<std::string, std::string> ModelVariantRecord(const ModelVariant& variant) {
  std::map<std::string, std::string> record;
  for (const VariantField& field : kVariantFields) {
    if (std::optional<std::string> value = field.write(variant)) record[field.name] = *value;
  }
  return record;
}

absl::StatusOr<ModelVariant> ParseModelVariantRecord(const std::map<std::string, std::string>& record) {
  ModelVariant variant;
  for (const auto& [name, value] : record) {
    const VariantField* field = nullptr;
    for (const VariantField& f : kVariantFields) {
      if (name == f.name) field = &f;
    }
    if (field == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown model option '", name, "'"));
    if (absl::Status s = field->read(value, variant); !s.ok()) return s;
  }
  return variant;
}

ModelSpec ImageNetModel(std::string name, std::string description, ModelFn build, int64_t parameters,
                        double dropout) {
  return {.name = std::move(name),
          .description = std::move(description) + ", ImageNet normalization",
          .build = std::move(build),
          .input_shape = {3, 224, 224},
          .default_dataset = "folder",
          .mean = kImageNetMean,
          .std = kImageNetStd,
          .dropout = dropout,
          .parameters = parameters};
}

bool RegisterModelOrDie(ModelSpec spec) {
  const absl::Status s = RegisterModel(std::move(spec));
  if (!s.ok()) {
    std::fprintf(stderr, "fatal: %s\n", std::string(s.message()).c_str());
    std::abort();
  }
  return true;
}

bool RegisterModelFileLoader(const std::string& extension, ModelFileLoader loader) {
  GetRegistry().file_loaders[extension] = std::move(loader);
  return true;
}

absl::StatusOr<const ModelSpec*> FindModel(const std::string& name) {
  Registry& r = GetRegistry();
  auto it = r.by_name_or_alias.find(name);
  if (it != r.by_name_or_alias.end()) return it->second;
  for (const auto& [extension, loader] : r.file_loaders) {
    if (!absl::EndsWith(name, extension)) continue;
    auto loaded = r.from_files.find(name);
    if (loaded != r.from_files.end()) return loaded->second.get();
    absl::StatusOr<ModelSpec> spec = loader(name);
    if (!spec.ok()) return spec.status();
    return (r.from_files[name] = std::make_unique<ModelSpec>(*std::move(spec))).get();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown model '", name, "'; registered models: ", absl::StrJoin(ModelNames(), ", ")));
}

std::vector<const ModelSpec*> RegisteredModels() {
  std::vector<const ModelSpec*> specs;
  for (const auto& [name, spec] : GetRegistry().specs) specs.push_back(spec.get());
  return specs;
}

std::vector<std::string> ModelNames() {
  std::vector<std::string> names;
  for (const auto& [name, spec] : GetRegistry().specs) names.push_back(name);
  return names;
}

std::string DescribeModels() {
  std::string out;
  for (const ModelSpec* s : RegisteredModels()) {
    const std::string name =
        s->aliases.empty() ? s->name : absl::StrCat(s->name, " (", absl::StrJoin(s->aliases, ", "), ")");
    // An image's c x h x w; a language model's context in tokens.
    const std::string input = s->task == TaskKind::kLanguageModel
                                  ? absl::StrCat(s->input_shape[0], " tokens")
                                  : absl::StrJoin(s->input_shape, "x");
    absl::StrAppendFormat(&out, "  %-26s %s, %5.2f M params, default data %s: %s\n", name, input,
                          s->parameters / 1e6, s->default_dataset, s->description);
  }
  return out;
}

}  // namespace dlf::models
