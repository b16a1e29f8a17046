"""Times dlf beside its peers, each in its best mode, in one run: the AlexNet presets and ResNet-20
(batch 128 of 32x32) and torchvision's MobileNetV2 and ConvNeXt-Tiny (batch 32 of 224x224), a full
training step (forward, cross-entropy, backward, SGD momentum 0.9 update) and
inference; nanoGPT's GPT at two configurations (gpt_nanogpt_cpu, gpt_shakespeare_char), a
training step with AdamW and sampling with a key/value cache (their inference job), in tokens/s.

Peers (each measurement in its own process, so its peak resident memory is its own; PyTorch
without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which this machine sets):
  pytorch1          Debian's PyTorch 1.13 (tools/python.sh): f32, bf16 autocast, channels_last,
                    channels_last + bf16; 1 and --threads threads
  pytorch2_eager    PyTorch 2 (tools/python.sh --peers, from tools/setup.sh --with-peers): the same
  pytorch2_compile  torch.compile (inductor) in f32 and bf16, NCHW and channels_last, 1 and --threads
                    threads; the compile time (the first two steps) is reported apart and not
                    counted in the rate; --max-autotune adds mode="max-autotune"
  openvino          inference: dlf's ONNX export on OpenVINO's CPU plugin, f32 and bf16
                    (INFERENCE_PRECISION_HINT), THROUGHPUT and LATENCY hints, --threads threads
  onnxruntime       inference: the same file in ONNX Runtime, f32, all graph optimizations
dlf runs in f32 and with --precision=bf16 at --threads threads. The table gives each peer's best
(over its modes and threads) and dlf's best divided by it and by the best of all; --json FILE
writes the rows as objects {"model", "job", "unit", "dlf", "peers": {peer: best}}. Without the
peers' environment only pytorch1 and onnxruntime are timed (and the run says so).

    tools/setup.sh --with-peers && tools/python.sh benchmarks/compare_peers.py [--threads 2]
        [--seconds 5] [--models seed,cifar,resnet20] [--peers pytorch1,pytorch2_eager,...]
        [--json FILE] [--baseline OLD_BINARY]

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
    if preset in TORCHVISION:  # dlf's registered model of the same name is torchvision's architecture
        import torchvision
        return getattr(torchvision.models, preset)(num_classes=10)
    if preset == "resnet20":
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        from resnet_golden import CifarResNet  # the same network as dlf's resnet20
        return CifarResNet(3)
    return torch_model(preset)


# PyTorch's modes: name -> (autocast precision, channels_last, torch.compile mode or None).
EAGER_MODES = {"f32": ("f32", False, None), "bf16": ("bf16", False, None),
               "cl f32": ("f32", True, None), "cl bf16": ("bf16", True, None)}
COMPILE_MODES = {"compile f32": ("f32", False, "default"), "compile bf16": ("bf16", False, "default"),
                 "compile cl f32": ("f32", True, "default"), "compile cl bf16": ("bf16", True, "default")}
AUTOTUNE_MODES = {"autotune " + k[len("compile "):]: (p, cl, "max-autotune") for k, (p, cl, _) in COMPILE_MODES.items()}
TORCH_MODES = {**EAGER_MODES, **COMPILE_MODES, **AUTOTUNE_MODES}
OPENVINO_MODES = [(precision, hint) for precision in ("f32", "bf16") for hint in ("THROUGHPUT", "LATENCY")]
PEERS = ("pytorch1", "pytorch2_eager", "pytorch2_compile", "openvino", "onnxruntime")
# compare_peers' names -> dlf's registered models.
MODELS = {"seed": "alexnet-seed", "cifar": "alexnet-cifar", "resnet20": "resnet20",
          "mobilenet_v2": "mobilenet_v2", "convnext_tiny": "convnext_tiny"}
BENCHES = {"seed": ("BM_AlexNetTrainStep/seed/", "BM_AlexNetInference/seed/"),
           "cifar": ("BM_AlexNetTrainStep/cifar/", "BM_AlexNetInference/cifar/"),
           "resnet20": ("BM_ResNet20TrainStep/", "BM_ResNet20Inference/"),
           "mobilenet_v2": ("BM_MobileNetV2TrainStep/", "BM_MobileNetV2Inference/"),
           "convnext_tiny": ("BM_ConvNeXtTinyTrainStep/", "BM_ConvNeXtTinyInference/")}
TORCHVISION = ("mobilenet_v2", "convnext_tiny")
# (batch, image side) per model, as train_step_benchmark's: CIFAR size, or ImageNet size.
SHAPES = {m: ((32, 224) if m in TORCHVISION else (128, 32)) for m in MODELS}
# nanoGPT's GPT (tools/gpt_check.py, PyTorch 2's fused attention where it has it): its CPU
# configuration and shakespeare_char's, as train_step_benchmark's BM_GPTTrainStep; training only,
# AdamW (betas 0.9 / 0.99, weight decay 0.1) on windows of random tokens of 65 characters.
GPT_PRESETS = {
    "gpt_nanogpt_cpu": (dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False), 12),
    "gpt_shakespeare_char": (dict(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2,
                                  bias=False), 64),
}
MODELS.update({m: "gpt" for m in GPT_PRESETS})
# Their inference job is generation: one sequence sampled on a key/value cache, a 1-token prompt and
# block_size - 1 new tokens (BM_GPTGenerate; PyTorch: tools/gpt_check.py's CachedDecoder).
BENCHES.update({"gpt_nanogpt_cpu": ("BM_GPTTrainStep/nanogpt_cpu/", "BM_GPTGenerate/nanogpt_cpu/"),
                "gpt_shakespeare_char": ("BM_GPTTrainStep/shakespeare_char/", "BM_GPTGenerate/shakespeare_char/")})
# What a step's rate counts: images, or tokens (batch x block_size) for the GPT.
UNITS = {m: ("tokens_per_second" if m in GPT_PRESETS else "images_per_second") for m in MODELS}


def timed_loop(step, seconds, batch):
    """Rate of step() on `batch` images (or tokens) over at least `seconds`, after two warm-up calls
    (timed apart: a compiled model compiles in them)."""
    start = time.perf_counter()
    for _ in range(2):
        step()
    warmup = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return {"rate": steps * batch / (time.perf_counter() - start), "warmup_seconds": warmup}


def torch_gpt_worker(preset, job, torch_mode, threads, seconds):
    """Runs in a child process: prints tokens/s of nanoGPT's GPT in PyTorch, a training step or
    (job inference) sampling with a key/value cache."""
    import contextlib
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from gpt_check import GPT, CachedDecoder, sample_with_cache
    precision, channels_last, compile_mode = TORCH_MODES[torch_mode]
    if channels_last:
        raise SystemExit("channels_last is for images")
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    config, batch = GPT_PRESETS[preset]
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" \
        else contextlib.nullcontext
    if job == "inference":
        decoder = CachedDecoder(GPT(config).eval())
        new_tokens = config["block_size"] - 1  # as BM_GPTGenerate: the context stays in the block

        def generate():
            with torch.no_grad(), cast():
                sample_with_cache(decoder, [0], new_tokens)
        print(json.dumps(timed_loop(generate, seconds, new_tokens)))
        return
    model = GPT(config).train()
    x = torch.randint(0, config["vocab_size"], (batch, config["block_size"]))
    y = torch.randint(0, config["vocab_size"], (batch, config["block_size"]))
    forward = torch.compile(model, mode=compile_mode) if compile_mode else model
    decay = [p for p in model.parameters() if p.dim() >= 2]  # nanoGPT's configure_optimizers
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))

    def step():
        opt.zero_grad(set_to_none=True)
        with cast():
            loss = forward(x, y)
        loss.backward()
        opt.step()
    result = timed_loop(step, seconds, batch * config["block_size"])
    print(json.dumps(result))


def torch_worker(preset, job, torch_mode, threads, seconds):
    """Runs in a child process: prints images/s of PyTorch for one (preset, job, mode)."""
    import contextlib
    import torch
    if preset in GPT_PRESETS:
        return torch_gpt_worker(preset, job, torch_mode, threads, seconds)
    precision, channels_last, compile_mode = TORCH_MODES[torch_mode]
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = make_model(preset)
    batch, side = SHAPES[preset]
    x = torch.rand(batch, 3, side, side)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    forward = torch.compile(model, mode=compile_mode) if compile_mode else model
    # PyTorch's mixed precision on CPU: autocast runs convolutions and linear layers in bf16.
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" \
        else contextlib.nullcontext
    if job == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            with cast():
                loss = loss_fn(forward(x), y)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad(), cast():
                forward(x)
    print(json.dumps(timed_loop(step, seconds, batch)))


def openvino_worker(preset, model_path, precision, hint, threads, seconds):
    """Runs in a child process: prints images/s of OpenVINO's CPU plugin on an ONNX file."""
    import numpy as np
    import openvino as ov
    core = ov.Core()
    model = core.read_model(model_path)
    batch, side = SHAPES[preset]
    model.reshape([batch, 3, side, side])
    config = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": precision,
              "INFERENCE_NUM_THREADS": threads}
    compiled = core.compile_model(model, "CPU", config)
    x = np.random.default_rng(1).standard_normal((batch, 3, side, side), dtype=np.float32)
    if hint == "LATENCY":
        request = compiled.create_infer_request()
        result = timed_loop(lambda: request.infer({0: x}), seconds, batch)
    else:  # as many requests in flight as the plugin asks for; images/s over all of them
        queue = ov.AsyncInferQueue(compiled, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

        def step():
            for _ in range(len(queue)):
                queue.start_async({0: x})
            queue.wait_all()
        result = timed_loop(step, seconds, batch)
        result["rate"] *= len(queue)
    print(json.dumps(result))


class ModeUnavailable(Exception):
    """A peer's worker failed in one mode (e.g. PyTorch 1.13 has no bf16 backward of ReLU6)."""


def measure_wait4(cmd, env, peer=False):
    """Runs cmd as a child process; returns (its stdout, its own peak RSS in MB). Its stderr
    (torch.compile's warnings) is shown only when it fails; a peer's failure raises
    ModeUnavailable with its last line, anything else's ends the run."""
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            text = err.read()
            if peer:
                raise ModeUnavailable(text.strip().splitlines()[-1] if text.strip() else "no output")
            sys.exit(f"failed: {' '.join(cmd)}\n{text[-3000:]}")
    return out, usage.ru_maxrss / 1024


def peer_env(threads):
    """The environment of a peer's worker: this machine sets OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE, which force Debian's OpenBLAS (PyTorch 1.13's Linear layers) onto older
    kernels; the peers are timed without them. dlf does not use OpenBLAS."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    return env


def python(peers_env):
    return [os.path.join(ROOT, "tools/python.sh")] + (["--peers"] if peers_env else [])


def run_worker(peers_env, worker_args, threads, seconds):
    """A worker of this script under the tests' Python (Debian's torch) or the peers'; returns
    ({"rate", "warmup_seconds"}, peak RSS in MB)."""
    out, rss = measure_wait4(python(peers_env) + [os.path.abspath(__file__)] + worker_args +
                             ["--threads", str(threads), "--seconds", str(seconds)], peer_env(threads), peer=True)
    return json.loads(out), rss


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


def images_file(preset, workdir):
    """Random f32 images of `preset`'s batch shape, for ONNX Runtime: one file per shape."""
    batch, side = SHAPES[preset]
    path = os.path.join(workdir, f"images_{batch}x{side}.f32")
    if not os.path.exists(path):
        rng, count = random.Random(1), batch * 3 * side * side
        with open(path, "wb") as f:
            f.write(struct.pack(f"<{count}f", *(rng.gauss(0, 1) for _ in range(count))))
    return path


def time_onnxruntime(preset, model, workdir, threads, seconds):
    batch, side = SHAPES[preset]
    out, rss = measure_wait4(
        python(False) + [os.path.join(ROOT, "tools/onnx_run.py"), model, images_file(preset, workdir),
                         f"{batch},3,{side},{side}",
                         "--threads", str(threads), "--time", str(seconds)], dict(os.environ))
    return {"rate": json.loads(out)["images_per_second"]}, rss


def time_ours(binary, bench_filter, threads, seconds, unit):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out, rss = measure_wait4(
        [binary, f"--benchmark_filter={bench_filter}", "--benchmark_format=json",
         f"--benchmark_min_time={seconds}"], env)
    return {"rate": json.loads(out)["benchmarks"][0][unit]}, rss


def peer_measurements(peer, preset, job, onnx_file, workdir, args, thread_counts):
    """{mode label: (result, rss)} of one peer on one (preset, job); empty where it does not apply.
    A mode the peer cannot run is left out, and said on stderr."""
    measured = {}
    for label, measure in peer_modes(peer, preset, job, onnx_file, workdir, args, thread_counts):
        try:
            measured[label] = measure()
        except ModeUnavailable as e:
            print(f"  {peer} {preset} {job} {label}: unavailable ({e})", file=sys.stderr)
    return measured


def peer_modes(peer, preset, job, onnx_file, workdir, args, thread_counts):
    """(mode label, a function that measures it) of one peer on one (preset, job)."""
    torch_modes = {"pytorch1": EAGER_MODES, "pytorch2_eager": EAGER_MODES,
                   "pytorch2_compile": {**COMPILE_MODES, **(AUTOTUNE_MODES if args.max_autotune else {})}}
    generation = preset in GPT_PRESETS and job == "inference"
    if peer == "pytorch2_compile" and generation:
        # The decoding step's position changes every token and torch.compile recompiles for it
        # (tried on nanogpt_cpu: 87 s of recompiling up to its limit of 8, then 0.15 s a sequence
        # against eager's 0.085 s).
        print(f"  {peer} {preset} {job}: not timed (torch.compile recompiles per position)", file=sys.stderr)
        return []
    if peer in torch_modes:
        return [(f"{mode} {t}t", lambda mode=mode, t=t: run_worker(peer != "pytorch1", ["--torch-worker", preset, job, mode],
                                                                  t, args.seconds))
                for mode in torch_modes[peer] for t in thread_counts
                if not (preset in GPT_PRESETS and TORCH_MODES[mode][1])]  # no channels_last for tokens
    if job != "inference" or generation:  # OpenVINO and ONNX Runtime: image models' inference
        return []
    if peer == "openvino":
        return [(f"{precision} {hint.lower()}",
                 lambda precision=precision, hint=hint: run_worker(
                     True, ["--openvino-worker", preset, onnx_file, precision, hint], args.threads, args.seconds))
                for precision, hint in OPENVINO_MODES]
    return [(f"f32 {args.threads}t", lambda: time_onnxruntime(preset, onnx_file, workdir, args.threads, args.seconds))]


def best(measurements):
    """(label, rate, RSS MB) of the fastest of {label: (result, rss)}."""
    label = max(measurements, key=lambda k: measurements[k][0]["rate"])
    return label, measurements[label][0]["rate"], measurements[label][1]


def print_tables(rows, args):
    peers = [p for p in PEERS if any(r["peers"].get(p) for r in rows)]
    header = ["model", "job", "dlf best (images or tokens/s)"] + [f"{p} best" for p in peers] + \
        ["dlf / each", "dlf / best of all", "peak RSS: " + ", ".join(["dlf"] + peers)]
    print("\n| " + " | ".join(header) + " |")
    print("|---|---|---:|" + "---:|" * len(peers) + "---|---:|---|")
    for r in rows:
        dlf_label, dlf_rate, dlf_rss = r["dlf"]
        cells, ratios, rss = [], [], [f"{dlf_rss:,.0f}"]
        for p in peers:
            m = r["peers"].get(p)
            if not m:
                cells.append("")
                rss.append("-")
                continue
            label, rate, peer_rss = best(m)
            cells.append(f"{rate:,.0f} ({label})")
            ratios.append(f"{dlf_rate / rate:.2f}x {p}")
            rss.append(f"{peer_rss:,.0f}")
        measured = [best(m) for m in r["peers"].values() if m]
        of_all = f"{dlf_rate / max(b[1] for b in measured):.2f}x" if measured else "no peer"
        row = [r["model"], r["job"], f"{dlf_rate:,.0f} ({dlf_label})"] + cells + \
            [", ".join(ratios), of_all, " / ".join(rss) + " MB"]
        print("| " + " | ".join(row) + " |")
    compiled = [(r, label, res[0]["warmup_seconds"]) for r in rows
                for label, res in (r["peers"].get("pytorch2_compile") or {}).items()]
    if compiled:
        print("\ntorch.compile's first two steps (compile time, not in the rates): " +
              "; ".join(f"{r['model']} {r['job']} {label} {s:.1f} s" for r, label, s in compiled))
    if args.baseline:
        print("\n| model | job | baseline f32 | baseline bf16 | dlf best / baseline best |\n|---|---|---:|---:|---:|")
        for r in rows:
            b = r["baseline"]
            print(f"| {r['model']} | {r['job']} | {b['f32'][0]['images_per_second']:,.0f} | "
                  f"{b['bf16'][0]['images_per_second']:,.0f} | {r['dlf'][1] / best(b)[1]:.2f}x |")


def write_json(path, rows):
    out = [{"model": r["model"], "job": r["job"], "unit": UNITS[r["model"]], "dlf": r["dlf"][1],
            "peers": {p: best(m)[1] for p, m in r["peers"].items() if m},
            "modes": {p: {label: res[0]["rate"] for label, res in m.items()}
                      for p, m in r["peers"].items() if m},
            "peak_rss_mb": {"dlf": r["dlf"][2], **{p: best(m)[2] for p, m in r["peers"].items() if m}}}
           for r in rows]
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="dlf's threads; PyTorch is timed at 1 thread and at this many")
    parser.add_argument("--seconds", type=float, default=5.0, help="timing per measurement")
    parser.add_argument("--models", default="seed,cifar,resnet20",
                        help="comma-separated: seed, cifar (AlexNet presets), resnet20 (batch 128, 32x32), "
                             "mobilenet_v2, convnext_tiny (batch 32, 224x224), gpt_nanogpt_cpu, "
                             "gpt_shakespeare_char (tokens/s; inference is generation)")
    parser.add_argument("--jobs", default="train,inference", help="comma-separated: train, inference")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated, of: " + ", ".join(PEERS))
    parser.add_argument("--max-autotune", action="store_true",
                        help="pytorch2_compile also with mode=\"max-autotune\" (slow to compile)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows here as JSON")
    parser.add_argument("--baseline", metavar="BINARY",
                        help="another build's train_step_benchmark (e.g. an older commit's), timed "
                             "side by side: its f32 and bf16, and dlf's best divided by its best")
    parser.add_argument("--torch-worker", nargs=3, metavar=("PRESET", "JOB", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--openvino-worker", nargs=4, metavar=("PRESET", "ONNX", "PRECISION", "HINT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        return torch_worker(*args.torch_worker, args.threads, args.seconds)
    if args.openvino_worker:
        return openvino_worker(*args.openvino_worker, args.threads, args.seconds)

    peers = args.peers.split(",")
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        sys.exit(f"--peers: unknown {', '.join(unknown)}; expected some of {', '.join(PEERS)}")
    models = args.models.split(",")
    if any(m not in MODELS for m in models):
        sys.exit(f"--models: expected some of {', '.join(MODELS)}, found {args.models}")
    jobs = args.jobs.split(",")
    if any(j not in ("train", "inference") for j in jobs):
        sys.exit(f"--jobs: expected train and/or inference, found {args.jobs}")
    if subprocess.run(python(True) + ["-c", "import torch, openvino"], capture_output=True).returncode != 0:
        missing = [p for p in peers if p in ("pytorch2_eager", "pytorch2_compile", "openvino")]
        if missing:
            print(f"note: no peers' environment (tools/setup.sh --with-peers): {', '.join(missing)} not timed",
                  file=sys.stderr)
        peers = [p for p in peers if p not in missing]

    subprocess.run(["bazel", "build", "//benchmarks:train_step_benchmark", "//models:train", "//models:export"],
                   cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    binary = os.path.join(ROOT, "bazel-bin/benchmarks/train_step_benchmark")
    workdir = tempfile.mkdtemp(prefix="compare_peers_")  # the exported models: ~300 MB
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    thread_counts = sorted({1, args.threads})
    shapes = "; ".join(f"{m} batch {GPT_PRESETS[m][1]} of {GPT_PRESETS[m][0]['block_size']} tokens (training), "
                       f"one sequence of {GPT_PRESETS[m][0]['block_size'] - 1} new tokens (generation)"
                       if m in GPT_PRESETS else f"{m} batch {SHAPES[m][0]} of {SHAPES[m][1]}x{SHAPES[m][1]}"
                       for m in models)
    print(f"{shapes}; dlf f32 and bf16 at {args.threads} threads; peers: {', '.join(peers)} "
          f"(PyTorch at {' and '.join(map(str, thread_counts))} threads, without "
          f"OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE; OpenVINO and ONNX Runtime at {args.threads})")
    rows = []
    for preset in models:
        onnx_file = export_onnx(preset, workdir) if "inference" in jobs and preset not in GPT_PRESETS else None
        for job in jobs:
            bench = BENCHES[preset][0 if job == "train" else 1]
            if bench is None:
                print(f"  {preset} has no {job} benchmark", file=sys.stderr)
                continue
            ours = {p: time_ours(binary, bench + p + "/", args.threads, args.seconds, UNITS[preset])
                    for p in ("f32", "bf16")}
            row = {"model": preset, "job": job, "dlf": best(ours),
                   "peers": {p: peer_measurements(p, preset, job, onnx_file, workdir, args, thread_counts)
                             for p in peers}}
            if args.baseline:
                row["baseline"] = {p: time_ours(args.baseline, bench + p + "/", args.threads, args.seconds,
                                                UNITS[preset])
                                   for p in ("f32", "bf16")}
            rows.append(row)
            print(f"  measured {preset} {job}", file=sys.stderr)
    print_tables(rows, args)
    if args.json:
        write_json(args.json, rows)


if __name__ == "__main__":
    main()
