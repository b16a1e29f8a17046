// ONNX's own node test cases through dlf's import (models/onnx/backend_test.h), and the
// import's attribute checks (models/onnx/attributes.h) on one-node files.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/onnx/backend_test.h"
#include "models/onnx/import.h"
#include "onnx/onnx_pb.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::onnx_import {
namespace {

using ::testing::HasSubstr;

std::set<std::string> ListedPassing() {
  std::ifstream in("tests/models/onnx/conformance_passing.txt");
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') names.insert(line);
  }
  return names;
}

TEST(OnnxNodeCasesTest, TheListedCasesPassAndNoneFails) {
  const std::string dir = testing::TempDir("onnx_node_cases");
  const testing::ProcessResult generated =
      testing::RunProcess(testing::PythonPath(), {"tools/onnx_node_cases.py", "generate", dir});
  ASSERT_EQ(generated.exit_code(), 0) << generated.output;
  absl::StatusOr<std::vector<std::filesystem::path>> cases = CaseDirs(std::filesystem::path(dir) / "node");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_GT(cases->size(), 900u);  // ONNX 1.12 has 922
  std::set<std::string> passing;
  std::vector<std::string> failed;
  for (const std::filesystem::path& c : *cases) {
    const CaseOutcome o = RunCase(c, Tolerance{});
    if (o.verdict == Verdict::kPassed) passing.insert(c.filename().string());
    if (o.verdict == Verdict::kFailed) failed.push_back(c.filename().string() + ": " + o.detail);
  }
  EXPECT_THAT(failed, ::testing::IsEmpty()) << absl::StrJoin(failed, "\n");
  const std::set<std::string> listed = ListedPassing();
  ASSERT_GT(listed.size(), 200u);
  std::vector<std::string> lost, gained;
  for (const std::string& name : listed) {
    if (!passing.count(name)) lost.push_back(name);
  }
  for (const std::string& name : passing) {
    if (!listed.count(name)) gained.push_back(name);
  }
  EXPECT_THAT(lost, ::testing::IsEmpty()) << "listed as passing, no longer pass: " << absl::StrJoin(lost, ", ");
  EXPECT_THAT(gained, ::testing::IsEmpty()) << "pass now; add them to conformance_passing.txt: "
                                            << absl::StrJoin(gained, ", ");
}

// A file of one node `op` on x: float [1, 2, 4, 4] (and the weight w: float [2, 2, 1, 1], an
// initializer, for ops that take two inputs), writing y.
onnx::ModelProto OneNode(const std::string& op, int inputs = 1) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  onnx::ValueInfoProto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  for (int d : {1, 2, 4, 4}) x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  g->add_output()->set_name("y");
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::NodeProto* n = g->add_node();
  n->set_name("the_node");
  n->set_op_type(op);
  n->add_input("x");
  if (inputs == 2) {
    n->add_input("w");
    onnx::TensorProto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int d : {2, 2, 1, 1}) w->add_dims(d);
    for (int i = 0; i < 4; ++i) w->add_float_data(1.0f);
  }
  n->add_output("y");
  return m;
}

onnx::AttributeProto* AddAttribute(onnx::ModelProto& m, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}

absl::Status Build(const onnx::ModelProto& m) {
  Graph g;
  Tensor x(DType::kF32, {1, 2, 4, 4});
  return BuildNetwork(m.SerializeAsString(), "one_node.onnx", g, {{"x", &x}}).status();
}

TEST(OnnxAttributesTest, AnAttributeTheImportDoesNotUnderstandIsAnErrorNamingNodeOpAndAttribute) {
  onnx::ModelProto relu = OneNode("Relu");
  AddAttribute(relu, "alpha", onnx::AttributeProto::FLOAT)->set_f(0.1f);
  const absl::Status s = Build(relu);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("one_node.onnx: node 'the_node' (Relu): attribute 'alpha' is not understood"));
  EXPECT_THAT(s.message(), HasSubstr("Relu takes no attributes"));

  onnx::ModelProto conv = OneNode("Conv", 2);
  AddAttribute(conv, "kernel_size", onnx::AttributeProto::INTS)->add_ints(1);  // a torch name, not ONNX's
  EXPECT_THAT(Build(conv).message(), HasSubstr("attribute 'kernel_size' is not understood by dlf's import (Conv takes "
                                               "auto_pad, dilations, group, kernel_shape, pads, strides)"));
}

TEST(OnnxAttributesTest, AnAttributeOfTheWrongTypeIsAnErrorNamingBothTypes) {
  onnx::ModelProto conv = OneNode("Conv", 2);
  AddAttribute(conv, "group", onnx::AttributeProto::FLOAT)->set_f(1.0f);
  const absl::Status s = Build(conv);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("node 'the_node' (Conv): attribute 'group' is of type FLOAT; the ONNX spec gives "
                                     "it type INT"));
}

TEST(OnnxAttributesTest, AnAttributeTheImportLeavesUnreadMustHoldTheSpecsDefault) {
  onnx::ModelProto pool = OneNode("MaxPool");
  onnx::AttributeProto* kernel = AddAttribute(pool, "kernel_shape", onnx::AttributeProto::INTS);
  kernel->add_ints(1);
  kernel->add_ints(1);
  AddAttribute(pool, "storage_order", onnx::AttributeProto::INT)->set_i(0);  // the default, written out
  AddAttribute(pool, "auto_pad", onnx::AttributeProto::STRING)->set_s("NOTSET");
  EXPECT_TRUE(Build(pool).ok()) << Build(pool);
  pool.mutable_graph()->mutable_node(0)->mutable_attribute(2)->set_s("SAME_UPPER");
  EXPECT_THAT(Build(pool).message(),
              HasSubstr("(MaxPool): attribute 'auto_pad' = 'SAME_UPPER' is not supported here (dlf takes its default, "
                        "'NOTSET')"));
}

TEST(OnnxAttributesTest, AConvolutionsKernelShapeMustAgreeWithItsWeight) {
  onnx::ModelProto conv = OneNode("Conv", 2);
  onnx::AttributeProto* k = AddAttribute(conv, "kernel_shape", onnx::AttributeProto::INTS);
  k->add_ints(1);
  k->add_ints(1);
  EXPECT_TRUE(Build(conv).ok()) << Build(conv);
  k->set_ints(1, 3);
  EXPECT_THAT(Build(conv).message(), HasSubstr("kernel_shape [1, 3] disagrees with the weight's [2, 2, 1, 1]"));
}

// Malformed nodes (issue 33's list): each a clear error naming the node, never a crash.
TEST(OnnxMalformedNodeTest, WrongInputCountsGroupsAndUnknownShapesAreClearErrors) {
  onnx::ModelProto add = OneNode("Add");  // one input of two
  EXPECT_THAT(Build(add).message(), HasSubstr("node 'the_node': op Add (opset 13): expected 2 inputs, found 1"));

  onnx::ModelProto conv = OneNode("Conv", 2);  // x has 2 channels; 3 groups do not divide them
  AddAttribute(conv, "group", onnx::AttributeProto::INT)->set_i(3);
  const absl::Status groups = Build(conv);
  EXPECT_FALSE(groups.ok());
  EXPECT_THAT(groups.message(), HasSubstr("node 'the_node' (Conv)"));
  EXPECT_THAT(groups.message(), HasSubstr("group"));

  // Reshape to a shape computed from the float input at run time: not known when built.
  onnx::ModelProto reshape = OneNode("Reshape");
  onnx::NodeProto* n = reshape.mutable_graph()->mutable_node(0);
  n->add_input("shape");
  onnx::NodeProto* cast = reshape.mutable_graph()->add_node();
  cast->set_op_type("Cast");
  cast->set_name("to_ints");
  cast->add_input("x");
  cast->add_output("shape");
  AddAttribute(reshape, "to", onnx::AttributeProto::INT);  // on the Reshape: not understood
  reshape.mutable_graph()->mutable_node(0)->clear_attribute();
  onnx::AttributeProto* to = cast->add_attribute();
  to->set_name("to");
  to->set_type(onnx::AttributeProto::INT);
  to->set_i(onnx::TensorProto::INT64);
  reshape.mutable_graph()->mutable_node()->SwapElements(0, 1);  // the Cast first
  EXPECT_THAT(Build(reshape).message(),
              HasSubstr("node 'to_ints': op Cast (opset 13): a cast of float values to ONNX type 7"));
}

}  // namespace
}  // namespace dlf::onnx_import
