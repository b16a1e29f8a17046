// Where the trainer meets files: its starting point (a resumed run, or initial weights) and
// its checkpoints.

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/safetensors.h"
#include "graph/status_macros.h"
#include "models/training/trainer.h"

namespace dlf::training {

absl::Status Trainer::LoadStartingPoint() {
  if (!config_.out_dir.empty() && is_root()) {
    std::error_code ec;
    std::filesystem::create_directories(config_.out_dir, ec);
    if (ec) {
      return absl::PermissionDeniedError(absl::StrCat(
          "--checkpoint_dir ", config_.out_dir, ": cannot create the directory: ", ec.message()));
    }
  }
  if (!is_root()) {
    // Rank 0 reads the checkpoint; the synchronization below hands the state to the others.
  } else if (config_.resume) {
    const std::string last = OutPath("last.safetensors");
    if (std::filesystem::exists(last)) {
      DLF_RETURN_IF_ERROR(LoadCheckpoint(last, true));
      if (config_.verbose) {
        absl::PrintF("resumed from %s at epoch %lld, step %lld of the epoch\n", last.c_str(),
                     state_.epoch + 1, state_.step_in_epoch);
      }
    } else if (config_.verbose) {
      absl::PrintF("no checkpoint at %s: starting from scratch\n", last.c_str());
    }
  } else if (!config_.init_from.empty()) {
    DLF_ASSIGN_OR_RETURN(const std::string loaded,
                         LoadInitialWeights(graph(), config_.init_from, config_.run, config_.init_exclude));
    if (config_.verbose) absl::PrintF("%s\n", loaded);
  }
  DLF_RETURN_IF_ERROR(ForEachCallback([&](Callback& c) { return c.OnTrainBegin(*this); }));
  state_.optimizer = optimizer_->SaveState();
  state_.executor_step = step_->executor().step();
  DLF_RETURN_IF_ERROR(parallel_->SyncFromRoot(graph(), state_));
  DLF_RETURN_IF_ERROR(optimizer_->LoadState(state_.optimizer));
  state_.optimizer = {};  // the optimizer holds it; checkpoints take a fresh copy
  step_->executor().set_step(state_.executor_step);
  return absl::OkStatus();
}

absl::Status Trainer::SaveCheckpoint(const std::string& path, bool with_training_state) {
  data::TensorFile file;
  for (Value v : graph().persistent_values()) file.tensors[graph().name(v)] = graph().parameter_value(v).Clone();
  for (const auto& [second, name] : config_.tied_names) file.tensors[second] = file.tensors.at(name).Clone();
  auto& meta = file.metadata;
  EncodeRunInfo(config_.run, meta);
  for (const auto& [key, value] : config_.task_metadata) meta[key] = value;
  meta["epochs_completed"] = absl::StrCat(state_.history.size());
  for (const auto& [name, t] : state_.ema) file.tensors["ema/" + name] = t.Clone();  // --model_ema
  if (with_training_state) {
    state_.executor_step = step_->executor().step();
    state_.optimizer = optimizer_->SaveState();
    state_.Encode(file, task().step_sums());
    state_.optimizer = {};
  }
  return data::WriteSafetensors(path, file);
}

absl::Status Trainer::LoadCheckpoint(const std::string& path, bool restore_training_state) {
  DLF_ASSIGN_OR_RETURN(const Checkpoint checkpoint, ReadCheckpoint(path));
  DLF_RETURN_IF_ERROR(CheckSameRun(checkpoint.info, config_.run, path));
  DLF_RETURN_IF_ERROR(ValidateWeights(graph(), checkpoint.file.tensors, MetadataOrigin(path, checkpoint.info)));
  if (restore_training_state) {
    DLF_ASSIGN_OR_RETURN(TrainState t, TrainState::Decode(checkpoint.file, path, task().step_sums()));
    if (t.batch_size != config_.batch_size || t.seed != config_.seed) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": saved with --batch_size=", t.batch_size, " --seed=", t.seed,
          "; resuming exactly needs the same, found --batch_size=", config_.batch_size,
          " --seed=", config_.seed));
    }
    if (const char* kind = optim::OptimizerName(config_.optimizer.kind); t.optimizer_kind != kind) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": saved by optimizer '", t.optimizer_kind,
                                                     "', but this run's --optimizer is '", kind, "'"));
    }
    if (absl::Status s = optimizer_->CheckState(t.optimizer); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
    if (!t.ema.empty()) DLF_RETURN_IF_ERROR(ValidateWeights(graph(), t.ema, absl::StrCat(path, " (its EMA weights)")));
    // Everything is checked: from here on nothing fails.
    DLF_RETURN_IF_ERROR(optimizer_->LoadState(t.optimizer));
    t.optimizer = {};
    step_->executor().set_step(t.executor_step);
    state_ = std::move(t);
  }
  CopyWeights(graph(), checkpoint.file.tensors);
  return absl::OkStatus();
}

}  // namespace dlf::training
