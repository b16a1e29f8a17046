#!/usr/bin/python3
"""Times the AlexNet presets in this framework and in PyTorch, side by side, in one run.

Same models (layer for layer), batch 128, the same thread count, a full training step
(forward, cross-entropy, backward, SGD momentum 0.9 update) and inference. Each measurement
runs in its own process so that its peak resident memory (RSS) can be reported too.

    tools/setup.sh --with-torch      # Debian's python3-torch + libopenblas0-pthread
    /usr/bin/python3 benchmarks/compare_pytorch.py [--threads 2] [--seconds 5]
"""
import argparse
import json
import os
import subprocess
import sys
import time

BATCH = 128
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_model(preset):
    import torch.nn as nn
    if preset == "seed":
        features = nn.Sequential(
            nn.Conv2d(3, 96, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, 1, 1), nn.ReLU(), nn.Conv2d(384, 384, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        widths = (256, 4096)
    else:
        features = nn.Sequential(
            nn.Conv2d(3, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 96, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(96, 192, 3, 1, 1), nn.ReLU(), nn.Conv2d(192, 128, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(128, 128, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2))
        widths = (2048, 1024)
    classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(widths[0], widths[1]), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(widths[1], widths[1]), nn.ReLU(), nn.Linear(widths[1], 10))
    return nn.Sequential(features, nn.Flatten(), classifier)


def torch_worker(preset, mode, threads, seconds):
    """Runs in a child process: prints images/s of PyTorch for one (preset, mode)."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = torch_model(preset)
    x = torch.rand(BATCH, 3, 32, 32)
    y = torch.randint(0, 10, (BATCH,))
    if mode == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    for _ in range(2):
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    print(json.dumps({"images_per_second": steps * BATCH / (time.perf_counter() - start)}))


def measure_wait4(cmd, env):
    """Runs cmd as a child process; returns (its stdout, its own peak RSS in MB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return out, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seconds", type=float, default=5.0, help="timing per measurement")
    parser.add_argument("--torch-worker", nargs=2, metavar=("PRESET", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        return torch_worker(*args.torch_worker, args.threads, args.seconds)
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is missing: run `tools/setup.sh --with-torch` (Debian's python3-torch)")

    subprocess.run(["bazel", "build", "//benchmarks:train_step_benchmark"], cwd=ROOT, check=True,
                   stderr=subprocess.DEVNULL)
    binary = os.path.join(ROOT, "bazel-bin/benchmarks/train_step_benchmark")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print(f"batch {BATCH}, {args.threads} threads, PyTorch {torch.__version__} "
          f"(oneDNN {torch.backends.mkldnn.is_available() and 'on' or 'off'})")
    rows = []
    for preset, index in (("seed", 0), ("cifar", 1)):
        for mode, bench in (("train", "BM_AlexNetTrainStep"), ("inference", "BM_AlexNetInference")):
            out, ours_rss = measure_wait4(
                [binary, f"--benchmark_filter={bench}/.*:{index}/", "--benchmark_format=json",
                 f"--benchmark_min_time={args.seconds}"], env)
            ours = [b for b in json.loads(out)["benchmarks"]][0]["images_per_second"]
            out, torch_rss = measure_wait4(
                [sys.executable, os.path.abspath(__file__), "--torch-worker", preset, mode,
                 "--threads", str(args.threads), "--seconds", str(args.seconds)], env)
            theirs = json.loads(out)["images_per_second"]
            rows.append((preset, mode, ours, theirs, ours_rss, torch_rss))
            print(f"  measured {preset} {mode}", file=sys.stderr)
    print(f"\n| preset | mode | dlf images/s | PyTorch images/s | dlf / PyTorch | dlf peak RSS | PyTorch peak RSS |")
    print(f"|---|---|---:|---:|---:|---:|---:|")
    for preset, mode, ours, theirs, ours_rss, torch_rss in rows:
        print(f"| {preset} | {mode} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}x | "
              f"{ours_rss:,.0f} MB | {torch_rss:,.0f} MB |")


if __name__ == "__main__":
    main()
