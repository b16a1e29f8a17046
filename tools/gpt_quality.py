#!/usr/bin/env python3
"""nanoGPT's CPU recipe in PyTorch on a text file: the PyTorch side of the quality comparison
with dlf (//benchmarks:gpt_quality trains dlf's GPT the same way on the same text).

  tools/python.sh tools/gpt_quality.py --seed=1 [--data_file=FILE] [--steps=2000]

nanoGPT's module (tools/gpt_check.py) with nanoGPT's initialization (normal 0.02, residual
projections 0.02 / sqrt(2 n_layer), zero biases); n_layer 4, n_head 4, n_embd 128, block 64,
batch 12, dropout 0; AdamW (betas 0.9 / 0.99, weight decay 0.1 on the parameters of 2 or more
dimensions), clip_grad_norm_ 1; lr 1e-3 warmed up over 100 steps, then cosine to 1e-4 at the last
step (nanoGPT's get_lr). The text: the sorted set of its characters as the vocabulary, the first
90% of the characters for training, the rest for validation; windows drawn with torch.randint as
nanoGPT's get_batch. Prints the mean validation loss over --eval_batches batches at the end."""
import argparse
import gzip
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from gpt_check import GPT  # noqa: E402

CONFIG = dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False)
BATCH = 12


def read_text(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def init_weights(model, n_layer):
    """nanoGPT's GPT.__init__: _init_weights on every module, then the residual projections."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))


def get_lr(it, lr, min_lr, warmup, decay_steps):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay_steps:
        return min_lr
    ratio = (it - warmup) / (decay_steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def get_batch(data, block):
    ix = torch.randint(len(data) - block, (BATCH,))
    return (torch.stack([data[i:i + block] for i in ix]).long(),
            torch.stack([data[i + 1:i + 1 + block] for i in ix]).long())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_file", default="/usr/share/doc/jargon-text/jargon.txt.gz")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--warmup_steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min_lr", type=float, default=1e-4)
    p.add_argument("--eval_batches", type=int, default=200)
    a = p.parse_args()
    text = read_text(a.data_file)
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.int32)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    torch.manual_seed(a.seed)
    config = dict(CONFIG, vocab_size=len(chars))
    model = GPT(config)
    init_weights(model, config["n_layer"])
    model.train()
    params = list(model.parameters())
    groups = [{"params": [q for q in params if q.dim() >= 2], "weight_decay": 0.1},
              {"params": [q for q in params if q.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.99))
    print(f"{a.data_file}: {len(train)} training and {len(val)} validation tokens; gpt {config}")
    for it in range(a.steps):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it, a.lr, a.min_lr, a.warmup_steps, a.steps - 1)
        x, y = get_batch(train, config["block_size"])
        loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (it + 1) % 100 == 0:
            print(f"step {it + 1}: train loss {loss.item():.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        losses = [model(*get_batch(val, config["block_size"])).item() for _ in range(a.eval_batches)]
    print(f"seed {a.seed}: val loss {sum(losses) / len(losses):.4f} ({a.eval_batches} batches of {BATCH} windows)")


if __name__ == "__main__":
    main()
