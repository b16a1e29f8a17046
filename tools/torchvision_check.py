#!/usr/bin/env python3
"""Loads a dlf checkpoint (or state_dict safetensors) into a torchvision model with
load_state_dict(strict=True) and, when the file also holds "check/images" (f32 [n, 3, h, w],
normalized) and "check/logits" (dlf's), compares torchvision's logits in eval mode with dlf's.

  python3 tools/torchvision_check.py --arch=resnet18 FILE [--tolerance=1e-4]

Exit code 0 when the weights load and the logits agree (max |diff| / max |logit|)."""
import argparse
import collections
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision.models.vision_transformer import VisionTransformer  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402


# Where each architecture family keeps its last layer's weight [classes, features, ...]: fc,
# heads.head, classifier or the last classifier.N (AlexNet's and VGG's classifier.6).
HEAD_WEIGHT = re.compile(r"^(fc|heads\.head|classifier)(\.(\d+))?\.weight$")


def classifier_outputs(state):
    heads = [(int(m.group(3) or 0), name) for name in state if (m := HEAD_WEIGHT.match(name))]
    if not heads:
        sys.exit("no classifier weight in the file: expected fc, heads.head, classifier or classifier.N")
    return state[max(heads)[1]].shape[0]


# dlf's models in torchvision's classes that torchvision does not name.
OTHER_ARCHS = {
    "vit-cifar": lambda classes: VisionTransformer(image_size=32, patch_size=4, num_layers=6, num_heads=3,
                                                   hidden_dim=192, mlp_dim=768, num_classes=classes),
}


def make_model(arch, classes, state):
    if arch in OTHER_ARCHS:
        return OTHER_ARCHS[arch](classes)
    if arch.startswith("vit_"):  # its position embedding fixes the image size: read it off the file
        patch = state["conv_proj.weight"].shape[-1]
        side = math.isqrt(state["encoder.pos_embedding"].shape[1] - 1) * patch
        return getattr(torchvision.models, arch)(num_classes=classes, image_size=side)
    if arch == "googlenet":  # exported without its training-time auxiliary heads
        return torchvision.models.googlenet(num_classes=classes, aux_logits=False, init_weights=False)
    return getattr(torchvision.models, arch)(num_classes=classes)


def with_version_metadata(arch, state):
    """MNASNet's loader asks the state_dict's metadata for its version (2, torchvision's current);
    a plain dict read from safetensors has none."""
    if not arch.startswith("mnasnet"):
        return state
    ordered = collections.OrderedDict(state)
    ordered._metadata = {"": {"version": 2}}
    return ordered


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--arch", required=True, help="a torchvision.models constructor, e.g. resnet18, mobilenet_v2")
    p.add_argument("--tolerance", type=float, default=1e-4)
    a = p.parse_args()
    tensors = read_safetensors(a.file)
    state = {k: v for k, v in tensors.items() if not k.startswith(("check/", "optimizer/", "ema/"))}
    classes = classifier_outputs(state)
    model = make_model(a.arch, classes, state)
    model.load_state_dict(with_version_metadata(a.arch, state), strict=True)
    print(f"{a.arch}: load_state_dict(strict=True) took all {len(state)} tensors ({classes} classes)")
    if "check/images" not in tensors:
        return 0
    model.eval()
    with torch.no_grad():
        logits = model(tensors["check/images"])
    expected = tensors["check/logits"]
    error = (logits - expected).abs().max().item() / expected.abs().max().item()
    print(f"logits of {logits.shape[0]} images: max |torchvision - dlf| / max |logit| = {error:.2e}")
    return 0 if error <= a.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
