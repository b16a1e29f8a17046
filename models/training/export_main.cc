#include "models/training/export_main.h"

#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "data/safetensors.h"
#include "data/text.h"
#include "models/gpt.h"
#include "models/layers.h"
#include "models/onnx/export.h"
#include "models/registry.h"
#include "models/training/checkpoint.h"
#include "models/training/cli.h"

ABSL_FLAG(std::string, checkpoint, "", "a .safetensors checkpoint written by training (required)");
ABSL_FLAG(std::string, output, "", "the ONNX file to write (required), e.g. model.onnx");

namespace dlf::training {
namespace {

// A language model's checkpoint (gpt/config in its metadata): ids i32 [batch, block_size] ->
// logits [batch, block_size, vocab]; lm_head.weight, the tied head, is the token embedding.
absl::Status ExportGpt(data::TensorFile file, const std::string& path, const std::string& output) {
  const std::string& record = file.metadata.at(models::kGptConfigMetadata);
  DLF_ASSIGN_OR_RETURN(const models::GptConfig config, models::ParseGptConfigRecord(record));
  if (file.metadata.count(data::kVocabularyMetadata) > 0) {
    DLF_ASSIGN_OR_RETURN(const data::Vocabulary vocabulary,
                         data::Vocabulary::FromRecord(file.metadata.at(data::kVocabularyMetadata)));
    DLF_RETURN_IF_ERROR(data::ExpectVocabularyFits(vocabulary, config.vocab_size, path));
  }
  Graph g;
  const Value ids = g.Input("ids", DType::kI32, {1, config.block_size});
  const Value logits = models::Gpt(g, ids, config);
  DLF_RETURN_IF_ERROR(g.status());
  file.tensors.erase(models::kGptTiedHead);
  DLF_RETURN_IF_ERROR(SetWeights(g, file.tensors, absl::StrCat(path, " (its gpt/config: ", record, ")")));
  onnx_export::ExportOptions options = {.graph_name = "gpt", .input_name = "ids"};
  for (const char* key : {models::kGptConfigMetadata, data::kVocabularyMetadata}) {
    if (file.metadata.count(key) > 0) options.metadata[key] = file.metadata.at(key);
  }
  DLF_ASSIGN_OR_RETURN(const onnx::ModelProto model, onnx_export::ExportModel(g, ids, logits, options));
  DLF_RETURN_IF_ERROR(onnx_export::WriteModel(model, output));
  absl::PrintF("wrote %s: gpt, ONNX opset %d, %d nodes, %.2f M parameters\n", output, onnx_export::kOpsetVersion,
               model.graph().node_size(), models::CountParameters(g) / 1e6);
  absl::PrintF("input 'ids' [batch, %d] (int32 token ids); output 'logits' [batch, %d, %d]\n", config.block_size,
               config.block_size, config.vocab_size);
  return absl::OkStatus();
}

absl::Status Export(const std::vector<std::string>& positional) {
  if (!positional.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", positional[0],
                                                   "' (flags are --name=value; see --help)"));
  }
  const std::string path = ResolveUserPath(absl::GetFlag(FLAGS_checkpoint));
  const std::string output = ResolveUserPath(absl::GetFlag(FLAGS_output));
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint is required (see --help)");
  if (output.empty()) return absl::InvalidArgumentError("--output is required, e.g. --output=model.onnx");
  if (std::filesystem::is_directory(output)) {
    return absl::InvalidArgumentError(absl::StrCat("--output=", output, ": is a directory, expected a file name"));
  }
  DLF_ASSIGN_OR_RETURN(data::TensorFile file, data::ReadSafetensors(path));
  if (file.metadata.count(models::kGptConfigMetadata) > 0) return ExportGpt(std::move(file), path, output);
  DLF_ASSIGN_OR_RETURN(const RunInfo info, DecodeRunInfo(file.metadata, path));
  Graph g;
  DLF_ASSIGN_OR_RETURN(const auto model_values, BuildFromMetadata(g, info));
  const auto [images, logits] = model_values;
  DLF_RETURN_IF_ERROR(SetWeights(g, file.tensors, MetadataOrigin(path, info)));
  onnx_export::ExportOptions export_options;
  export_options.graph_name = info.model;
  EncodeRunInfo(info, export_options.metadata);
  export_options.metadata.erase("format");  // the checkpoint format, not this file's
  DLF_ASSIGN_OR_RETURN(const onnx::ModelProto model, onnx_export::ExportModel(g, images, logits, export_options));
  DLF_RETURN_IF_ERROR(onnx_export::WriteModel(model, output));
  absl::PrintF("wrote %s: %s, ONNX opset %d, %d nodes, %.2f M parameters\n", output, info.model,
               onnx_export::kOpsetVersion, model.graph().node_size(), models::CountParameters(g) / 1e6);
  absl::PrintF("input 'images' [batch, %s] normalized with mean [%s] and std [%s]; output 'logits' "
               "[batch, %d]: %s\n",
               absl::StrJoin(info.input_shape, ", "), absl::StrJoin(info.mean, ", "), absl::StrJoin(info.std, ", "),
               info.num_classes(), absl::StrJoin(info.class_names, ", "));
  return absl::OkStatus();
}

}  // namespace

int ExportMain(int argc, char** argv) {
  return RunTool([&]() -> absl::Status {
    DLF_ASSIGN_OR_RETURN(const std::vector<std::string> positional,
                         ParseFlags(argc, argv,
                                    "Writes a checkpoint's model as ONNX (opset 13, dynamic batch axis; "
                                    "class names and normalization in metadata_props).\n"
                                    "  bazel run //models:export -- --checkpoint=PATH --output=model.onnx"));
    return Export(positional);
  });
}

}  // namespace dlf::training
