#!/usr/bin/env python3
"""dlf's kernels in Debian's oneDNN 2.6.3 and in oneDNN 3.x from PyPI, side by side, in one run.

For each train_step_benchmark step it records the oneDNN primitives one step runs (ONEDNN_VERBOSE
under dlf's 2.6.3: convolutions forward, backward data and backward weights, matmuls, inner
products, batch normalization, pooling, element-wise; everything but reorders), then times each
distinct primitive in every oneDNN build of //benchmarks:onednn_kernels* on the same shapes,
data types and activation layouts, the builds taking turns, and sums them per step with the
number of times the step runs each. Each primitive counts at its fastest over --repeats rounds
(this machine is noisy). Convolution weights take each version's preferred layout (`any`, as
dlf asks); with --any_layout the convolutions choose their activations' layouts too.

    tools/setup.sh --with-onednn3
    bazel build //benchmarks:train_step_benchmark //benchmarks:onednn_kernels \\
        //benchmarks:onednn_kernels_3_2 //benchmarks:onednn_kernels_3_13
    python3 benchmarks/compare_onednn.py --threads 2 1 --json onednn.json
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

STEPS = [f"{model}/{precision}" for model in
         ["BM_AlexNetTrainStep/seed", "BM_AlexNetTrainStep/cifar", "BM_ResNet20TrainStep",
          "BM_AlexNetInference/seed", "BM_AlexNetInference/cifar", "BM_ResNet20Inference"]
         for precision in ["f32", "bf16"]]

# Groups of the report: (primitive kind, propagation) -> group name.
GROUPS = {("convolution", "forward_training"): "conv fwd", ("convolution", "forward_inference"): "conv fwd",
          ("convolution", "backward_data"): "conv bwd data", ("convolution", "backward_weights"): "conv bwd weights",
          ("matmul", "undef"): "matmul", ("inner_product", "backward_weights"): "linear bwd weights",
          ("batch_normalization", "forward_training"): "batch norm", ("batch_normalization", "backward"): "batch norm",
          ("batch_normalization", "forward_inference"): "batch norm"}


def venv_paths():
    """The environments' paths as tools/venv.sh sets them."""
    here = os.path.dirname(os.path.abspath(__file__))
    text = open(os.path.join(here, "..", "tools", "venv.sh")).read()
    return dict(re.findall(r"^(\w+)=(\S+)$", text, re.M))


def versions(bin_dir):
    """(name, binary, environment) of each oneDNN build."""
    paths = venv_paths()
    sycl = paths["dlf_onednn3_venv"]
    gomp = paths["dlf_onednn3_gomp_venv"]
    return [
        ("2.6.3", os.path.join(bin_dir, "onednn_kernels"), {}),
        ("3.2.0-gomp", os.path.join(bin_dir, "onednn_kernels_3_2"), {"LD_LIBRARY_PATH": f"{gomp}/lib"}),
        # PyPI's 3.13 runs CPU primitives through SYCL on Intel's OpenCL CPU runtime; the
        # OpenCL adapter of SYCL's runtime comes apart (tools/setup.sh says why).
        ("3.13.2-sycl", os.path.join(bin_dir, "onednn_kernels_3_13"),
         {"LD_LIBRARY_PATH": f"{sycl}/lib", "OCL_ICD_FILENAMES": f"{sycl}/lib/libintelocl.so",
          "UR_ADAPTERS_FORCE_LOAD": f"{sycl}/ur-opencl/lib/libur_adapter_opencl.so.0"}),
    ]


def period(seq):
    """The length of the block that repeats at the end of seq (one step), or None."""
    for p in range(1, len(seq) // 3 + 1):
        if seq[-p:] == seq[-2 * p:-p] == seq[-3 * p:-2 * p]:
            return p
    return None


def step_primitives(binary, step):
    """Counter {verbose line from the kind on, without implementation and time: runs per step}
    and the logged milliseconds per step of what is left out (reorders)."""
    env = dict(os.environ, ONEDNN_VERBOSE="1", OMP_NUM_THREADS="2")
    run = subprocess.run([binary, f"--benchmark_filter=^{re.escape(step)}/"], env=env,
                         capture_output=True, text=True)
    lines = [line.split(",") for line in run.stdout.splitlines() if line.startswith("onednn_verbose,exec,cpu,")]
    if run.returncode != 0 or not lines:
        sys.exit(f"{step}: no oneDNN log from {binary} (exit {run.returncode}): {run.stderr[-500:]}")
    keys = [",".join(f[3:-1]) for f in lines]
    p = period(keys)
    if p is None:
        sys.exit(f"{step}: found no repeating step in its {len(keys)} primitive runs")
    one_step = lines[-p:]
    timed = Counter(",".join(f[3:-1]) for f in one_step if f[3] != "reorder")
    left_out = sum(float(f[-1]) for f in one_step if f[3] == "reorder")
    logged = sum(float(f[-1]) for f in one_step)
    return timed, left_out, logged


def run_binary(binary, env, problems, threads, seconds, any_layout):
    """{problem: (implementation, ms)} from one build."""
    child_env = dict(os.environ, OMP_NUM_THREADS=str(threads), **env)
    args = [binary, f"--seconds={seconds}"] + (["--any_layout"] if any_layout else [])
    cores = set(range(threads))  # TBB (3.13) sizes itself by the affinity mask
    run = subprocess.run(args, input="\n".join(problems) + "\n", env=child_env, capture_output=True, text=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, cores))
    if run.returncode != 0:
        sys.exit(f"{binary} failed (exit {run.returncode}): {run.stderr[-800:]}")
    result = {}
    for line in run.stdout.splitlines():
        number, impl, ms = line.split("\t")
        result[problems[int(number) - 1]] = (impl, float(ms))
    return result


def fmt_ms(ms):
    return "n/a" if ms is None or math.isnan(ms) else f"{ms:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", nargs="+", default=STEPS, help="train_step_benchmark names")
    parser.add_argument("--threads", nargs="+", type=int, default=[2, 1])
    parser.add_argument("--seconds", type=float, default=0.2, help="minimum time per primitive and round")
    parser.add_argument("--repeats", type=int, default=2, help="rounds; each primitive counts at its fastest")
    parser.add_argument("--any_layout", action="store_true",
                        help="convolutions choose their activations' layouts (each version its best)")
    parser.add_argument("--bin_dir", default="bazel-bin/benchmarks")
    parser.add_argument("--detail", type=int, default=8, help="primitives listed per step, slowest first")
    parser.add_argument("--json", help="also write the per-step sums here")
    args = parser.parse_args()
    step_binary = os.path.join(args.bin_dir, "train_step_benchmark")
    builds = versions(args.bin_dir)
    for path in [step_binary] + [b for _, b, _ in builds]:
        if not os.path.isfile(path):
            sys.exit(f"{path} not found: run tools/setup.sh --with-onednn3, then bazel build it (see --help)")
    names = [name for name, _, _ in builds]
    for name, binary, env in builds:
        run = subprocess.run([binary, "--version"], env=dict(os.environ, **env), capture_output=True, text=True)
        print(f"{name}: {binary}: {run.stdout.strip() or run.stderr.strip()}")

    steps = {}
    for step in args.steps:
        steps[step] = step_primitives(step_binary, step)
        timed, left_out, logged = steps[step]
        print(f"{step}: {sum(timed.values())} primitive runs per step ({len(timed)} distinct) timed; "
              f"reorders left out: {left_out:.2f} of {logged:.2f} logged ms", flush=True)
    problems = sorted({p for timed, _, _ in steps.values() for p in timed})

    rows = []
    for threads in args.threads:
        best = {name: {} for name in names}  # name -> problem -> (impl, ms)
        for _ in range(args.repeats):
            for name, binary, env in builds:
                for problem, (impl, ms) in run_binary(binary, env, problems, threads, args.seconds,
                                                      args.any_layout).items():
                    old = best[name].get(problem)
                    if old is None or (not math.isnan(ms) and (math.isnan(old[1]) or ms < old[1])):
                        best[name][problem] = (impl, ms)
        for name in names:
            for problem, (impl, _) in best[name].items():
                if impl.startswith("unsupported"):
                    print(f"{name}: {impl}: {problem}")
        print(f"\n{threads} thread(s){', any layout' if args.any_layout else ''}: ms per step "
              f"(x: 2.6.3's time over this one's; > 1 is faster)")
        print(f"{'step':<34}" + "".join(f"{n:>22}" for n in names))
        for step, (timed, _, _) in steps.items():
            totals, groups = {}, defaultdict(dict)
            for name in names:
                ms = [best[name][p][1] * count for p, count in timed.items()]
                totals[name] = None if any(math.isnan(m) for m in ms) else sum(ms)
                for p, count in timed.items():
                    fields = p.split(",")
                    group = GROUPS.get((fields[0], fields[2]), fields[0].replace("_v2", ""))
                    groups[group][name] = groups[group].get(name, 0.0) + best[name][p][1] * count
            base = totals[names[0]]
            cells = [f"{fmt_ms(totals[n])}" + (f" ({base / totals[n]:.2f}x)" if base and totals[n] and n != names[0]
                                                else "") for n in names]
            print(f"{step:<34}" + "".join(f"{c:>22}" for c in cells))
            for group, by_name in sorted(groups.items(), key=lambda g: -g[1][names[0]]):
                b = by_name[names[0]]
                cells = [fmt_ms(by_name[n]) + (f" ({b / by_name[n]:.2f}x)" if n != names[0] and by_name[n] > 0
                                               and not math.isnan(b + by_name[n]) else "") for n in names]
                print(f"  {group:<32}" + "".join(f"{c:>22}" for c in cells))
            slowest = sorted(timed, key=lambda p: -best[names[0]][p][1] * timed[p])[:args.detail]
            for p in slowest:
                f = p.split(",")
                shape = f"{f[0]} {f[2]} {f[-1]} {re.findall(r'_(bf16|f32)', f[3])[0]}"
                impls = " | ".join(f"{best[n][p][0]} {fmt_ms(best[n][p][1] * timed[p])}" for n in names)
                print(f"    {timed[p]}x {shape}: {impls}")
            rows.append({"step": step, "threads": threads, "any_layout": args.any_layout,
                         "ms_per_step": totals, "groups": groups})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
