#include "models/training/train_state.h"

#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/status_macros.h"

namespace dlf::training {
namespace {

constexpr char kOptimizerPrefix[] = "optimizer/";

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

void TrainState::AddStep(double loss, int64_t correct, int64_t seen) {
  epoch_loss_sum += loss * static_cast<double>(seen);
  epoch_correct += correct;
  epoch_seen += seen;
  SkipStep();
}

void TrainState::SkipStep() {
  ++global_step;
  ++step_in_epoch;
}

void TrainState::FinishEpoch(const EpochMetrics& metrics) {
  history.push_back(metrics);
  epoch = metrics.epoch;
  step_in_epoch = 0;
  epoch_loss_sum = 0;
  epoch_correct = epoch_seen = 0;
  epoch_seconds = 0;
}

void TrainState::Encode(data::TensorFile& file) const {
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
  meta["epoch_correct"] = absl::StrCat(epoch_correct);
  meta["epoch_seen"] = absl::StrCat(epoch_seen);
  meta["epoch_seconds"] = absl::StrFormat("%.17g", epoch_seconds);
  meta["best_accuracy"] = absl::StrFormat("%.17g", best_accuracy);
  meta["history"] = HistoryToJson(history);
}

absl::StatusOr<TrainState> TrainState::Decode(const data::TensorFile& file, const std::string& path) {
  TrainState t;
  const auto& meta = file.metadata;
  for (const auto& [name, tensor] : file.tensors) {
    if (absl::StartsWith(name, kOptimizerPrefix)) {
      t.optimizer.buffers[name.substr(sizeof(kOptimizerPrefix) - 1)] = tensor.Clone();
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
                         ParseMeta(meta, "epoch_correct", path, t.epoch_correct),
                         ParseMeta(meta, "epoch_seen", path, t.epoch_seen),
                         ParseMeta(meta, "epoch_seconds", path, t.epoch_seconds),
                         ParseMeta(meta, "best_accuracy", path, t.best_accuracy),
                         HistoryFromJson(history->second, t.history)}) {
    DLF_RETURN_IF_ERROR(s);
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
  int64_t position[] = {optimizer.step, epoch, step_in_epoch, global_step,
                        static_cast<int64_t>(executor_step), epoch_correct, epoch_seen};
  double totals[] = {epoch_loss_sum, epoch_seconds, best_accuracy};
  DLF_RETURN_IF_ERROR(comm.Broadcast(position, sizeof(position), "the broadcast of the position"));
  DLF_RETURN_IF_ERROR(comm.Broadcast(totals, sizeof(totals), "the broadcast of the position"));
  optimizer.step = position[0];
  epoch = position[1];
  step_in_epoch = position[2];
  global_step = position[3];
  executor_step = static_cast<uint64_t>(position[4]);
  epoch_correct = position[5];
  epoch_seen = position[6];
  epoch_loss_sum = totals[0];
  epoch_seconds = totals[1];
  best_accuracy = totals[2];
  return absl::OkStatus();
}

}  // namespace dlf::training
