"""Exports torchvision 0.14's 18 classification architectures as issue 33's recipe does.

    tools/python.sh tools/torchvision_onnx_zoo.py OUT_DIR [NAME...]

Each is written to OUT_DIR/NAME.onnx with torch.onnx.export(model.eval(), x, f, opset_version=13,
training=TrainingMode.PRESERVE, do_constant_folding=False), a dynamic batch axis, 10 classes, at
64x64 (224x224 for alexnet, vgg11_bn and swin_t, whose pooling or windows need it; vit_b_16 built
with image_size=64). Train one in dlf with
    bazel-bin/models/train --model=OUT_DIR/NAME.onnx --dataset=synthetic --input_shape=3,S,S \\
        --max_steps=2 --batch_size=4
"""
import os
import sys

import torch
import torchvision

ARCHITECTURES = [
    "alexnet", "googlenet", "resnet18", "resnet50", "squeezenet1_1", "vgg11_bn", "wide_resnet50_2",
    "resnext50_32x4d", "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5", "shufflenet_v2_x0_5",
    "regnet_y_400mf", "efficientnet_b0", "densenet121", "convnext_tiny", "vit_b_16", "swin_t",
]
LARGE = {"alexnet", "vgg11_bn", "swin_t"}


def size_of(name):
    return 224 if name in LARGE else 64


def export(name, out_dir):
    size = size_of(name)
    kwargs = {"image_size": size} if name == "vit_b_16" else {}
    if name == "googlenet":
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = True
    model = getattr(torchvision.models, name)(num_classes=10, **kwargs).eval()
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=13, input_names=["images"],
                      output_names=["logits"], dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    print(f"{path} 3,{size},{size}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    names = sys.argv[2:] or ARCHITECTURES
    unknown = [n for n in names if n not in ARCHITECTURES]
    if unknown:
        sys.exit(f"unknown architecture {unknown}: expected some of {', '.join(ARCHITECTURES)}")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    for name in names:
        export(name, out_dir)


if __name__ == "__main__":
    main()
