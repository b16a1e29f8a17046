#ifndef DLF_MODELS_ONNX_ATTRIBUTES_H_
#define DLF_MODELS_ONNX_ATTRIBUTES_H_

// The attributes of ONNX nodes as dlf's import reads them: one table of every attribute each
// op's import function understands, with the ONNX spec's default, and a reader per node that
// records what the function read, so that an attribute nobody read can be held to its default.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "onnx/onnx_pb.h"

namespace dlf::onnx_import {

class NodeAttributes {
 public:
  explicit NodeAttributes(const onnx::NodeProto& node) : node_(node) {}

  // Before the op's function runs: every attribute of the node is one the table lists for its
  // op (else Unimplemented, naming it and what the op takes), of the type the spec gives
  // (else InvalidArgument, naming both types).
  absl::Status CheckListed() const;
  // After it ran: every attribute it did not read has the spec's default (else Unimplemented).
  absl::Status CheckUnread() const;

  // The node's attribute `name`, else the spec's default; nullptr when there is neither (a
  // default that depends on the input, e.g. Transpose's reversed axes: the caller's fallback).
  const onnx::AttributeProto* Get(const std::string& name);
  bool Has(const std::string& name);  // the node's own, not a default
  int64_t Int(const std::string& name, int64_t fallback = 0);
  double Float(const std::string& name, double fallback = 0);
  std::vector<int64_t> Ints(const std::string& name, std::vector<int64_t> fallback = {});
  std::string String(const std::string& name, const std::string& fallback = "");

 private:
  const onnx::AttributeProto* Own(const std::string& name) const;

  const onnx::NodeProto& node_;
  std::set<std::string> read_;
};

}  // namespace dlf::onnx_import

#endif  // DLF_MODELS_ONNX_ATTRIBUTES_H_
