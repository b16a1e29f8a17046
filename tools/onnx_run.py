"""Runs an ONNX model in ONNX Runtime (its Python API, installed by tools/setup.sh) on a raw
little-endian input (f32, or int32 / int64 where the model's input is, e.g. a language model's
token ids) and prints the first output, or compares it with expected values.

    tools/python.sh tools/onnx_run.py MODEL.onnx INPUT.f32 N,C,H,W [--expect EXPECTED.f32]
                    [--rtol 1e-4] [--threads 2] [--output OUT.f32] [--time SECONDS]

With --time: prints {"images_per_second": ...} of repeated runs over at least that long.
With --expect: exit 0 when max |output - expected| <= rtol * max |expected| (the largest
difference relative to the output's scale), else exit 1; the line printed says which.
Bad input (a missing file, a shape that does not fit the input) exits 1 with a message.
"""
import argparse
import json
import math
import sys
import time

import numpy as np


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def read_f32(path):
    try:
        data = np.fromfile(path, dtype="<f4")
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    return data


def parse_args():
    p = argparse.ArgumentParser(description="Run an ONNX model in ONNX Runtime on a raw f32 input.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("input", help="raw little-endian float32 values of the input")
    p.add_argument("shape", help="the input's shape, e.g. 8,3,32,32")
    p.add_argument("--expect", help="raw f32 file of the expected first output: compare instead of print")
    p.add_argument("--rtol", type=float, default=1e-4, help="max |diff| / max |expected| allowed (default 1e-4)")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime's intra-op threads (default 2)")
    p.add_argument("--output", help="also write the first output here as raw f32")
    p.add_argument("--time", type=float, help="time repeated runs for at least this many seconds")
    return p.parse_args()


def parse_shape(text):
    try:
        dims = [int(d) for d in text.split(",")]
    except ValueError:
        fail(f"shape '{text}': expected comma-separated integers such as 8,3,32,32")
    if any(d <= 0 for d in dims):
        fail(f"shape '{text}': every dimension must be positive")
    return dims


def make_session(model, threads):
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # errors only, not the warning that telemetry cannot persist
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ONNX Runtime raises its own exception types for unreadable models
        fail(f"{model}: {e}")


def images_per_second(session, feeds, seconds, batch):
    for _ in range(2):
        session.run(None, feeds)
    runs = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, feeds)
        runs += 1
    return runs * batch / (time.perf_counter() - start)


def compare(out, expected_path, rtol):
    expected = read_f32(expected_path)
    if expected.size != out.size:
        fail(f"output has {out.size} values, {expected_path} {expected.size}")
    values = out.reshape(-1).astype(np.float64)
    expected = expected.astype(np.float64)
    max_diff = float(np.max(np.abs(values - expected))) if out.size else 0.0
    scale = float(np.max(np.abs(expected))) if out.size else 0.0
    relative = max_diff / scale if scale > 0 else max_diff
    ok = math.isfinite(relative) and relative <= rtol
    dims = ",".join(str(d) for d in out.shape)
    print(f"{'match' if ok else 'MISMATCH'}: {out.size} outputs [{dims}], max |diff| {max_diff:.3e}, "
          f"max |expected| {scale:.3e}, relative {relative:.3e} (rtol {rtol})")
    return ok


# ONNX Runtime's input types -> the raw files' element types.
INPUT_TYPES = {"tensor(float)": "<f4", "tensor(int32)": "<i4", "tensor(int64)": "<i8"}


def read_input(path, session):
    kind = session.get_inputs()[0].type
    if kind not in INPUT_TYPES:
        fail(f"the model's input is {kind}; expected one of {', '.join(INPUT_TYPES)}")
    try:
        return np.fromfile(path, dtype=INPUT_TYPES[kind])
    except OSError as e:
        fail(f"{path}: {e.strerror}")


def main():
    args = parse_args()
    dims = parse_shape(args.shape)
    session = make_session(args.model, args.threads)
    data = read_input(args.input, session)
    if math.prod(dims) != data.size:
        fail(f"{args.input}: {data.size} values, the shape {args.shape} needs {math.prod(dims)}")
    feeds = {session.get_inputs()[0].name: data.reshape(dims)}
    if args.time is not None:
        print(json.dumps({"images_per_second": images_per_second(session, feeds, args.time, dims[0])}))
        return 0
    try:
        out = np.asarray(session.run(None, feeds)[0], dtype=np.float32)
    except Exception as e:  # a wrong input shape or type for this model
        fail(f"{args.model}: {e}")
    if args.output:
        out.astype("<f4").tofile(args.output)
    if not args.expect:
        name = session.get_outputs()[0].name
        dims_text = ",".join(str(d) for d in out.shape)
        print(f"{name} [{dims_text}]: " + " ".join(f"{v:.5f}" for v in out.reshape(-1)[:10]))
        return 0
    return 0 if compare(out, args.expect, args.rtol) else 1


if __name__ == "__main__":
    sys.exit(main())
