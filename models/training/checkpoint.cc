#include "models/training/checkpoint.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "graph/version.h"
#include "nlohmann/json.hpp"

namespace dlf::training {
namespace {

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

std::string ShapeText(const std::vector<int64_t>& s) { return absl::StrCat("[", absl::StrJoin(s, ", "), "]"); }

}  // namespace

void EncodeRunInfo(const RunInfo& info, std::map<std::string, std::string>& meta) {
  meta["format"] = kCheckpointFormat;
  meta["model"] = info.model;
  meta["dataset"] = info.dataset;
  meta["input_shape"] = json(info.input_shape).dump();
  meta["normalization_mean"] = json(info.mean).dump();
  meta["normalization_std"] = json(info.std).dump();
  meta["class_names"] = json(info.class_names).dump();
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
  DLF_ASSIGN_OR_RETURN(info.input_shape, JsonList<int64_t>(meta, "input_shape", path));
  DLF_ASSIGN_OR_RETURN(info.mean, JsonList<float>(meta, "normalization_mean", path));
  DLF_ASSIGN_OR_RETURN(info.std, JsonList<float>(meta, "normalization_std", path));
  DLF_ASSIGN_OR_RETURN(info.class_names, JsonList<std::string>(meta, "class_names", path));
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
  if (saved.input_shape != now.input_shape) {
    return differ("input shape", ShapeText(saved.input_shape), ShapeText(now.input_shape));
  }
  if (saved.class_names != now.class_names) {
    return differ("classes", absl::StrJoin(saved.class_names, ","), absl::StrJoin(now.class_names, ","));
  }
  return absl::OkStatus();
}

absl::Status ValidateWeights(const Graph& g, const std::map<std::string, Tensor>& tensors,
                             const std::string& origin) {
  for (Value p : g.persistent_values()) {
    auto it = tensors.find(g.name(p));
    if (it == tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": missing parameter '", g.name(p),
                                                     "' (is it a checkpoint of another model?)"));
    }
    if (it->second.shape() != g.shape(p) || it->second.dtype() != g.dtype(p)) {
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": parameter '", g.name(p), "' is ", DTypeName(it->second.dtype()),
          ShapeString(it->second.shape()), ", the model expects ", DTypeName(g.dtype(p)),
          ShapeString(g.shape(p))));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (absl::StartsWith(name, "optimizer/")) continue;
    if (!g.FindPersistent(name).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": tensor '", name,
                                                     "' is not a parameter of this model"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path) {
  Checkpoint c;
  DLF_ASSIGN_OR_RETURN(c.file, data::ReadSafetensors(path));
  DLF_ASSIGN_OR_RETURN(c.info, DecodeRunInfo(c.file.metadata, path));
  return c;
}

}  // namespace dlf::training
