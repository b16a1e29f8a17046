#!/usr/bin/env python3
"""ResNet-20's golden values from PyTorch, and strict loading of dlf checkpoints into PyTorch.

    tools/python.sh tools/resnet_golden.py                     # rewrites the golden file
    tools/python.sh tools/resnet_golden.py --bf16-errors       # rewrites PyTorch's bf16 errors on it
    tools/python.sh tools/resnet_golden.py --near-zero         # rewrites its ReLU inputs near zero
    tools/python.sh tools/resnet_golden.py --check CKPT.safetensors [--model resnet20|resnet56|vgg11_bn]

The golden file (tests/models/training/golden/resnet20.safetensors) holds, for a fixed batch
of 8 images in training mode (BatchNorm on batch statistics): the input, the labels, every
parameter and buffer before the step, the logits, the mean cross-entropy loss, every
parameter's gradient ("grad/<name>") and the running statistics after the step
("after/<name>"). tests/models/training:golden_test rebuilds the model in dlf from it; the test
needs no torch. --bf16-errors runs the same step from the golden file under PyTorch's bf16
autocast and writes how far each result is from the golden f32 one (relative L2 error:
"logits", "loss", "grad/<name>", "after/<name>") to golden/resnet20_bf16_errors.safetensors:
the per-tensor bounds of the test's bf16 variant. --near-zero runs the golden forward pass in f64
and writes every ReLU input within NEAR_ZERO of zero (golden/resnet20_near_zero.safetensors,
"near_zero" [k, 3]: the ReLU's number in call order, the flat index, the f64 value): there f32
rounding decides the ReLU's mask (a batch of 8 has about 1.5 million ReLU inputs, so a few lie
within rounding of zero whatever the seed), and the test checks which way dlf's f32 went. Needs Debian's python3-torch (installed by tools/setup.sh).
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import read_safetensors, write_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests/models/training/golden/resnet20.safetensors")
BF16_ERRORS = os.path.join(ROOT, "tests/models/training/golden/resnet20_bf16_errors.safetensors")
NEAR_ZERO_FILE = os.path.join(ROOT, "tests/models/training/golden/resnet20_near_zero.safetensors")
NEAR_ZERO = 1e-5


class BasicBlock(nn.Module):  # torchvision's, with option B shortcuts
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class CifarResNet(nn.Module):
    def __init__(self, n, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        inplanes = 16
        for stage, width in enumerate((16, 32, 64)):
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(inplanes, width, 2 if stage > 0 and b == 0 else 1))
                inplanes = width
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Vgg11Bn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, c = [], 3
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def golden():
    torch.manual_seed(0)
    model = CifarResNet(3).train()
    x = torch.randn(8, 3, 32, 32)
    y = torch.randint(0, 10, (8,))
    tensors = {k: v.detach().clone() for k, v in model.state_dict().items()}
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    tensors.update({"input": x, "labels": y.to(torch.int32), "logits": logits.detach(),
                    "loss": loss.detach().reshape([])})
    for name, p in model.named_parameters():
        tensors["grad/" + name] = p.grad.detach()
    for name, b in model.named_buffers():
        tensors["after/" + name] = b.detach().clone()
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    write_safetensors(GOLDEN, tensors)
    print(f"wrote {GOLDEN}: loss {loss.item():.6f}, {len(tensors)} tensors")


def relative_error(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item() if b.norm() > 0 else (a - b).norm().item()


def bf16_errors():
    """The golden step again from the golden file's weights and batch, under bf16 autocast."""
    t = read_safetensors(GOLDEN)
    model = CifarResNet(3).train()
    model.load_state_dict({k: t[k] for k in model.state_dict()}, strict=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(t["input"])
    loss = F.cross_entropy(logits.float(), t["labels"].long())
    loss.backward()
    errors = {"logits": relative_error(logits.float(), t["logits"]),
              "loss": relative_error(loss.reshape([]), t["loss"])}
    for name, p in model.named_parameters():
        errors["grad/" + name] = relative_error(p.grad, t["grad/" + name])
    for name, b in model.named_buffers():
        if b.is_floating_point():
            errors["after/" + name] = relative_error(b, t["after/" + name])
    write_safetensors(BF16_ERRORS, {k: torch.tensor(v, dtype=torch.float32) for k, v in errors.items()})
    worst = max(errors, key=errors.get)
    print(f"wrote {BF16_ERRORS}: {len(errors)} errors, logits {errors['logits']:.3g}, "
          f"largest {errors[worst]:.3g} ({worst})")


def near_zero():
    """The golden forward pass in f64: the ReLU inputs within NEAR_ZERO of zero."""
    t = read_safetensors(GOLDEN)
    model = CifarResNet(3).train().double()
    model.load_state_dict({k: t[k].double() if t[k].is_floating_point() else t[k] for k in model.state_dict()},
                          strict=True)
    rows, relu = [], F.relu

    def recording_relu(x, *args, **kwargs):
        flat = x.detach().flatten()
        for i in torch.nonzero(flat.abs() < NEAR_ZERO).flatten().tolist():
            rows.append([float(recording_relu.count), float(i), flat[i].item()])
        recording_relu.count += 1
        return relu(x, *args, **kwargs)

    recording_relu.count = 0
    F.relu = recording_relu
    try:
        model(t["input"].double())
    finally:
        F.relu = relu
    write_safetensors(NEAR_ZERO_FILE, {"near_zero": torch.tensor(rows, dtype=torch.float64).reshape(-1, 3).float()})
    print(f"wrote {NEAR_ZERO_FILE}: {len(rows)} of the inputs of {recording_relu.count} ReLUs within {NEAR_ZERO} of zero")


def check(path, model_name):
    model = {"resnet20": lambda: CifarResNet(3), "resnet56": lambda: CifarResNet(9),
             "vgg11_bn": Vgg11Bn}[model_name]()
    state = {k: v for k, v in read_safetensors(path).items() if not k.startswith("optimizer/")}
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 32, 32))
    print(f"{path}: load_state_dict(strict=True) into {model_name} ok, "
          f"{len(state)} tensors, eval logits shape {list(out.shape)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", metavar="CHECKPOINT")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--bf16-errors", action="store_true", help="write PyTorch's bf16 autocast errors")
    parser.add_argument("--near-zero", action="store_true", help="write the golden pass's ReLU inputs near zero")
    args = parser.parse_args()
    if args.check:
        check(args.check, args.model)
    elif args.bf16_errors:
        bf16_errors()
    elif args.near_zero:
        near_zero()
    else:
        golden()
