// The tools as a user meets them: --help and --version, and a table of bad invocations of
// train, evaluate and predict. Each must end with exit code 1 (not a signal, not an abort) and
// one line starting "error:" that names what was wrong.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "graph/cpu.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "data/safetensors.h"
#include "gmock/gmock.h"
#include "graph/version.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "stb/stb_image_write.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::RunProcess;
using ::dlf::testing::TempDir;
using ::testing::HasSubstr;

// A small ONNX network (global average pooling and a linear layer over [batch, 3, 32, 32]),
// with `op` in place of the pooling, at `opset`, and the input's height `height` (0: dynamic).
std::string OnnxBytes(const std::string& op, int64_t opset, int64_t height) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(opset);
  onnx::GraphProto& g = *m.mutable_graph();
  auto value = [](onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (size_t i = 0; i < dims.size(); ++i) {
      if (i == 0 || dims[i] == 0) {
        t->mutable_shape()->add_dim()->set_dim_param(i == 0 ? "batch" : "height");
      } else {
        t->mutable_shape()->add_dim()->set_dim_value(dims[i]);
      }
    }
  };
  value(g.add_input(), "images", {1, 3, height, 32});
  value(g.add_output(), "logits", {1, 10});
  for (auto [name, dims] : {std::pair<std::string, std::vector<int64_t>>{"fc.weight", {10, 3}}, {"fc.bias", {10}}}) {
    onnx::TensorProto* t = g.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) t->add_dims(d), n *= d;
    for (int64_t i = 0; i < n; ++i) t->add_float_data(0.1f);
  }
  auto node = [&](const std::string& type, std::vector<std::string> in, const std::string& out) {
    onnx::NodeProto* n = g.add_node();
    n->set_op_type(type);
    n->set_name(out + "_node");
    for (const std::string& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  };
  node(op, {"images"}, "pooled");
  onnx::AttributeProto* axis = node("Flatten", {"pooled"}, "flat")->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(1);
  onnx::AttributeProto* trans = node("Gemm", {"flat", "fc.weight", "fc.bias"}, "logits")->add_attribute();
  trans->set_name("transB");
  trans->set_type(onnx::AttributeProto::INT);
  trans->set_i(1);
  return m.SerializeAsString();
}

// Files the bad invocations point at, made once.
struct Files {
  std::string dir, checkpoint, text, truncated, empty, huge_bmp, png, plain_safetensors, nan_checkpoint;
};

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

const Files& GetFiles() {
  static const Files* files = [] {
    auto* f = new Files;
    f->dir = TempDir("cli_files");
    // A real checkpoint: two LeNet steps on generated data.
    const ProcessResult r = RunProcess(
        BinaryPath("models/lenet_train"),
        {"--dataset=synthetic", "--max_steps=2", "--batch_size=16", "--threads=1",
         "--checkpoint_dir=" + f->dir + "/run"});
    EXPECT_EQ(r.exit_code(), 0) << r.output;
    f->checkpoint = f->dir + "/run/last.safetensors";
    f->text = f->dir + "/notes.txt";
    Write(f->text, "just some text, neither an image nor a checkpoint\n");
    std::ifstream in(f->checkpoint, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    f->truncated = f->dir + "/truncated.safetensors";
    Write(f->truncated, bytes.substr(0, bytes.size() / 2));
    f->empty = f->dir + "/empty.png";
    Write(f->empty, "");
    std::string bmp(54, '\0');  // claims 100000 x 100000 pixels
    bmp[0] = 'B', bmp[1] = 'M';
    for (auto [at, v] : {std::pair{10, 54u}, {14, 40u}, {18, 100000u}, {22, 100000u}}) std::memcpy(&bmp[at], &v, 4);
    bmp[26] = 1, bmp[28] = 24;
    f->huge_bmp = f->dir + "/huge.bmp";
    Write(f->huge_bmp, bmp);
    f->png = f->dir + "/ok.png";
    std::vector<uint8_t> pixels(28 * 28, 128);
    stbi_write_png(f->png.c_str(), 28, 28, 1, pixels.data(), 0);
    std::ifstream png_in(f->png, std::ios::binary);
    const std::string png((std::istreambuf_iterator<char>(png_in)), std::istreambuf_iterator<char>());
    Write(f->dir + "/truncated.png", png.substr(0, png.size() / 2));
    data::TensorFile plain;  // a valid safetensors file without dlf's metadata
    plain.tensors["w"] = Tensor::F32({2}, {1, 2});
    f->plain_safetensors = f->dir + "/plain.safetensors";
    EXPECT_TRUE(data::WriteSafetensors(f->plain_safetensors, plain).ok());
    std::filesystem::create_directories(f->dir + "/resume_dir/last.safetensors");
    absl::StatusOr<data::TensorFile> broken = data::ReadSafetensors(f->checkpoint);  // a diverged run's
    EXPECT_TRUE(broken.ok());
    broken->tensors.at("fc2.weight").f32()[7] = std::numeric_limits<float>::quiet_NaN();
    f->nan_checkpoint = f->dir + "/nan.safetensors";
    EXPECT_TRUE(data::WriteSafetensors(f->nan_checkpoint, *broken).ok());
    const std::string good_onnx = OnnxBytes("GlobalAveragePool", 13, 32);
    Write(f->dir + "/good.onnx", good_onnx);
    Write(f->dir + "/truncated.onnx", good_onnx.substr(0, good_onnx.size() / 2));
    Write(f->dir + "/text.onnx", "not a protobuf at all\n");
    Write(f->dir + "/hardmax.onnx", OnnxBytes("Hardmax", 13, 32));
    Write(f->dir + "/opset9.onnx", OnnxBytes("GlobalAveragePool", 9, 32));
    Write(f->dir + "/dynamic.onnx", OnnxBytes("GlobalAveragePool", 13, 0));
    data::TensorFile wrong_dtype;  // a state_dict whose weight is an integer tensor
    wrong_dtype.tensors["fc.weight"] = Tensor(DType::kI64, {10, 3});
    wrong_dtype.tensors["fc.bias"] = Tensor(DType::kF32, {10});
    EXPECT_TRUE(data::WriteSafetensors(f->dir + "/int_weights.safetensors", wrong_dtype).ok());
    // A small image folder: 3 classes of 12x10 JPEGs, train/ and val/; and one of other classes.
    std::vector<uint8_t> rgb(12 * 10 * 3);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
    for (const char* split : {"train", "val"}) {
      for (const char* cls : {"ant", "bee", "cat"}) {
        for (int i = 0; i < 6; ++i) {
          const std::string d = f->dir + "/photos/" + split + "/" + cls;
          std::filesystem::create_directories(d);
          stbi_write_jpg((d + "/" + std::to_string(i) + ".jpg").c_str(), 12, 10, 3, rgb.data(), 90);
        }
      }
    }
    // The synthetic set's classes as folders: a checkpoint of the synthetic set evaluates on it.
    std::vector<uint8_t> gray(28 * 28, 90);
    for (int k = 0; k < 10; ++k) {
      const std::string d = f->dir + "/same_classes/class " + std::to_string(k);
      std::filesystem::create_directories(d);
      stbi_write_png((d + "/a.png").c_str(), 28, 28, 1, gray.data(), 0);
    }
    std::filesystem::create_directories(f->dir + "/other/dog");
    stbi_write_jpg((f->dir + "/other/dog/0.jpg").c_str(), 12, 10, 3, rgb.data(), 90);
    std::filesystem::create_directories(f->dir + "/no_train/val/ant");
    Write(f->dir + "/array.json", "[1, 2]");
    Write(f->dir + "/unknown.json", R"({"model": "lenet", "epochz": 3})");
    Write(f->dir + "/bad_value.json", R"({"model": "lenet", "epochs": "many"})");
    Write(f->dir + "/nested.json", R"({"model": "lenet", "optimizer": {"kind": "sgd"}})");
    return f;
  }();
  return *files;
}

struct BadCase {
  std::string binary;             // under models/
  std::vector<std::string> args;  // "{dir}", "{ckpt}" ... are replaced by GetFiles()'s paths
  std::string expected;           // a substring of the error line
};

std::string Expand(std::string s) {
  const Files& f = GetFiles();
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"{dir}", f.dir}, {"{ckpt}", f.checkpoint}, {"{text}", f.text},
        {"{truncated}", f.truncated}, {"{empty}", f.empty}, {"{huge}", f.huge_bmp}, {"{png}", f.png},
        {"{plain}", f.plain_safetensors}, {"{nan}", f.nan_checkpoint}}) {
    for (size_t at; (at = s.find(key)) != std::string::npos;) s.replace(at, key.size(), value);
  }
  return s;
}

const std::vector<BadCase>& BadCases() {
  static const auto* cases = new std::vector<BadCase>{
      // train
      {"train", {}, "--model is required; registered models: alexnet-cifar, alexnet-seed, convnext_tiny, efficientnet_b0, gpt, lenet, mobilenet_v2, mobilenet_v3_small, regnet_y_400mf, resnet18, resnet20, resnet50, resnet56, resnext50_32x4d, vgg11_bn, vit-cifar, vit_b_16"},
      {"train", {"--model=resnet"}, "unknown model 'resnet'; registered models:"},
      {"lenet_train", {"--batch_size=0"}, "batch size must be > 0, found 0"},
      {"lenet_train", {"--batch_size=-5"}, "batch size must be > 0, found -5"},
      {"lenet_train", {"--batch_size=abc"}, "--batch_size=abc:"},
      {"lenet_train", {"--batch_size"}, "--batch_size needs a value"},
      {"lenet_train", {"--epochs=0"}, "epochs must be > 0, found 0"},
      {"lenet_train", {"--lr=-1"}, "learning rate must be >= 0, found -1"},
      {"lenet_train", {"--lr=nan"}, "learning rate must be >= 0, found nan"},
      {"lenet_train", {"--optimizer=rmsprop"}, "optimizer must be sgd, adam or adamw, found 'rmsprop'"},
      {"lenet_train", {"--lr_schedule=poly"}, "lr schedule must be step, multistep, cosine, constant or plateau, found 'poly'"},
      {"lenet_train", {"--lr_schedule=multistep"}, "the multistep schedule needs milestones"},
      {"lenet_train", {"--lr_milestones=30,abc"}, "--lr_milestones must be positive epochs"},
      {"lenet_train", {"--lr_schedule=multistep", "--lr_milestones=60,30"}, "milestones must be increasing"},
      {"lenet_train", {"--lr_step_size=0"}, "step_size must be > 0, found 0"},
      {"lenet_train", {"--lr_gamma=-0.5"}, "gamma must be > 0, found -0.5"},
      {"lenet_train", {"--warmup_epochs=-1"}, "warmup must be >= 0 epochs, found -1"},
      {"lenet_train", {"--label_smoothing=1.5"}, "label smoothing must be in [0, 1), found 1.5"},
      {"lenet_train", {"--label_smoothing=-0.1"}, "label smoothing must be in [0, 1), found -0.1"},
      {"lenet_train", {"--weight_decay=-1"}, "weight decay must be >= 0, found -1"},
      {"lenet_train", {"--momentum=1.5"}, "momentum must be in [0, 1), found 1.5"},
      {"lenet_train", {"--nesterov", "--momentum=0"}, "Nesterov momentum needs momentum > 0"},
      {"lenet_train", {"--optimizer=adam", "--adam_beta1=1"}, "Adam betas must be in [0, 1)"},
      {"lenet_train", {"--optimizer=adamw", "--adam_eps=0"}, "Adam epsilon must be > 0, found 0"},
      {"lenet_train", {"--dropout=1"}, "dropout must be in [0, 1), found 1"},
      {"lenet_train", {"--init=xavier"}, "--init must be model, he or torch, found 'xavier'"},
      {"train", {"--model=resnet20", "--lrn"}, "--lrn does not apply to model resnet20 (it takes no model options)"},
      {"lenet_train", {"--init=he"}, "--init does not apply to model lenet (it takes no model options)"},
      {"lenet_train", {"--clip_norm=-1"}, "clip_norm must be >= 0, found -1"},
      {"lenet_train", {"--max_steps=-1"}, "max_steps must be >= 0, found -1"},
      {"lenet_train", {"--checkpoint_every=-1"}, "checkpoint_every must be >= 0, found -1"},
      {"lenet_train", {"--eval_batch_size=0"}, "eval batch size must be > 0, found 0"},
      {"lenet_train", {"--seed=-1"}, "--seed must be >= 0, found -1"},
      {"lenet_train", {"--threads=-1"}, "--threads must be >= 0, found -1"},
      {"lenet_train", {"--precision=fp16"}, "--precision must be f32 or bf16, found 'fp16'"},
      {"evaluate", {"--checkpoint={ckpt}", "--precision=int8"}, "--precision must be f32 or bf16, found 'int8'"},
      {"lenet_train", {"--allreduce_dtype=fp16"}, "--allreduce_dtype must be f32 or bf16, found 'fp16'"},
      {"lenet_train", {"--allreduce_bucket_mb=0"}, "--allreduce_bucket_mb must be > 0, found 0"},
      {"lenet_train", {"--collective_timeout_s=0"}, "--collective_timeout_s must be > 0, found 0"},
      {"lenet_train", {"--check_replicas_every=-1"}, "--check_replicas_every must be >= 0, found -1"},
      {"lenet_train", {"--no_such_flag"}, "unknown flag --no_such_flag (see --help)"},
      {"lenet_train", {"stray_argument"}, "unexpected argument 'stray_argument'"},
      {"lenet_train", {"--dataset=imagenet"}, "--dataset must be cifar10, fashion_mnist, synthetic or folder, found 'imagenet'"},
      {"lenet_train", {"--data_dir=/typo/fashion"}, "/typo/fashion"},
      {"lenet_train", {"--data_dir={text}"}, "notes.txt"},
      {"train", {"--model=alexnet-cifar", "--data_dir=/typo/cifar", "--epochs=30"}, "no CIFAR-10 training files"},
      {"lenet_train", {"--resume", "--init_from={ckpt}"}, "--resume and --init_from exclude each other"},
      {"lenet_train", {"--dataset=synthetic", "--init_from={dir}"}, ": is a directory, expected a file"},
      {"lenet_train", {"--dataset=synthetic", "--init_from={dir}/none.safetensors"}, "none.safetensors: no such file"},
      {"lenet_train", {"--dataset=synthetic", "--init_from={truncated}"}, "truncated.safetensors: not a valid safetensors file"},
      {"lenet_train", {"--dataset=synthetic", "--init_from={plain}"},
       "plain.safetensors: the tensors do not match the model's parameters and buffers: 10 missing: "
       "'conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias', "
       "'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias'; 1 unexpected (not a parameter or buffer of this model): 'w'"},
      {"train", {"--model=alexnet-cifar", "--dataset=synthetic", "--init_from={ckpt}"},
       "a checkpoint of model lenet on [1, 28, 28] images, but this run's model is alexnet-cifar on [3, 32, 32]"},
      {"lenet_train", {"--dataset=synthetic", "--init_exclude=fc"}, "--init_exclude needs --init_from"},
      {"lenet_train", {"--dataset=synthetic", "--init_from={ckpt}", "--init_exclude=fc("},
       "--init_exclude='fc(' is not a valid regular expression"},
      {"lenet_train", {"--dataset=synthetic", "--freeze=^layer9"}, "--freeze='^layer9' matches no parameter of lenet"},
      {"lenet_train", {"--dataset=synthetic", "--freeze=."}, "--freeze='.' freezes every parameter: nothing to train"},
      {"lenet_train", {"--dataset=synthetic", "--freeze_bn"}, "--freeze_bn needs --freeze"},
      {"lenet_train", {"--dataset=synthetic", "--checkpoint_dir={text}"}, "cannot create the directory"},
      {"lenet_train", {"--dataset=synthetic", "--resume", "--checkpoint_dir={dir}/resume_dir"},
       "last.safetensors: is a directory, expected a file"},
      // evaluate
      {"evaluate", {}, "--checkpoint is required"},
      {"evaluate", {"--checkpoint={dir}"}, ": is a directory, expected a file"},
      {"alexnet_eval", {"--checkpoint={dir}"}, ": is a directory, expected a file"},
      {"evaluate", {"--checkpoint={dir}/none.safetensors"}, "none.safetensors: no such file"},
      {"evaluate", {"--checkpoint={truncated}"}, "not a valid safetensors file"},
      {"evaluate", {"--checkpoint={text}"}, "notes.txt: not a valid safetensors file"},
      {"evaluate", {"--checkpoint={plain}"}, "not a dlf checkpoint"},
      {"evaluate", {"--checkpoint={ckpt}", "--batch_size=0"}, "--batch_size must be > 0, found 0"},
      {"evaluate", {"--checkpoint={ckpt}", "--batch_size=-3"}, "--batch_size must be > 0, found -3"},
      {"evaluate", {"--checkpoint={ckpt}", "--dataset=imagenet"}, "found 'imagenet'"},
      {"evaluate", {"--checkpoint={ckpt}", "--dataset=cifar10", "--data_dir=/typo"}, "no CIFAR-10 test file"},
      {"evaluate", {"--checkpoint={ckpt}", "--threads=-2"}, "--threads must be >= 0, found -2"},
      {"evaluate", {"--checkpoint={ckpt}", "{png}"}, "unexpected argument"},
      {"evaluate", {"--checkpoint={ckpt}", "--data_file={text}"}, "--data_file is a language model's flag"},
      // predict
      {"predict", {"{png}"}, "--checkpoint is required"},
      {"predict", {"--checkpoint={ckpt}"}, "no image given"},
      {"predict", {"--checkpoint={ckpt}", "{text}"}, "notes.txt: not an image stb can decode"},
      {"predict", {"--checkpoint={ckpt}", "{dir}"}, ": is a directory, expected a file"},
      {"predict", {"--checkpoint={ckpt}", "{dir}/none.png"}, "none.png: no such file"},
      {"predict", {"--checkpoint={ckpt}", "{dir}/truncated.png"}, "truncated.png: not a readable PNG (libpng: "},
      {"predict", {"--checkpoint={ckpt}", "{empty}"}, "empty.png: not an image"},
      {"predict", {"--checkpoint={ckpt}", "{huge}"}, "huge.bmp: 100000x100000 pixels"},
      {"predict", {"--checkpoint={dir}", "{png}"}, ": is a directory, expected a file"},
      {"predict", {"--checkpoint={text}", "{png}"}, "not a valid safetensors file"},
      {"predict", {"--checkpoint={ckpt}", "--top_k=0", "{png}"}, "--top_k must be > 0, found 0"},
      {"predict", {"--checkpoint={nan}", "{png}"}, "nan.safetensors (its metadata: lenet, 10 classes, input [1, 28, 28]): tensor 'fc2.weight' holds a non-finite value (nan at element 7)"},
      {"evaluate", {"--checkpoint={nan}", "--dataset=synthetic"}, "tensor 'fc2.weight' holds a non-finite value"},
      {"lenet_train", {"--dataset=synthetic", "--init_from={nan}"}, "tensor 'fc2.weight' holds a non-finite value"},
      // ONNX files as models
      {"train", {"--model={dir}/text.onnx", "--dataset=synthetic"}, "text.onnx: not an ONNX model (not a protobuf ModelProto with a graph)"},
      {"train", {"--model={dir}/truncated.onnx", "--dataset=synthetic"}, "truncated.onnx: not an ONNX model"},
      {"train", {"--model={dir}/none.onnx", "--dataset=synthetic"}, "none.onnx: no such file"},
      {"train", {"--model={dir}/hardmax.onnx", "--dataset=synthetic"},
       "hardmax.onnx: node 'pooled_node': op Hardmax (opset 13) is not supported by dlf's ONNX import"},
      {"train", {"--model={dir}/opset9.onnx", "--dataset=synthetic"}, "opset9.onnx: opset 9; dlf imports opsets 11 to 17"},
      {"train", {"--model={dir}/dynamic.onnx", "--dataset=synthetic"},
       "dynamic.onnx: the input 'images' has a dynamic dimension 2 ('height'): give --input_shape=C,H,W"},
      {"train", {"--model={dir}/dynamic.onnx", "--dataset=synthetic", "--input_shape=3,32"},
       "--input_shape must be C,H,W (three sizes > 0), found '3,32'"},
      {"train", {"--model={dir}/dynamic.onnx", "--dataset=synthetic", "--input_shape=1,32,32"},
       "--input_shape=1,32,32 does not fit"},
      {"train", {"--model={dir}/good.onnx", "--dataset=synthetic", "--input_shape=3,x,32"}, "found '3,x,32'"},
      {"train", {"--model={dir}/good.onnx", "--dataset=synthetic", "--init_from={dir}/int_weights.safetensors"},
       "1 of another shape or dtype: parameter 'fc.weight' is i64[10, 3], the model expects f32[10, 3]"},
      {"train", {"--model={dir}/good.onnx", "--dataset=fashion_mnist", "--data_dir=/typo"}, "/typo"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--grad_accum_steps=0"}, "--grad_accum_steps must be > 0, found 0"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--model_ema_decay=1"}, "--model_ema_decay must be in (0, 1), found 1"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--best_metric=top5"}, "--best_metric must be one of test_loss, test_accuracy, ema_test_loss, ema_test_accuracy (the classification task's evaluation metrics), found 'top5'"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--best_metric=ema_test_accuracy"}, "needs --model_ema"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--lr_schedule=plateau", "--lr_gamma=2"}, "which must be in (0, 1), found 2"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--early_stopping_patience=-1"}, "patience must be >= 0 epochs, found -1"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--keep_checkpoints=-2"}, "--keep_checkpoints must be >= 0, found -2"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--lr_finder", "--lr_finder_start=0"}, "--lr_finder needs 0 < --lr_finder_start < --lr_finder_end"},
      {"train", {"--config={dir}/missing.json"}, "missing.json: no such file"},
      {"train", {"--config={text}"}, "notes.txt: not valid JSON"},
      {"train", {"--config={dir}/array.json"}, "expected a JSON object of flag names and values"},
      {"train", {"--config={dir}/unknown.json"}, "unknown.json: unknown flag --epochz"},
      {"train", {"--config={dir}/bad_value.json"}, "bad_value.json: --epochs=many"},
      {"train", {"--config={dir}/nested.json"}, "'optimizer' must be a string, number, boolean or list"},
      {"train", {"--model=resnet20", "--dataset=synthetic", "--resume", "--checkpoint_dir={dir}/run"},
       "trained another model or data (--model was \"lenet\", now \"resnet20\")"},
      {"train", {"--model=resnet20", "--dataset=folder"}, "--dataset=folder needs --data_dir=ROOT"},
      {"train", {"--model=resnet20", "--dataset=folder", "--data_dir={dir}/no_train"}, "no_train: no train/ folder; --dataset=folder expects"},
      {"train", {"--model=resnet20", "--dataset=folder", "--data_dir={dir}/nowhere"}, "nowhere: no such folder"},
      {"train", {"--model=resnet20", "--dataset=folder", "--data_dir={text}"}, "notes.txt: no train/ folder"},
      {"train", {"--model=resnet20", "--dataset=synthetic", "--val_dir={dir}"}, "--val_dir needs --dataset=folder"},
      {"train", {"--model=resnet20", "--dataset=folder", "--data_dir={dir}/photos", "--interpolation=nearest"},
       "--interpolation must be bilinear or bicubic, found 'nearest'"},
      {"train", {"--model=resnet20", "--dataset=folder", "--data_dir={dir}/photos", "--val_resize_size=16"},
       "--val_resize_size=16 is below the crop it is cut to (32)"},
      {"train", {"--model=alexnet-cifar", "--dataset=synthetic", "--train_crop_size=64"},
       "--train_crop_size=64: alexnet-cifar takes 32x32 images only"},
      {"train", {"--model=resnet20", "--dataset=synthetic", "--train_crop_size=-3"}, "--train_crop_size must be > 0, found -3"},
      {"train", {"--model=alexnet-cifar", "--dataset=synthetic", "--val_crop_size=48"}, "--val_crop_size=48: alexnet-cifar takes 32x32 images only"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--padding_mode=wrap"}, "--padding_mode must be constant, edge or reflect, found 'wrap'"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--padding_fill=300"}, "--padding_fill must be in [0, 255], found 300"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--color_jitter=0.4,0.4"}, "--color_jitter must be one value >= 0 or four B,C,S,H"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--color_jitter=0.4,0.4,0.4,0.9"}, "(hue at most 0.5), found '0.4,0.4,0.4,0.9'"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--random_erase=1.5"}, "--random_erase must be a probability in [0, 1], found 1.5"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--auto_augment=ra"}, "--auto_augment takes ta_wide (TrivialAugmentWide), found 'ra'"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--cutmix_alpha=-0.5"}, "--mixup_alpha and --cutmix_alpha must be >= 0, found 0 and -0.5"},
      // language models
      {"train", {"--model=gpt", "--data_file={dir}/missing.txt"}, "missing.txt"},
      {"train", {"--model=gpt", "--data_file={dir}"}, "is a directory"},
      {"train", {"--model=gpt", "--data_file={text}", "--block_size=100000"}, "fewer than block_size + 1 = 100001"},
      {"train", {"--model=gpt", "--tokenizer=word"}, "--tokenizer: expected char or byte, found 'word'"},
      {"train", {"--model=gpt", "--dataset=cifar10"}, "model gpt is a language model: it trains on --dataset=text"},
      {"train", {"--model=gpt", "--data_dir={dir}"}, "--data_dir is an image flag; model gpt is a language model"},
      {"train", {"--model=gpt", "--n_head=3"}, "--n_head=3 must divide --n_embd=128"},
      {"train", {"--model=gpt", "--n_layer=0"}, "--n_layer must be > 0, found 0"},
      {"train", {"--model=gpt", "--max_steps=10"}, "the cosine must end after the warmup (100 steps)"},
      {"train", {"--model=gpt", "--eval_interval=0"}, "--eval_interval must be > 0 steps, found 0"},
      {"train", {"--model=gpt", "--min_lr=1"}, "--min_lr must be in [0, --lr], found 1"},
      {"train", {"--model=gpt", "--best_metric=test_accuracy"}, "--best_metric must be one of val_loss, val_perplexity, val_bpc"},
      {"train", {"--model=lenet", "--dataset=synthetic", "--n_layer=2"}, "--n_layer is a language model's flag; model lenet is an image classifier"},
      // evaluate
      {"evaluate", {"--checkpoint={ckpt}", "--ema"}, "no EMA weights (ema/...): train with --model_ema"},
      {"evaluate", {"--checkpoint={ckpt}", "--dataset=folder", "--data_dir={dir}/other"},
       "the model's classes are class 0, class 1, class 2, class 3, class 4, class 5, class 6, class 7, class 8, class 9; the folder's are dog"},
      {"evaluate", {"--checkpoint={ckpt}", "--dataset=folder"}, "--dataset=folder needs --data_dir"},
      // export
      {"export", {"--output={dir}/m.onnx"}, "--checkpoint is required"},
      {"export", {"--checkpoint={ckpt}"}, "--output is required, e.g. --output=model.onnx"},
      {"export", {"--checkpoint={ckpt}", "--output={dir}"}, ": is a directory, expected a file name"},
      {"export", {"--checkpoint={dir}", "--output={dir}/m.onnx"}, ": is a directory, expected a file"},
      {"export", {"--checkpoint={truncated}", "--output={dir}/m.onnx"}, "not a valid safetensors file"},
      {"export", {"--checkpoint={plain}", "--output={dir}/m.onnx"}, "not a dlf checkpoint"},
      {"export", {"--checkpoint={nan}", "--output={dir}/m.onnx"}, "tensor 'fc2.weight' holds a non-finite value (nan at element 7)"},
      {"export", {"--checkpoint={ckpt}", "--output=/proc/m.onnx"}, "/proc/m.onnx"},
      {"export", {"--checkpoint={ckpt}", "--output={dir}/m.onnx", "extra"}, "unexpected argument 'extra'"},
  };
  return *cases;
}

TEST(CliTest, EveryBadInvocationIsOneClearErrorLine) {
  ASSERT_GE(BadCases().size(), 40u);
  for (const BadCase& c : BadCases()) {
    std::vector<std::string> args;
    for (const std::string& a : c.args) args.push_back(Expand(a));
    const ProcessResult r = RunProcess(BinaryPath("models/" + c.binary), args);
    const std::string what = c.binary + " " + (args.empty() ? "" : args[0]) + (args.size() > 1 ? " " + args[1] : "");
    EXPECT_TRUE(r.exited()) << what << ": killed by a signal\n" << r.output;
    EXPECT_EQ(r.exit_code(), 1) << what << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr("error: ")) << what;
    EXPECT_THAT(r.output, HasSubstr(Expand(c.expected))) << what;
    EXPECT_THAT(r.output, ::testing::Not(HasSubstr("terminate called"))) << what;
  }
}

// Where oneDNN has no bf16 kernels (below AVX-512), --precision=bf16 is one error line naming
// the ISA (elsewhere it trains: trainer_test's bf16 cases).
TEST(CliTest, Bf16IsAClearErrorWhereOneDnnHasNoBf16Kernels) {
  if (Bf16Supported()) GTEST_SKIP() << "this CPU's oneDNN (" << DnnlIsaName() << ") has bf16 kernels";
  const ProcessResult r = RunProcess(BinaryPath("models/lenet_train"),
                                     {"--precision=bf16", "--dataset=synthetic", "--max_steps=1"});
  EXPECT_EQ(r.exit_code(), 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("error: --precision=bf16 needs a CPU with AVX-512: oneDNN 2.6.3 has no bf16 "
                                  "kernels below it, and this CPU's oneDNN ISA is " + DnnlIsaName()));
}

TEST(CliTest, AnOnnxFileWithAnOpenImageSizeTrainsWithInputShape) {
  const Files& f = GetFiles();
  const ProcessResult r = RunProcess(BinaryPath("models/train"), {
      "--model=" + f.dir + "/dynamic.onnx", "--input_shape=3,32,32", "--dataset=synthetic", "--max_steps=2",
      "--batch_size=8", "--threads=1", "--checkpoint_dir=" + f.dir + "/dynamic_run"});
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("stopped after --max_steps=2 steps"));
  const ProcessResult e = RunProcess(BinaryPath("models/evaluate"), {"--checkpoint=" + f.dir + "/dynamic_run/last.safetensors"});
  EXPECT_EQ(e.exit_code(), 0) << e.output;
  EXPECT_THAT(e.output, HasSubstr("dynamic.onnx on synthetic"));
}

TEST(CliTest, ARunConfigHoldsFlagsThatTheCommandLineOverrides) {
  const Files& f = GetFiles();
  const std::string dir = f.dir + "/config_run";
  Write(f.dir + "/run.json", absl::StrCat(R"({"model": "lenet", "dataset": "synthetic", "max_steps": 3, "batch_size": 8,
      "lr_milestones": [5, 10], "lr_schedule": "multistep", "threads": 1, "model_ema": true, "checkpoint_dir": ")", dir, R"("})"));
  const ProcessResult r = RunProcess(BinaryPath("models/train"), {"--config=" + f.dir + "/run.json", "--max_steps=2"});
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("stopped after --max_steps=2 steps"));
  EXPECT_THAT(r.output, HasSubstr("lr 0.01 multistep (x0.1 at 5,10)"));
  std::ifstream in(dir + "/config.json");
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(written, HasSubstr(R"("max_steps": 2)"));
  EXPECT_THAT(written, HasSubstr(R"("lr_milestones": "5,10")"));
  EXPECT_THAT(written, HasSubstr(R"("model_ema": true)"));
  // The written config resumes the run; the EMA weights it saved evaluate.
  const ProcessResult resumed = RunProcess(BinaryPath("models/train"), {"--config=" + dir + "/config.json", "--resume", "--max_steps=4"});
  EXPECT_EQ(resumed.exit_code(), 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("resumed from"));
  EXPECT_THAT(resumed.output, HasSubstr("stopped after --max_steps=4 steps"));
  const ProcessResult e = RunProcess(BinaryPath("models/evaluate"), {"--checkpoint=" + dir + "/last.safetensors", "--ema"});
  EXPECT_EQ(e.exit_code(), 0) << e.output;
  EXPECT_THAT(e.output, HasSubstr("the EMA weights of"));
}

TEST(CliTest, TrainsOnAnImageFolderAndEvaluatesOnItsClassFolders) {
  const Files& f = GetFiles();
  const std::string run = f.dir + "/folder_run";
  const ProcessResult r = RunProcess(BinaryPath("models/train"), {
      "--model=resnet20", "--dataset=folder", "--data_dir=" + f.dir + "/photos", "--epochs=1", "--batch_size=6",
      "--augment", "--interpolation=bicubic", "--val_resize_size=48", "--val_crop_size=40", "--threads=1",
      "--checkpoint_dir=" + run});
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("photos/train (18 images, 3 classes)"));
  const ProcessResult e = RunProcess(BinaryPath("models/evaluate"), {
      "--checkpoint=" + run + "/last.safetensors", "--data_dir=" + f.dir + "/photos/val"});
  EXPECT_EQ(e.exit_code(), 0) << e.output;
  EXPECT_THAT(e.output, HasSubstr("(18 images)"));
  // The checkpoint records the evaluation transform (bicubic, a 40 crop of 48): evaluate repeats it.
  const size_t at = r.output.find("test loss ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_THAT(e.output, HasSubstr(r.output.substr(at, 16))) << r.output;
  EXPECT_THAT(e.output, HasSubstr("  bee "));
  const ProcessResult other = RunProcess(BinaryPath("models/evaluate"), {
      "--checkpoint=" + run + "/last.safetensors", "--data_dir=" + f.dir + "/photos/train/..", "--dataset=folder"});
  EXPECT_EQ(other.exit_code(), 0) << other.output;  // ROOT itself: its val/ is taken
}

// Writes `repeats` numbered copies of `sentence` into `text` and trains a one-layer GPT (2 heads,
// 16 wide, 8 tokens) on it for `steps` steps, evaluated every steps / 2, into `run`.
ProcessResult TrainTinyGpt(const std::string& text, const std::string& sentence, int repeats, int steps,
                           const std::string& run, const std::vector<std::string>& more = {}) {
  std::ofstream out(text);
  for (int i = 0; i < repeats; ++i) out << sentence << i << ". ";
  out.close();
  std::vector<std::string> args = {
      "--model=gpt", "--data_file=" + text, "--n_layer=1", "--n_head=2", "--n_embd=16", "--block_size=8",
      "--batch_size=4", absl::StrCat("--max_steps=", steps), "--warmup_steps=2",
      absl::StrCat("--eval_interval=", steps / 2), "--eval_iters=2", "--threads=1", "--checkpoint_dir=" + run};
  args.insert(args.end(), more.begin(), more.end());
  return RunProcess(BinaryPath("models/train"), args);
}

// The last row's val_loss in a run's metrics.csv (6 decimals), or NaN.
double LastValLoss(const std::string& run) {
  std::ifstream csv(run + "/metrics.csv");
  std::string header, line, last;
  std::getline(csv, header);
  while (std::getline(csv, line)) last = line;
  const std::vector<std::string> names = absl::StrSplit(header, ','), values = absl::StrSplit(last, ',');
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (names[i] == "val_loss") return std::strtod(values[i].c_str(), nullptr);
  }
  return std::nan("");
}

// --eval_iters=0: no validation; the lines say so instead of printing NaN losses.
TEST(CliTest, ALanguageModelRunWithoutEvaluationSaysSo) {
  const Files& f = GetFiles();
  const ProcessResult r = TrainTinyGpt(f.dir + "/noeval.txt", "a run that is never evaluated, line ", 30, 4,
                                       f.dir + "/gpt_noeval_run", {"--eval_iters=0"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("| val not evaluated | lr "));
  EXPECT_THAT(r.output, HasSubstr("done: train loss "));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("val loss nan")));
}

// --precision=bf16 trains the language model from the command line (bf16 operands in the matrix
// products and attention, f32 weights and optimizer) and its validation loss follows f32's:
// 3.292827 against 3.292790 after 12 steps on 2026-12-04's Xeon (AMX kernels); the test allows
// 2e-3, room for the AVX512-BF16 kernels of other CPUs, far below what a wrong bf16 path moves.
TEST(CliTest, ALanguageModelTrainsInBf16FromTheCommandLineAndFollowsF32) {
  if (!Bf16Supported()) GTEST_SKIP() << "this CPU's oneDNN (" << DnnlIsaName() << ") has no bf16 kernels";
  const Files& f = GetFiles();
  const std::string sentence = "bf16 and f32 tell the same story, page ";
  const ProcessResult f32 = TrainTinyGpt(f.dir + "/bf16_story.txt", sentence, 40, 12, f.dir + "/gpt_f32_run");
  ASSERT_EQ(f32.exit_code(), 0) << f32.output;
  const ProcessResult bf16 = TrainTinyGpt(f.dir + "/bf16_story.txt", sentence, 40, 12, f.dir + "/gpt_bf16_run",
                                          {"--precision=bf16"});
  ASSERT_EQ(bf16.exit_code(), 0) << bf16.output;
  EXPECT_THAT(bf16.output, HasSubstr(" threads, bf16, activations"));
  const double a = LastValLoss(f.dir + "/gpt_f32_run"), b = LastValLoss(f.dir + "/gpt_bf16_run");
  std::printf("val loss after 12 steps: f32 %.6f, bf16 %.6f\n", a, b);
  ASSERT_TRUE(std::isfinite(a) && std::isfinite(b)) << f32.output << bf16.output;
  EXPECT_NEAR(b, a, 2e-3);
  EXPECT_NE(b, a) << "bf16 computed exactly as f32: did it run in bf16?";
  const ProcessResult e = RunProcess(BinaryPath("models/evaluate"),
                                     {"--checkpoint=" + f.dir + "/gpt_bf16_run/last.safetensors", "--precision=bf16"});
  EXPECT_EQ(e.exit_code(), 0) << e.output;
  EXPECT_THAT(e.output, HasSubstr("val loss "));
}

// A GPT on a text file from the command line: counted in steps, evaluated every interval, its
// metrics by step, and a checkpoint //models:generate samples from.
TEST(CliTest, TrainsALanguageModelOnATextFileAndGeneratesFromIt) {
  const Files& f = GetFiles();
  const std::string text = f.dir + "/story.txt", run = f.dir + "/gpt_run";
  const ProcessResult r = TrainTinyGpt(text, "once upon a time there was a tiny model number ", 40, 8, run);
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("8 steps (evaluated every 4), adamw, weight decay 0.1"));
  EXPECT_THAT(r.output, HasSubstr("step 4/8: train loss "));
  EXPECT_THAT(r.output, HasSubstr("| val loss "));
  EXPECT_THAT(r.output, HasSubstr("done: val loss "));
  std::ifstream csv(run + "/metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "epoch,step,train_loss,train_perplexity,train_bpc,val_loss,val_perplexity,val_bpc,lr,"
                    "epoch_seconds,tokens_per_second");
  const ProcessResult g = RunProcess(BinaryPath("models/generate"), {
      "--checkpoint=" + run + "/best.safetensors", "--prompt=once ", "--max_new_tokens=6", "--seed=2"});
  EXPECT_EQ(g.exit_code(), 0) << g.output;
  EXPECT_THAT(g.output, HasSubstr("once "));
  const ProcessResult unknown = RunProcess(BinaryPath("models/generate"), {
      "--checkpoint=" + run + "/best.safetensors", "--prompt=zebra", "--max_new_tokens=2"});
  EXPECT_THAT(unknown.output, HasSubstr("not in the vocabulary"));
  // predict, an image tool, refuses it with one line saying what it is.
  const ProcessResult p = RunProcess(BinaryPath("models/predict"), {"--checkpoint=" + run + "/best.safetensors", text});
  EXPECT_EQ(p.exit_code(), 1) << p.output;
  EXPECT_THAT(p.output, HasSubstr("//models:generate samples text from it"));
}

// evaluate scores every window of the text's last 10% (the checkpoint records the file), which
// nanoGPT's module, loading the trainer's checkpoint with load_state_dict(strict=True), scores
// the same; the checkpoint's vocabulary is the one a text is read in.
TEST(CliTest, EvaluateScoresALanguageModelsValidationSplitAsPyTorchDoes) {
  const Files& f = GetFiles();
  const std::string text = f.dir + "/tale.txt", run = f.dir + "/gpt_eval_run";
  const ProcessResult r = TrainTinyGpt(text, "a small tale: the end of chapter ", 30, 6, run);
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  const std::string checkpoint = run + "/last.safetensors";
  // A batch that does not divide the windows: the last batch is short.
  const ProcessResult e = RunProcess(BinaryPath("models/evaluate"), {"--checkpoint=" + checkpoint, "--batch_size=3"});
  ASSERT_EQ(e.exit_code(), 0) << e.output;
  EXPECT_THAT(e.output, HasSubstr("gpt on tale.txt"));
  const size_t at = e.output.find("val loss ");
  ASSERT_NE(at, std::string::npos) << e.output;
  const std::string loss = e.output.substr(at + 9, e.output.find(',', at) - at - 9);
  const ProcessResult py = RunProcess(::dlf::testing::PythonPath(), {
      BinaryPath("tools/gpt_check.py"), "--n_head=2", "--text=" + text, "--expect_val_loss=" + loss, checkpoint});
  EXPECT_EQ(py.exit_code(), 0) << py.output;
  EXPECT_THAT(py.output, HasSubstr("load_state_dict(strict=True) took all"));
  // Windows per batch do not change the loss.
  const ProcessResult whole = RunProcess(BinaryPath("models/evaluate"), {"--checkpoint=" + checkpoint});
  EXPECT_THAT(whole.output, HasSubstr("val loss " + loss));

  const std::string other = f.dir + "/other.txt";
  std::ofstream(other) << std::string(200, 'Z');
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"--data_file=" + other}, "other.txt: 1 character(s) not in the vocabulary of "},
           {{"--data_file=" + f.dir + "/none.txt"}, "none.txt"},
           {{"--data_file=" + f.dir}, "is a directory"},
           {{"--dataset=cifar10"}, "a language model's checkpoint: it evaluates on a text (--data_file=FILE), found --dataset=cifar10"},
           {{"--data_dir=" + f.dir}, "--data_dir is an image flag"},
           {{"--ema"}, "no EMA weights (ema/...): train with --model_ema"}}) {
    std::vector<std::string> args = {"--checkpoint=" + checkpoint};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const ProcessResult bad = RunProcess(BinaryPath("models/evaluate"), args);
    EXPECT_EQ(bad.exit_code(), 1) << c.args[0] << ": " << bad.output;
    EXPECT_THAT(bad.output, HasSubstr(c.error)) << c.args[0];
  }
  // The tied head under its second name must be the token embedding.
  absl::StatusOr<data::TensorFile> file = data::ReadSafetensors(checkpoint);
  ASSERT_TRUE(file.ok()) << file.status();
  file->tensors.at("lm_head.weight").f32()[0] += 1;
  const std::string lying = f.dir + "/untied.safetensors";
  ASSERT_TRUE(data::WriteSafetensors(lying, *file).ok());
  const ProcessResult untied = RunProcess(BinaryPath("models/evaluate"), {"--checkpoint=" + lying});
  EXPECT_EQ(untied.exit_code(), 1) << untied.output;
  EXPECT_THAT(untied.output, HasSubstr("'lm_head.weight' differs from 'transformer.wte.weight'"));
}

// A truncated JPEG among the training images: an error naming it by default; with
// --skip_bad_images the run goes on and the epoch's line says what was skipped and why.
TEST(CliTest, ABadTrainingImageEndsTheRunUnlessSkipped) {
  const Files& f = GetFiles();
  const std::string root = f.dir + "/photos_with_a_bad_one";
  std::filesystem::copy(f.dir + "/photos", root, std::filesystem::copy_options::recursive);
  std::ifstream in(root + "/train/bee/0.jpg", std::ios::binary);
  const std::string jpeg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(root + "/train/bee/half.jpg", std::ios::binary) << jpeg.substr(0, jpeg.size() / 3);
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--model=resnet20", "--dataset=folder", "--data_dir=" + root, "--epochs=2",
                                     "--batch_size=6", "--threads=1", "--checkpoint_dir="};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunProcess(BinaryPath("models/train"), args);
  };
  const ProcessResult plain = train({});
  EXPECT_NE(plain.exit_code(), 0) << plain.output;
  EXPECT_THAT(plain.output, HasSubstr("half.jpg"));
  const ProcessResult skipping = train({"--skip_bad_images"});
  EXPECT_EQ(skipping.exit_code(), 0) << skipping.output;
  EXPECT_THAT(skipping.output, HasSubstr("(19 images, 3 classes)"));
  EXPECT_THAT(skipping.output, HasSubstr("epoch 2/2: "));
  const std::string line = "skipped 1 unreadable training image this epoch (--skip_bad_images)";
  const size_t first = skipping.output.find(line);
  ASSERT_NE(first, std::string::npos) << skipping.output;
  EXPECT_NE(skipping.output.find(line, first + 1), std::string::npos) << "counted again in epoch 2";
  EXPECT_THAT(skipping.output, HasSubstr("/train/bee/half.jpg: "));
}

TEST(CliTest, ACheckpointEvaluatesOnAFolderOfItsClasses) {
  const Files& f = GetFiles();
  const ProcessResult e = RunProcess(BinaryPath("models/evaluate"), {
      "--checkpoint=" + f.checkpoint, "--dataset=folder", "--data_dir=" + f.dir + "/same_classes"});
  EXPECT_EQ(e.exit_code(), 0) << e.output;
  EXPECT_THAT(e.output, HasSubstr("note: the model was trained on synthetic; evaluating on folder"));
  EXPECT_THAT(e.output, HasSubstr("(10 images)"));
}

TEST(CliTest, HelpListsTheFlagsAndModels) {
  const ProcessResult r = RunProcess(BinaryPath("models/train"), {"--help"});
  for (const char* flag : {"--batch_size", "--lr", "--optimizer", "--lr_schedule", "--lr_milestones",
                           "--warmup_epochs", "--label_smoothing", "--weight_decay", "--resume",
                           "--checkpoint_dir", "--skip_nonfinite", "--dataset", "--model", "--config",
                           "--grad_accum_steps", "--model_ema", "--early_stopping_patience", "--lr_finder"}) {
    EXPECT_THAT(r.output, HasSubstr(std::string("    ") + flag + " (")) << flag;
  }
  EXPECT_THAT(r.output, HasSubstr("alexnet-seed (seed)"));
  EXPECT_THAT(r.output, HasSubstr("lenet "));
  const ProcessResult p = RunProcess(BinaryPath("models/predict"), {"--help"});
  EXPECT_THAT(p.output, HasSubstr("--top_k ("));
}

TEST(CliTest, VersionIsTheRealOne) {
  for (const char* binary : {"models/train", "models/evaluate", "models/predict"}) {
    const ProcessResult r = RunProcess(BinaryPath(binary), {"--version"});
    EXPECT_THAT(r.output, HasSubstr(std::string("dlf ") + kVersion + " (")) << binary;
    EXPECT_THAT(r.output, ::testing::Not(HasSubstr("NDEBUG"))) << binary;
  }
}

}  // namespace
}  // namespace dlf::training
