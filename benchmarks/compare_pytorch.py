"""Times the AlexNet presets and ResNet-20 in this framework and in PyTorch, side by side, in one run.

Same models (layer for layer), batch 128, a full training step (forward, cross-entropy,
backward, SGD momentum 0.9 update) and inference. PyTorch is timed in its four modes, f32,
bf16 autocast, channels_last and channels_last + bf16 autocast, each at 1 thread and at
--threads, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment. dlf is
timed in f32 and with --precision=bf16 (bf16 convolutions and linear layers) at --threads;
dlf's best is compared with PyTorch f32 at the same threads and with PyTorch's best mode (the
fastest of those eight). Inference is also timed in ONNX Runtime (f32, --threads) on the same
model exported by dlf (//models:export). Each measurement runs in its own process so that its
peak resident memory (RSS) can be reported too.

    tools/setup.sh                   # Debian's python3-torch, ONNX Runtime from PyPI
    tools/python.sh benchmarks/compare_pytorch.py [--threads 2] [--seconds 5] [--baseline OLD_BINARY]

--baseline times another build of //benchmarks:train_step_benchmark (an older commit's: `git
worktree add /tmp/old COMMIT && cd /tmp/old && bazel build //benchmarks:train_step_benchmark`)
in the same run, so a change is compared with what came before on the same noisy machine.
"""
import argparse
import atexit
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
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


def make_model(preset):
    if preset == "resnet20":
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        from resnet_golden import CifarResNet  # the same network as dlf's resnet20
        return CifarResNet(3)
    return torch_model(preset)


# PyTorch's modes: (name, autocast precision, channels_last).
TORCH_MODES = (("f32", "f32", False), ("bf16", "bf16", False), ("cl f32", "f32", True), ("cl bf16", "bf16", True))
# compare_pytorch's names -> dlf's registered models.
MODELS = {"seed": "alexnet-seed", "cifar": "alexnet-cifar", "resnet20": "resnet20"}


def torch_worker(preset, mode, torch_mode, threads, seconds):
    """Runs in a child process: prints images/s of PyTorch for one (preset, mode, torch mode)."""
    import contextlib
    import torch
    _, precision, channels_last = next(m for m in TORCH_MODES if m[0] == torch_mode)
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = make_model(preset)
    x = torch.rand(BATCH, 3, 32, 32)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (BATCH,))
    # PyTorch's mixed precision on CPU: autocast runs convolutions and linear layers in bf16.
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" \
        else contextlib.nullcontext
    if mode == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            with cast():
                loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad(), cast():
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


def torch_env(threads):
    """The environment of a PyTorch worker: this machine sets OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE, which force Debian's OpenBLAS (PyTorch's Linear layers) onto older
    kernels; PyTorch is timed without them. dlf does not use OpenBLAS."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    return env


def time_torch(preset, mode, torch_mode, threads, seconds):
    out, rss = measure_wait4(
        [sys.executable, os.path.abspath(__file__), "--torch-worker", preset, mode, torch_mode,
         "--threads", str(threads), "--seconds", str(seconds)], torch_env(threads))
    return json.loads(out)["images_per_second"], rss


def export_onnx(preset, workdir):
    """dlf's model for `preset` as ONNX: a one-step checkpoint of generated data, exported."""
    run = os.path.join(workdir, preset)
    subprocess.run([os.path.join(ROOT, "bazel-bin/models/train"), f"--model={MODELS[preset]}",
                    "--dataset=synthetic", "--max_steps=1", "--batch_size=8", f"--checkpoint_dir={run}"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(workdir, preset + ".onnx")
    subprocess.run([os.path.join(ROOT, "bazel-bin/models/export"), f"--checkpoint={run}/last.safetensors",
                    f"--output={path}"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return path


def time_onnxruntime(model, images, threads, seconds):
    out, rss = measure_wait4(
        [os.path.join(ROOT, "tools/python.sh"), os.path.join(ROOT, "tools/onnx_run.py"), model, images,
         f"{BATCH},3,32,32", "--threads", str(threads), "--time", str(seconds)], dict(os.environ))
    return json.loads(out)["images_per_second"], rss


def time_ours(binary, bench_filter, threads, seconds):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out, rss = measure_wait4(
        [binary, f"--benchmark_filter={bench_filter}", "--benchmark_format=json",
         f"--benchmark_min_time={seconds}"], env)
    return json.loads(out)["benchmarks"][0]["images_per_second"], rss


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="dlf's threads; PyTorch is timed at 1 thread and at this many")
    parser.add_argument("--seconds", type=float, default=5.0, help="timing per measurement")
    parser.add_argument("--models", default="seed,cifar,resnet20",
                        help="comma-separated: seed, cifar (AlexNet presets), resnet20")
    parser.add_argument("--baseline", metavar="BINARY",
                        help="another build's train_step_benchmark (e.g. an older commit's), timed "
                             "side by side: its f32 and bf16, and dlf's best divided by its best")
    parser.add_argument("--torch-worker", nargs=3, metavar=("PRESET", "MODE", "TORCH_MODE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        return torch_worker(*args.torch_worker, args.threads, args.seconds)
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is missing: run `tools/setup.sh` (Debian's python3-torch)")

    subprocess.run(["bazel", "build", "//benchmarks:train_step_benchmark", "//models:train", "//models:export"],
                   cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    binary = os.path.join(ROOT, "bazel-bin/benchmarks/train_step_benchmark")
    workdir = tempfile.mkdtemp(prefix="compare_pytorch_")  # the exported models: ~300 MB
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    images = os.path.join(workdir, "images.f32")
    rng = random.Random(1)
    with open(images, "wb") as f:
        f.write(struct.pack(f"<{BATCH * 3 * 32 * 32}f", *(rng.gauss(0, 1) for _ in range(BATCH * 3 * 32 * 32))))
    thread_counts = sorted({1, args.threads})
    print(f"batch {BATCH}; dlf f32 and bf16 at {args.threads} threads; PyTorch {torch.__version__} "
          f"{', '.join(m[0] for m in TORCH_MODES)} (cl: channels_last) at "
          f"{' and '.join(map(str, thread_counts))} thread(s), without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE; "
          f"ONNX Runtime f32 at {args.threads} threads (inference)")
    rows = []
    benches = {("seed", "train"): "BM_AlexNetTrainStep/seed/", ("seed", "inference"): "BM_AlexNetInference/seed/",
               ("cifar", "train"): "BM_AlexNetTrainStep/cifar/", ("cifar", "inference"): "BM_AlexNetInference/cifar/",
               ("resnet20", "train"): "BM_ResNet20TrainStep/", ("resnet20", "inference"): "BM_ResNet20Inference/"}
    for preset in args.models.split(","):
        for mode in ("train", "inference"):
            ours = {p: time_ours(binary, benches[(preset, mode)] + p + "/", args.threads, args.seconds)
                    for p in ("f32", "bf16")}
            baseline = {p: time_ours(args.baseline, benches[(preset, mode)] + p + "/", args.threads, args.seconds)
                        for p in ("f32", "bf16")} if args.baseline else None
            theirs = {}
            for torch_mode, _, _ in TORCH_MODES:
                for threads in thread_counts:
                    theirs[(torch_mode, threads)] = time_torch(preset, mode, torch_mode, threads, args.seconds)
            ort = None
            if mode == "inference":
                ort = time_onnxruntime(export_onnx(preset, workdir), images, args.threads, args.seconds)
            rows.append((preset, mode, ours, theirs, ort, baseline))
            print(f"  measured {preset} {mode}", file=sys.stderr)
    cols = " | ".join(f"PyTorch {m[0]} {t}t" for m in TORCH_MODES for t in thread_counts)
    print(f"\n| preset | mode | dlf f32 {args.threads}t | dlf bf16 {args.threads}t | {cols} "
          f"| ONNX Runtime f32 {args.threads}t | dlf best / PyTorch f32 {args.threads}t | dlf best / PyTorch best "
          f"| dlf best / ONNX Runtime | dlf best's RSS | PyTorch best's RSS | ONNX Runtime's RSS |"
          + (" baseline f32 | baseline bf16 | dlf best / baseline best |" if args.baseline else ""))
    print("|---|---|" + "---:|" * (len(TORCH_MODES) * len(thread_counts) + 9 + (3 if args.baseline else 0)))
    for preset, mode, ours, theirs, ort, baseline in rows:
        best_key = max(theirs, key=lambda k: theirs[k][0])
        best, best_rss = theirs[best_key]
        ours_key = max(ours, key=lambda k: ours[k][0])
        ours_best, ours_rss = ours[ours_key]
        cells = " | ".join(f"{theirs[(m[0], t)][0]:,.0f}" for m in TORCH_MODES for t in thread_counts)
        ort_cells = (f"{ort[0]:,.0f}", f"{ours_best / ort[0]:.2f}x", f"{ort[1]:,.0f} MB") if ort else ("", "", "")
        print(f"| {preset} | {mode} | {ours['f32'][0]:,.0f} | {ours['bf16'][0]:,.0f} | {cells} | {ort_cells[0]} | "
              f"{ours_best / theirs[('f32', args.threads)][0]:.2f}x ({ours_key}) | "
              f"{ours_best / best:.2f}x (vs {best_key[0]} {best_key[1]}t) | {ort_cells[1]} | "
              f"{ours_rss:,.0f} MB | {best_rss:,.0f} MB | {ort_cells[2]} |"
              + (f" {baseline['f32'][0]:,.0f} | {baseline['bf16'][0]:,.0f} | "
                 f"{ours_best / max(b[0] for b in baseline.values()):.2f}x |" if baseline else ""))


if __name__ == "__main__":
    main()
