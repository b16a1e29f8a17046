#!/usr/bin/env python3
"""The fastest a step could run with dlf's kernels on this machine, whatever precision each runs in.

For each train_step_benchmark step it runs the f32 and the bf16 variant under DLF_PROFILE=kernels
(time per kernel, per node) --repeats times, takes each kernel at its fastest (over precisions and
repeats: this machine is noisy, and the fastest is the bound's side) and sums them: a lower bound
on the step's kernel time for any mix of f32 and bf16 kernels (conversions between them, the
optimizer's update and everything outside the kernels only add to it). With --target it says
whether a wanted speed fits under that bound.

    bazel build //benchmarks:train_step_benchmark
    python3 benchmarks/kernel_bound.py BM_ResNet20Inference BM_AlexNetTrainStep/seed
    python3 benchmarks/kernel_bound.py BM_ResNet20Inference --target 8000
"""
import argparse
import os
import re
import subprocess
import sys

BATCH = 128  # train_step_benchmark's batch
ROW = re.compile(r"\s+(.*?)\s+\d+ (?:kernels|weights)\s+([\d.]+) ms")


def kernel_times(binary, benchmark, seconds):
    """{kernel name: ms per run} of the executor that ran `benchmark` most, and its header."""
    env = dict(os.environ, DLF_PROFILE="kernels")
    run = subprocess.run([binary, f"--benchmark_filter=^{re.escape(benchmark)}/",
                          f"--benchmark_min_time={seconds}"], env=env, capture_output=True, text=True)
    reports = run.stderr.split("profile of ")[1:]
    if run.returncode != 0 or not reports:
        sys.exit(f"{benchmark}: no profile from {binary} (exit {run.returncode}): {run.stderr[-500:]}")
    report = max(reports, key=lambda r: int(r.split()[0]))  # the timed executor, not a warm-up
    times = {}
    for line in report.splitlines()[1:]:
        match = ROW.match(line)
        if match:
            name = match.group(1).split()[-1]  # the node's name ends the label
            times[name] = times.get(name, 0.0) + float(match.group(2))
    return times


def fastest(runs):
    """Each kernel's fastest time over several kernel_times() results."""
    return {name: min(run.get(name, float("inf")) for run in runs) for name in runs[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="+", help="train_step_benchmark names without the precision, "
                        "e.g. BM_ResNet20TrainStep, BM_AlexNetInference/cifar")
    parser.add_argument("--binary", default="bazel-bin/benchmarks/train_step_benchmark")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum time per variant and repeat")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant; each kernel's fastest counts")
    parser.add_argument("--target", type=float, help="images/s wanted (one per step, or one for all)",
                        action="append")
    args = parser.parse_args()
    if not os.path.isfile(args.binary):
        sys.exit(f"{args.binary} not found: bazel build //benchmarks:train_step_benchmark first")
    targets = args.target or []
    if len(targets) not in (0, 1, len(args.steps)):
        sys.exit(f"--target given {len(targets)} times for {len(args.steps)} steps: give it once or once per step")
    for i, step in enumerate(args.steps):
        f32 = fastest([kernel_times(args.binary, step + "/f32", args.seconds) for _ in range(args.repeats)])
        bf16 = fastest([kernel_times(args.binary, step + "/bf16", args.seconds) for _ in range(args.repeats)])
        both = sorted(set(f32) & set(bf16))
        bound = sum(min(f32[k], bf16[k]) for k in both)
        print(f"{step}: kernels (each at its fastest of {args.repeats} runs) f32 {sum(f32.values()):.2f} ms, "
              f"bf16 {sum(bf16.values()):.2f} ms; each kernel at its faster precision: "
              f"{bound:.2f} ms per batch of {BATCH} ({len(both)} kernels) "
              f"= at most {BATCH / bound * 1e3:,.0f} images/s")
        if targets:
            target = targets[i] if len(targets) > 1 else targets[0]
            needed = BATCH / target * 1e3
            verdict = "fits under" if needed >= bound else "is below"
            print(f"  target {target:,.0f} images/s needs {needed:.2f} ms per batch: {verdict} the bound")


if __name__ == "__main__":
    main()
