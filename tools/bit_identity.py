"""Compares two directories of tools/bit_identity.sh runs: every per-step loss line and every
tensor of every checkpoint must be identical (metadata keys that differ, such as seconds, are
listed, not failed), and metrics.csv's headers equal. Exit code 1 when anything differs."""
import glob
import json
import os
import struct
import sys


def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    return {k: (v["dtype"], v["shape"], data[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in header.items()}, meta


def step_losses(path):
    return [l for l in open(path) if l.startswith("step ") and " loss " in l and "epoch" not in l]


def main(a, b):
    bad = 0
    for log in sorted(glob.glob(os.path.join(a, "*.log"))):
        name = os.path.basename(log)
        la, lb = step_losses(log), step_losses(os.path.join(b, name))
        same = la == lb and len(la) > 0
        bad += not same
        print(f"{name}: {len(la)} step losses, {'identical' if same else 'DIFFER'}")
    for ck in sorted(glob.glob(os.path.join(a, "*", "*.safetensors"))):
        rel = os.path.relpath(ck, a)
        ta, ma = tensors(ck)
        tb, mb = tensors(os.path.join(b, rel))
        diff = [k for k in ta if ta[k] != tb.get(k)] + [k for k in tb if k not in ta]
        bad += bool(diff)
        print(f"{rel}: {len(ta)} tensors, {'identical' if not diff else 'DIFFER: ' + ', '.join(diff[:5])}")
        meta = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
        if meta:
            print(f"   metadata that differs: {', '.join(meta)}")
    for csv in sorted(glob.glob(os.path.join(a, "*", "metrics.csv"))):
        rel = os.path.relpath(csv, a)
        same = open(csv).readline() == open(os.path.join(b, rel)).readline()
        bad += not same
        print(f"{rel}: header {'identical' if same else 'DIFFERS'}")
    print("bit-identical" if bad == 0 else f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
