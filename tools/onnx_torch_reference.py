#!/usr/bin/python3
"""Writes what tests/models/onnx:import_test compares dlf's ONNX import with: a network exported
from PyTorch with torch.onnx.export, the data of a few training steps, and PyTorch's per-step
losses for those steps from the same weights, in f32 and in f64.

    /usr/bin/python3 tools/onnx_torch_reference.py resnet20|resnet18|groupnet|opsnet|upnet|torchvision:NAME OUT_DIR [--steps 10] [--batch 8]

OUT_DIR gets NET.onnx (exported in eval mode with training=TrainingMode.PRESERVE, so that
BatchNormalization stays a node and the weights keep their names), data.safetensors (u8 images
[steps * batch, 3, s, s], i32 labels) and losses.json ({"f32": [...], "f32_channels_last": [...],
"f64": [...]}: two f32 runs that round differently, and the f64 one), for SGD
with momentum 0.9, lr 0.001, BatchNorm in training mode, images / 255 as input. ResNet-20 takes
32x32 images; torchvision's ResNet-18 (10 classes) is fed 64x64 ones to keep the test short;
groupnet (grouped, depthwise and dilated convolutions), opsnet (the ops of modern blocks, see
OpsNet) and upnet (transposed convolutions) take 32x32.
"""
import argparse
import copy
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_golden import CifarResNet  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402


def group_net():
    """Grouped, depthwise (with a channel multiplier) and dilated convolutions, 32x32 input."""
    def block(conv):
        return [conv, torch.nn.BatchNorm2d(conv.out_channels), torch.nn.ReLU()]
    nn = torch.nn
    return nn.Sequential(*block(nn.Conv2d(3, 16, 3, padding=1)),
                         *block(nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16)),  # depthwise
                         *block(nn.Conv2d(16, 32, 3, padding=1, groups=16)),  # 2 outputs per channel
                         *block(nn.Conv2d(32, 32, 1, groups=4)),
                         *block(nn.Conv2d(32, 32, 3, padding=2, dilation=2, groups=2)),
                         nn.Conv2d(32, 16, (3, 1), padding=(3, 0), dilation=(3, 1)), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def up_net():
    """Transposed convolutions (stride, output_padding, groups, dilation), 32x32 input."""
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                         nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1),
                         nn.BatchNorm2d(8), nn.ReLU(),
                         nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1, groups=2, bias=False), nn.ReLU(),
                         nn.ConvTranspose2d(8, 4, 3, dilation=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))


class OpsNet(torch.nn.Module):
    """The ops of modern blocks as torch.onnx.export writes them: ReLU6 (Clip), padding (Pad),
    hard sigmoid and swish, a channel LayerNorm written out (ReduceMean, Sub, Pow, Sqrt, Div),
    GELU (Erf), squeeze-and-excitation (Sigmoid, Mul), a channel shuffle (Reshape, Transpose)
    and slicing (Slice); 32x32 input."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, stride=2, groups=4)
        self.se = nn.Conv2d(16, 16, 1)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        y = torch.clamp(self.conv1(x), 0, 6)  # ReLU6
        y = F.pad(y, (1, 0, 0, 1))
        y = F.hardswish(self.conv2(y)) * F.hardsigmoid(y[:, :, 1:17, :16])
        mean = y.mean(1, keepdim=True)
        var = (y - mean).pow(2).mean(1, keepdim=True)
        y = F.gelu((y - mean) / torch.sqrt(var + 1e-6))
        y = y * torch.sigmoid(self.se(y.mean((2, 3), keepdim=True)))
        n, c, h, w = y.shape
        y = y.reshape(n, 4, c // 4, h, w).transpose(1, 2).reshape(n, c, h, w)  # channel shuffle
        return self.head(y[:, 4:12].mean((2, 3)))


def make(name):
    if name == "resnet20":
        return CifarResNet(3), 32
    if name == "groupnet":
        return group_net(), 32
    if name == "opsnet":
        return OpsNet(), 32
    if name == "upnet":
        return up_net(), 32
    import torchvision
    if name == "resnet18":
        return torchvision.models.resnet18(num_classes=10), 64
    arch = name.split(":", 1)[1] if name.startswith("torchvision:") else None
    if arch is None or not callable(getattr(torchvision.models, arch, None)):
        sys.exit(f"unknown network '{name}': expected resnet20, resnet18, groupnet, opsnet, upnet or "
                 "torchvision:NAME with NAME one of torchvision.models' architectures")
    size = 32  # at 32x32; a ViT's position embedding is sized to it
    kwargs = {"image_size": size} if arch.startswith("vit_") else {}
    model = getattr(torchvision.models, arch)(num_classes=10, **kwargs)
    for module in model.modules():  # no dropout: its masks are random, so no two runs would agree
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    with torch.no_grad():  # zero-initialized tensors (a ViT's head, its class token) get values: a
        for p in model.parameters():  # zero head would make the first loss log(10) whatever the net
            if not p.any():
                p.normal_(std=0.02)
    return model, size


def train(model, images, labels, steps, batch, dtype, channels_last=False):
    model = copy.deepcopy(model).to(dtype).train()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    losses = []
    for s in range(steps):
        x = (images[s * batch:(s + 1) * batch].to(dtype) / 255).contiguous(memory_format=layout)
        loss = F.cross_entropy(model(x), labels[s * batch:(s + 1) * batch].long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("net", help="resnet20, resnet18, groupnet, opsnet, upnet or torchvision:NAME (e.g. "
                        "torchvision:mobilenet_v3_small)")
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    model, size = make(args.net)
    model.eval()
    path = os.path.join(args.out, args.net.replace("torchvision:", "") + ".onnx")
    torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=13, input_names=["images"],
                      output_names=["logits"], dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    n = args.steps * args.batch
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), dtype=torch.int32)
    write_safetensors(os.path.join(args.out, "data.safetensors"), {"images": images, "labels": labels})
    losses = {"f32": train(model, images, labels, args.steps, args.batch, torch.float32),
              "f32_channels_last": train(model, images, labels, args.steps, args.batch, torch.float32, True),
              "f64": train(model, images, labels, args.steps, args.batch, torch.float64)}
    with open(os.path.join(args.out, "losses.json"), "w") as f:
        json.dump(losses, f)
    print(f"{path}: {args.steps} steps of {args.batch}; f32 losses {losses['f32']}")


if __name__ == "__main__":
    main()
