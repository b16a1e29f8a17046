#!/usr/bin/python3
"""Converts a torch.save'd state_dict (.pt/.pth) into a safetensors file that dlf's
--init_from reads, with PyTorch's names kept:

    /usr/bin/python3 tools/torch_to_safetensors.py resnet20.pth resnet20.safetensors
    bazel run //models:train -- --model=resnet20 --init_from=$PWD/resnet20.safetensors ...

Accepts a state_dict, a whole pickled nn.Module, or a training checkpoint holding the state_dict
under "state_dict", "model_state_dict" or "model". --strip_prefix removes a prefix from every
name (e.g. "module." from a DataParallel model). Floating-point tensors of other precisions are
converted to float32 (dlf's weights are f32) and said so. Needs Debian's python3-torch.
"""
import argparse
import sys

import torch

from safetensors_io import DTYPES, write_safetensors


def find_state_dict(obj, path):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), "an nn.Module's state_dict()"
    if not isinstance(obj, dict):
        sys.exit(f"error: {path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}")
    for key in ("state_dict", "model_state_dict", "model"):
        inner = obj.get(key)
        if isinstance(inner, torch.nn.Module):
            return inner.state_dict(), f"the module under '{key}'"
        if isinstance(inner, dict) and inner and all(torch.is_tensor(v) for v in inner.values()):
            return inner, f"the state_dict under '{key}'"
    return obj, "a state_dict"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="a file written by torch.save")
    parser.add_argument("output", help="the safetensors file to write")
    parser.add_argument("--strip_prefix", default="", help='remove this prefix from names, e.g. "module."')
    args = parser.parse_args()
    try:
        obj = torch.load(args.input, map_location="cpu")
    except Exception as e:  # torch.load raises many kinds: a bad pickle, a zip error, a missing file
        sys.exit(f"error: {args.input}: cannot be read by torch.load: {e}")
    state, what = find_state_dict(obj, args.input)
    tensors, converted = {}, []
    for name, value in state.items():
        if not torch.is_tensor(value):
            sys.exit(f"error: {args.input}: entry '{name}' is a {type(value).__name__}, not a tensor")
        if args.strip_prefix and name.startswith(args.strip_prefix):
            name = name[len(args.strip_prefix):]
        if value.dtype not in DTYPES:
            if not value.is_floating_point():
                sys.exit(f"error: {args.input}: tensor '{name}' has dtype {value.dtype}; "
                         f"expected float or {', '.join(str(d) for d in DTYPES)}")
            converted.append(f"{name} ({value.dtype})")
            value = value.float()
        tensors[name] = value
    write_safetensors(args.output, tensors)
    print(f"{args.output}: {len(tensors)} tensors from {what} in {args.input}")
    if converted:
        print(f"converted to float32: {', '.join(converted)}")


if __name__ == "__main__":
    main()
