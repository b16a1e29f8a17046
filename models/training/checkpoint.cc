#include "models/training/checkpoint.h"

#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "graph/version.h"
#include "models/registry.h"
#include "nlohmann/json.hpp"

namespace dlf::training {
namespace {

absl::Status DropTiedNames(const std::string& model, std::map<std::string, Tensor>& tensors, const std::string& path) {
  const absl::StatusOr<const models::ModelSpec*> spec = models::FindModel(model);
  if (!spec.ok()) return absl::OkStatus();  // an ONNX file's model: no second names
  for (const auto& [second, name] : (*spec)->tied_names) {
    const auto it = tensors.find(second), original = tensors.find(name);
    if (it == tensors.end() || original == tensors.end()) continue;
    const Tensor& a = it->second;
    const Tensor& b = original->second;
    if (a.dtype() != b.dtype() || a.shape() != b.shape() || std::memcmp(a.raw(), b.raw(), a.num_bytes()) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": '", second, "' differs from '", name,
                                                     "': model ", model, " ties them (one tensor under two names)"));
    }
    tensors.erase(it);
  }
  return absl::OkStatus();
}

using json = nlohmann::json;

// A JSON array of T from metadata[key], or an error naming the path and the key.
template <typename T>
absl::StatusOr<std::vector<T>> JsonList(const std::map<std::string, std::string>& meta,
                                        const std::string& key, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": metadata '", key, "' ", why));
  };
  auto it = meta.find(key);
  if (it == meta.end()) return bad("is missing");
  const json j = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return bad("is not a JSON list");
  std::vector<T> out;
  for (const json& e : j) {
    const bool ok = std::is_same_v<T, std::string> ? e.is_string() : e.is_number();
    if (!ok) return bad("has an element of the wrong type");
    out.push_back(e.get<T>());
  }
  return out;
}

// A weight that is NaN or infinite (a diverged run's) would only give NaN outputs: refused,
// naming the first such tensor and element.
absl::Status CheckFinite(const Graph& g, const std::map<std::string, Tensor>& tensors,
                         const std::string& origin, const NamePattern& skip) {
  for (Value p : g.persistent_values()) {
    if (skip.Matches(g.name(p)) || g.dtype(p) != DType::kF32) continue;
    const Tensor& t = tensors.at(g.name(p));
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if (std::isfinite(t.f32()[i])) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": tensor '", g.name(p), "' holds a non-finite value (", t.f32()[i], " at element ", i,
          "): these weights are broken (a diverged run?)"));
    }
  }
  return absl::OkStatus();
}

std::string ShapeText(const std::vector<int64_t>& s) { return absl::StrCat("[", absl::StrJoin(s, ", "), "]"); }

}  // namespace

void EncodeRunInfo(const RunInfo& info, std::map<std::string, std::string>& meta) {
  meta["format"] = kCheckpointFormat;
  meta["model"] = info.model;
  if (info.task != models::TaskKind::kClassification) meta["task"] = models::TaskName(info.task);
  meta["dataset"] = info.dataset;
  meta["input_shape"] = json(info.input_shape).dump();
  meta["normalization_mean"] = json(info.mean).dump();
  meta["normalization_std"] = json(info.std).dump();
  meta["class_names"] = json(info.class_names).dump();
  meta["model_options"] = json(models::ModelVariantRecord(info.model_options)).dump();
  meta["eval_transform"] = json{{"interpolation", info.interpolation == data::Interpolation::kBicubic ? "bicubic" : "bilinear"},
                                {"crop_fraction", info.crop_fraction},
                                {"crop_size", info.eval_crop_size}}.dump();
  meta["dlf_version"] = kVersion;
}

absl::StatusOr<RunInfo> DecodeRunInfo(const std::map<std::string, std::string>& meta,
                                      const std::string& path) {
  auto it = meta.find("format");
  if (it == meta.end() || it->second != kCheckpointFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a dlf checkpoint of format ", kCheckpointFormat, " (found format '",
        it == meta.end() ? "none" : it->second, "'); it was written by another tool or an older dlf"));
  }
  RunInfo info;
  for (const char* key : {"model", "dataset", "dlf_version"}) {
    if (!meta.count(key) || meta.at(key).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": metadata '", key, "' is missing"));
    }
  }
  info.model = meta.at("model");
  info.dataset = meta.at("dataset");
  info.version = meta.at("dlf_version");
  if (auto task = meta.find("task"); task != meta.end()) {
    absl::StatusOr<models::TaskKind> kind = models::ParseTaskName(task->second);
    if (!kind.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": metadata 'task': ", kind.status().message()));
    info.task = *kind;
  }
  DLF_ASSIGN_OR_RETURN(info.input_shape, JsonList<int64_t>(meta, "input_shape", path));
  DLF_ASSIGN_OR_RETURN(info.mean, JsonList<float>(meta, "normalization_mean", path));
  DLF_ASSIGN_OR_RETURN(info.std, JsonList<float>(meta, "normalization_std", path));
  DLF_ASSIGN_OR_RETURN(info.class_names, JsonList<std::string>(meta, "class_names", path));
  if (auto it = meta.find("eval_transform"); it != meta.end()) {  // absent in older checkpoints
    const json j = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    const bool ok = j.is_object() && j.contains("interpolation") && j["interpolation"].is_string() &&
                    j.contains("crop_fraction") && j["crop_fraction"].is_number();
    const double fraction = ok ? j["crop_fraction"].get<double>() : 0;
    const std::string filter = ok ? j["interpolation"].get<std::string>() : "";
    if (!ok || !(fraction > 0 && fraction <= 1) || (filter != "bilinear" && filter != "bicubic")) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": metadata 'eval_transform' is malformed: ", it->second));
    }
    info.crop_fraction = fraction;
    if (j.contains("crop_size")) {
      if (!j["crop_size"].is_number_integer() || j["crop_size"].get<int64_t>() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": metadata 'eval_transform' has a bad crop_size: ", it->second));
      }
      info.eval_crop_size = j["crop_size"].get<int64_t>();
    }
    info.interpolation = filter == "bicubic" ? data::Interpolation::kBicubic : data::Interpolation::kBilinear;
  }
  if (auto it = meta.find("model_options"); it != meta.end()) {  // absent in older checkpoints
    const json j = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": metadata 'model_options' is not a JSON object"));
    }
    std::map<std::string, std::string> record;
    for (const auto& [key, value] : j.items()) {
      if (!value.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": metadata 'model_options' has a value that is not a string"));
      }
      record[key] = value.get<std::string>();
    }
    absl::StatusOr<models::ModelVariant> variant = models::ParseModelVariantRecord(record);
    if (!variant.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": metadata 'model_options': ", variant.status().message()));
    }
    info.model_options = *variant;
  }
  if (info.task == models::TaskKind::kLanguageModel) {  // token windows: the vocabulary is in its own key
    if (info.input_shape.size() != 1 || info.input_shape[0] <= 0 || !info.mean.empty() || !info.std.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": inconsistent metadata for a language model: input_shape ",
                                                     ShapeText(info.input_shape), " (expected [block_size]), ",
                                                     info.mean.size(), " means"));
    }
    return info;
  }
  const bool shape_ok = info.input_shape.size() == 3 && info.input_shape[0] > 0 &&
                        info.input_shape[1] > 0 && info.input_shape[2] > 0;
  if (!shape_ok || info.mean.size() != static_cast<size_t>(info.input_shape[0]) ||
      info.std.size() != info.mean.size() || info.class_names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": inconsistent metadata: input_shape ", ShapeText(info.input_shape), ", ",
        info.mean.size(), " means, ", info.std.size(), " standard deviations, ",
        info.class_names.size(), " class names"));
  }
  for (float s : info.std) {
    if (!(s > 0)) return absl::InvalidArgumentError(absl::StrCat(path, ": normalization std must be > 0"));
  }
  return info;
}

absl::Status CheckSameRun(const RunInfo& saved, const RunInfo& now, const std::string& path) {
  auto differ = [&](const char* what, const std::string& a, const std::string& b) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a checkpoint of ", what, " ", a,
                                                   ", but this run's ", what, " is ", b));
  };
  if (saved.model != now.model) return differ("model", saved.model, now.model);
  if (saved.dataset != now.dataset) return differ("dataset", saved.dataset, now.dataset);
  if (const auto a = models::ModelVariantRecord(saved.model_options), b = models::ModelVariantRecord(now.model_options);
      a != b) {
    return differ("model options", json(a).dump(), json(b).dump());
  }
  if (saved.input_shape != now.input_shape) {
    return differ("input shape", ShapeText(saved.input_shape), ShapeText(now.input_shape));
  }
  if (saved.class_names != now.class_names) {
    return differ("classes", absl::StrJoin(saved.class_names, ","), absl::StrJoin(now.class_names, ","));
  }
  return absl::OkStatus();
}

absl::Status ValidateWeights(const Graph& g, const std::map<std::string, Tensor>& tensors,
                             const std::string& origin, const NamePattern& skip) {
  std::vector<std::string> missing, unexpected, misshaped;
  for (Value p : g.persistent_values()) {
    const std::string& name = g.name(p);
    if (skip.Matches(name)) continue;
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(absl::StrCat("'", name, "'"));
    } else if (it->second.shape() != g.shape(p) || it->second.dtype() != g.dtype(p)) {
      misshaped.push_back(absl::StrCat("parameter '", name, "' is ", DTypeName(it->second.dtype()),
                                       ShapeString(it->second.shape()), ", the model expects ",
                                       DTypeName(g.dtype(p)), ShapeString(g.shape(p))));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (IsTrainingState(name) || skip.Matches(name)) continue;
    if (!g.FindPersistent(name).ok()) unexpected.push_back(absl::StrCat("'", name, "'"));
  }
  if (missing.empty() && unexpected.empty() && misshaped.empty()) return CheckFinite(g, tensors, origin, skip);
  std::vector<std::string> parts;
  auto list = [&](const std::vector<std::string>& names, const char* what) {
    if (!names.empty()) parts.push_back(absl::StrCat(names.size(), " ", what, ": ", absl::StrJoin(names, ", ")));
  };
  list(missing, "missing");
  list(unexpected, "unexpected (not a parameter or buffer of this model)");
  list(misshaped, "of another shape or dtype");
  return absl::InvalidArgumentError(absl::StrCat(
      origin, ": the tensors do not match the model's parameters and buffers: ", absl::StrJoin(parts, "; ")));
}

bool IsTrainingState(const std::string& name) {
  return absl::StartsWith(name, "optimizer/") || absl::StartsWith(name, "ema/");
}

std::map<std::string, Tensor> EmaWeights(const std::map<std::string, Tensor>& tensors) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : tensors) {
    if (absl::StartsWith(name, "ema/")) out[name.substr(4)] = t.Clone();
  }
  return out;
}

void CopyWeights(Graph& g, const std::map<std::string, Tensor>& tensors, const NamePattern& skip) {
  for (Value v : g.persistent_values()) {
    if (skip.Matches(g.name(v))) continue;
    const Tensor& src = tensors.at(g.name(v));
    std::memcpy(g.parameter_value(v).raw(), src.raw(), src.num_bytes());
  }
}

absl::Status SetWeights(Graph& g, const std::map<std::string, Tensor>& tensors,
                        const std::string& origin, const NamePattern& skip) {
  DLF_RETURN_IF_ERROR(ValidateWeights(g, tensors, origin, skip));
  CopyWeights(g, tensors, skip);
  return absl::OkStatus();
}

absl::StatusOr<std::string> LoadInitialWeights(Graph& g, const std::string& path,
                                               const RunInfo& run, const NamePattern& exclude) {
  DLF_ASSIGN_OR_RETURN(data::TensorFile file, data::ReadSafetensors(path));
  DLF_RETURN_IF_ERROR(DropTiedNames(run.model, file.tensors, path));
  std::string origin;
  auto format = file.metadata.find("format");
  if (format != file.metadata.end() && absl::StartsWith(format->second, "dlf-checkpoint")) {
    DLF_ASSIGN_OR_RETURN(const RunInfo saved, DecodeRunInfo(file.metadata, path));
    DLF_RETURN_IF_ERROR(ValidateAgainstMetadata(saved, file.tensors, path));
    if (saved.model != run.model || saved.input_shape != run.input_shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": a checkpoint of model ", saved.model, " on ", ShapeText(saved.input_shape),
          " images, but this run's model is ", run.model, " on ", ShapeText(run.input_shape)));
    }
    origin = absl::StrCat("the dlf checkpoint of ", saved.model, " trained on ", saved.dataset, " (",
                          saved.num_classes(), " classes)");
  } else {
    origin = "a plain state_dict (no dlf metadata: the data set, normalization and classes come "
             "from the model's registration and the flags)";
  }
  if (absl::Status s = SetWeights(g, file.tensors, path, exclude); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        s.message(), " (--init_exclude=REGEX leaves names out, e.g. a classifier for another "
        "number of classes)"));
  }
  std::vector<std::string> excluded;
  for (Value v : g.persistent_values()) {
    if (exclude.Matches(g.name(v))) excluded.push_back(g.name(v));
  }
  std::string summary = absl::StrCat("initialized from ", path, ": ", origin, "; ",
                                     g.persistent_values().size() - excluded.size(), " tensors loaded");
  if (!excluded.empty()) {
    absl::StrAppend(&summary, ", ", excluded.size(), " left as initialized by --init_exclude='",
                    exclude.pattern(), "' (", absl::StrJoin(excluded, ", "), ")");
  }
  return summary;
}

std::string MetadataOrigin(const std::string& path, const RunInfo& info) {
  return absl::StrCat(path, " (its metadata: ", info.model, ", ", info.num_classes(), " classes, input ",
                      ShapeText(info.input_shape), ")");
}

absl::StatusOr<std::pair<Value, Value>> BuildFromMetadata(Graph& g, const RunInfo& info) {
  DLF_ASSIGN_OR_RETURN(const models::ModelSpec* spec, models::FindModel(info.model));
  const Shape& s = info.input_shape;
  const Value images = g.Input("images", DType::kF32, {1, s[0], s[1], s[2]});
  models::ModelOptions options;
  options.num_classes = info.num_classes();
  options.extra = info.model_options;
  const Value logits = spec->build(g, images, options);
  DLF_RETURN_IF_ERROR(g.status());
  return std::make_pair(images, logits);
}

absl::Status ValidateAgainstMetadata(const RunInfo& info, const std::map<std::string, Tensor>& tensors,
                                     const std::string& path) {
  Graph g;
  if (absl::Status s = BuildFromMetadata(g, info).status(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(MetadataOrigin(path, info), ": ", s.message()));
  }
  return ValidateWeights(g, tensors, MetadataOrigin(path, info));
}

absl::Status ExpectClassifier(const RunInfo& info, const std::string& path, const std::string& instead) {
  if (info.task == models::TaskKind::kClassification) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(path, ": a ", models::TaskName(info.task), " checkpoint (model ",
                                                 info.model, "), not an image classifier's: ", instead));
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path) {
  Checkpoint c;
  DLF_ASSIGN_OR_RETURN(c.file, data::ReadSafetensors(path));
  DLF_ASSIGN_OR_RETURN(c.info, DecodeRunInfo(c.file.metadata, path));
  DLF_RETURN_IF_ERROR(DropTiedNames(c.info.model, c.file.tensors, path));
  return c;
}

}  // namespace dlf::training
