#include "models/training/train_state.h"

#include <algorithm>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "graph/status_macros.h"

namespace dlf::training {
namespace {

constexpr char kOptimizerPrefix[] = "optimizer/";
constexpr char kEmaPrefix[] = "ema/";

template <typename T>
absl::Status ParseMeta(const std::map<std::string, std::string>& meta, const std::string& key,
                       const std::string& path, T& out) {
  auto it = meta.find(key);
  bool ok = it != meta.end();
  if constexpr (std::is_floating_point_v<T>) {
    ok = ok && absl::SimpleAtod(it->second, &out);
  } else {
    ok = ok && absl::SimpleAtoi(it->second, &out);
  }
  if (!ok) return absl::InvalidArgumentError(absl::StrCat(path, ": missing or malformed metadata '", key, "'"));
  return absl::OkStatus();
}

}  // namespace

void TrainState::AddStep(double loss, const std::vector<double>& sums, int64_t seen, int64_t batches) {
  epoch_loss_sum += loss * static_cast<double>(seen);
  epoch_sums.resize(sums.size());
  for (size_t i = 0; i < sums.size(); ++i) epoch_sums[i] += sums[i];
  epoch_seen += seen;
  SkipStep(batches);
}

void TrainState::SkipStep(int64_t batches) {
  ++global_step;
  step_in_epoch += batches;
}

void TrainState::FinishEpoch(const EpochMetrics& metrics) {
  history.push_back(metrics);
  epoch = metrics.epoch;
  step_in_epoch = 0;
  epoch_loss_sum = 0;
  std::fill(epoch_sums.begin(), epoch_sums.end(), 0.0);
  epoch_seen = 0;
  epoch_seconds = 0;
}

void TrainState::Encode(data::TensorFile& file, const std::vector<std::string>& sum_names) const {
  auto& meta = file.metadata;
  for (const auto& [key, t] : optimizer.buffers) file.tensors[kOptimizerPrefix + key] = t.Clone();
  meta["seed"] = absl::StrCat(seed);
  meta["batch_size"] = absl::StrCat(batch_size);
  meta["optimizer"] = optimizer_kind;
  meta["optimizer_step"] = absl::StrCat(optimizer.step);
  meta["epoch"] = absl::StrCat(epoch);
  meta["step_in_epoch"] = absl::StrCat(step_in_epoch);
  meta["global_step"] = absl::StrCat(global_step);
  meta["executor_step"] = absl::StrCat(executor_step);
  meta["epoch_loss_sum"] = absl::StrFormat("%.17g", epoch_loss_sum);
  for (size_t i = 0; i < sum_names.size(); ++i) {
    meta["epoch_" + sum_names[i]] = absl::StrFormat("%.17g", i < epoch_sums.size() ? epoch_sums[i] : 0.0);
  }
  meta["epoch_seen"] = absl::StrCat(epoch_seen);
  meta["epoch_seconds"] = absl::StrFormat("%.17g", epoch_seconds);
  meta["best_accuracy"] = absl::StrFormat("%.17g", best_score);
  meta["lr_factor"] = absl::StrFormat("%.17g", lr_factor);
  meta["plateau"] = absl::StrFormat("%.17g %d %.17g %d", plateau.best, plateau.bad_epochs, early_stopping.best,
                                    early_stopping.bad_epochs);
  meta["history"] = HistoryToJson(history);
}

absl::StatusOr<TrainState> TrainState::Decode(const data::TensorFile& file, const std::string& path,
                                              const std::vector<std::string>& sum_names) {
  TrainState t;
  t.epoch_sums.assign(sum_names.size(), 0.0);
  for (size_t i = 0; i < sum_names.size(); ++i) {
    DLF_RETURN_IF_ERROR(ParseMeta(file.metadata, "epoch_" + sum_names[i], path, t.epoch_sums[i]));
  }
  const auto& meta = file.metadata;
  for (const auto& [name, tensor] : file.tensors) {
    if (absl::StartsWith(name, kOptimizerPrefix)) {
      t.optimizer.buffers[name.substr(sizeof(kOptimizerPrefix) - 1)] = tensor.Clone();
    } else if (absl::StartsWith(name, kEmaPrefix)) {
      t.ema[name.substr(sizeof(kEmaPrefix) - 1)] = tensor.Clone();
    }
  }
  auto history = meta.find("history");
  if (history == meta.end()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": missing or malformed metadata 'history'"));
  }
  auto kind = meta.find("optimizer");
  t.optimizer_kind = kind == meta.end() ? "none" : kind->second;
  for (absl::Status s : {ParseMeta(meta, "batch_size", path, t.batch_size), ParseMeta(meta, "seed", path, t.seed),
                         ParseMeta(meta, "optimizer_step", path, t.optimizer.step),
                         ParseMeta(meta, "epoch", path, t.epoch),
                         ParseMeta(meta, "step_in_epoch", path, t.step_in_epoch),
                         ParseMeta(meta, "global_step", path, t.global_step),
                         ParseMeta(meta, "executor_step", path, t.executor_step),
                         ParseMeta(meta, "epoch_loss_sum", path, t.epoch_loss_sum),
                         ParseMeta(meta, "epoch_seen", path, t.epoch_seen),
                         ParseMeta(meta, "epoch_seconds", path, t.epoch_seconds),
                         ParseMeta(meta, "best_accuracy", path, t.best_score),
                         HistoryFromJson(history->second, t.history)}) {
    DLF_RETURN_IF_ERROR(s);
  }
  // Absent in checkpoints from before --lr_schedule=plateau and early stopping.
  if (meta.count("lr_factor")) DLF_RETURN_IF_ERROR(ParseMeta(meta, "lr_factor", path, t.lr_factor));
  if (auto plateau = meta.find("plateau"); plateau != meta.end()) {
    const std::vector<std::string> parts = absl::StrSplit(plateau->second, ' ');
    if (parts.size() != 4 || !absl::SimpleAtod(parts[0], &t.plateau.best) ||
        !absl::SimpleAtoi(parts[1], &t.plateau.bad_epochs) || !absl::SimpleAtod(parts[2], &t.early_stopping.best) ||
        !absl::SimpleAtoi(parts[3], &t.early_stopping.bad_epochs)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": missing or malformed metadata 'plateau'"));
    }
  }
  if (t.epoch < 0 || t.step_in_epoch < 0 || t.global_step < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": negative position in its metadata"));
  }
  return t;
}

absl::Status TrainState::Broadcast(Communicator& comm) {
  for (auto& [name, t] : optimizer.buffers) {
    DLF_RETURN_IF_ERROR(comm.Broadcast(t.raw(), t.num_bytes(), "the broadcast of the optimizer state"));
  }
  for (auto& [name, t] : ema) {
    DLF_RETURN_IF_ERROR(comm.Broadcast(t.raw(), t.num_bytes(), "the broadcast of the EMA weights"));
  }
  int64_t position[] = {optimizer.step,  epoch,       step_in_epoch,      global_step,
                        static_cast<int64_t>(executor_step), epoch_seen, plateau.bad_epochs,
                        early_stopping.bad_epochs};
  double totals[] = {epoch_loss_sum, epoch_seconds, best_score, lr_factor, plateau.best, early_stopping.best};
  DLF_RETURN_IF_ERROR(comm.Broadcast(position, sizeof(position), "the broadcast of the position"));
  DLF_RETURN_IF_ERROR(comm.Broadcast(totals, sizeof(totals), "the broadcast of the position"));
  int64_t sums = static_cast<int64_t>(epoch_sums.size());
  DLF_RETURN_IF_ERROR(comm.Broadcast(&sums, sizeof(sums), "the broadcast of the position"));
  epoch_sums.resize(sums);
  DLF_RETURN_IF_ERROR(comm.Broadcast(epoch_sums.data(), sums * sizeof(double), "the broadcast of the position"));
  optimizer.step = position[0];
  epoch = position[1];
  step_in_epoch = position[2];
  global_step = position[3];
  executor_step = static_cast<uint64_t>(position[4]);
  epoch_seen = position[5];
  epoch_loss_sum = totals[0];
  plateau.bad_epochs = position[6];
  early_stopping.bad_epochs = position[7];
  epoch_seconds = totals[1];
  best_score = totals[2];
  lr_factor = totals[3];
  plateau.best = totals[4];
  early_stopping.best = totals[5];
  return absl::OkStatus();
}

}  // namespace dlf::training
