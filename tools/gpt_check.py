#!/usr/bin/env python3
"""nanoGPT's GPT (model.py: the same modules, names and forward pass) loads a dlf gpt checkpoint
with load_state_dict(strict=True) and, when the file also holds "check/ids" and
"check/targets" (i32 [b, t]) and "check/loss" (dlf's mean cross-entropy of them, eval mode),
computes the same loss.

  python3 tools/gpt_check.py --n_head=6 FILE [--tolerance=1e-5]

The rest of the configuration (vocab_size, block_size, n_layer, n_embd, bias) is read off the
tensors' names and shapes. Exit code 0 when the weights load and the losses agree.

With "check/train_ids" and "check/train_targets" (i32 [steps, b, t]) and "check/train_losses"
(dlf's loss at each step), the module trains from the file's weights on those batches as
nanoGPT's train.py does (dropout 0): AdamW with weight decay on the parameters of 2 or more
dimensions, clip_grad_norm_, a constant learning rate; once in float32 and once in float64.
Each dlf loss must be as close to the float64 one as PyTorch's own float32 run is (20x its
largest gap so far, plus 1e-5).

  python3 tools/gpt_check.py --n_head=2 --lr=1e-2 --beta2=0.99 --weight_decay=0.1 --clip_norm=1 FILE

With --text=TEXT (a training checkpoint, its vocabulary in the metadata "text/vocabulary"), the
module scores every window of block_size tokens of the text's last 10% in order, as
//models:evaluate does, and prints the loss; --expect_val_loss=X (evaluate's) must agree to
--tolerance.

  python3 tools/gpt_check.py --n_head=4 --text=FILE.txt --expect_val_loss=2.662134 CHECKPOINT"""
import argparse
import gzip
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from safetensors_io import read_metadata, read_safetensors  # noqa: E402


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nanoGPT's: PyTorch's nn.LayerNorm has no bias=False)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c["n_embd"], 3 * c["n_embd"], bias=c["bias"])
        self.c_proj = nn.Linear(c["n_embd"], c["n_embd"], bias=c["bias"])
        self.attn_dropout = nn.Dropout(c["dropout"])
        self.resid_dropout = nn.Dropout(c["dropout"])
        self.n_head, self.n_embd, self.dropout = c["n_head"], c["n_embd"], c["dropout"]
        # PyTorch 2's fused attention where it exists (nanoGPT's "flash"), else the explicit mask.
        self.flash = hasattr(F, "scaled_dot_product_attention")
        t = c["block_size"]
        self.register_buffer("mask", torch.tril(torch.ones(t, t)).view(1, 1, t, t), persistent=False)

    def forward(self, x):
        b, t, e = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(b, t, self.n_head, e // self.n_head).transpose(1, 2)
        q = q.view(b, t, self.n_head, e // self.n_head).transpose(1, 2)
        v = v.view(b, t, self.n_head, e // self.n_head).transpose(1, 2)
        if self.flash:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.mask[:, :, :t, :t] == 0, float("-inf"))
            y = self.attn_dropout(F.softmax(att, dim=-1)) @ v
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(b, t, e)))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c["n_embd"], 4 * c["n_embd"], bias=c["bias"])
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c["n_embd"], c["n_embd"], bias=c["bias"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = LayerNorm(c["n_embd"], c["bias"])
        self.attn = CausalSelfAttention(c)
        self.ln_2 = LayerNorm(c["n_embd"], c["bias"])
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """c: vocab_size, block_size, n_layer, n_head, n_embd, dropout, bias (nanoGPT's GPTConfig)."""

    def __init__(self, c):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c["vocab_size"], c["n_embd"]),
            wpe=nn.Embedding(c["block_size"], c["n_embd"]),
            drop=nn.Dropout(c["dropout"]),
            h=nn.ModuleList([Block(c) for _ in range(c["n_layer"])]),
            ln_f=LayerNorm(c["n_embd"], c["bias"]),
        ))
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying

    def forward(self, idx, targets):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


class CachedDecoder:
    """The GPT decoding one token per step on a key/value cache of block_size rows per layer, as
    dlf's GptGenerator does: fixed shapes, the positions not reached yet masked out (-inf)."""

    def __init__(self, model):
        self.model = model
        blocks, block_size = model.transformer.h, model.transformer.wpe.weight.shape[0]
        a = blocks[0].attn
        shape = (1, a.n_head, block_size, a.n_embd // a.n_head)
        self.k = [torch.zeros(shape) for _ in blocks]
        self.v = [torch.zeros(shape) for _ in blocks]
        self.mask = torch.full((1, 1, 1, block_size), float("-inf"))
        self.fused = hasattr(F, "scaled_dot_product_attention")

    def reset(self):
        self.mask.fill_(float("-inf"))

    def step(self, token, pos):
        """The logits [1, vocab] after `token` (a [1, 1] tensor) at position `pos`."""
        t = self.model.transformer
        self.mask[..., pos] = 0
        x = t.wte(token) + t.wpe.weight[pos].view(1, 1, -1)
        for i, block in enumerate(t.h):
            a = block.attn
            q, k, v = (z.view(1, 1, a.n_head, -1).transpose(1, 2) for z in a.c_attn(block.ln_1(x)).split(a.n_embd, dim=2))
            self.k[i][:, :, pos] = k[:, :, 0]
            self.v[i][:, :, pos] = v[:, :, 0]
            keys, values, mask = self.k[i].to(q.dtype), self.v[i].to(q.dtype), self.mask.to(q.dtype)
            if self.fused:
                y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            else:
                y = F.softmax(q @ keys.transpose(-2, -1) * (1.0 / math.sqrt(q.size(-1))) + mask, dim=-1) @ values
            x = x + a.c_proj(y.transpose(1, 2).reshape(1, 1, a.n_embd))
            x = x + block.mlp(block.ln_2(x))
        return self.model.lm_head(t.ln_f(x))[:, -1, :]


def sample_with_cache(decoder, prompt, max_new_tokens, temperature=0.8, top_k=200):
    """nanoGPT's sample.py loop (temperature, top-k, multinomial) on the cache: one decoding step
    per prompt token and per sampled token but the last. prompt: a list of ids."""
    decoder.reset()
    for pos, token in enumerate(prompt):
        logits = decoder.step(torch.tensor([[token]]), pos)
    out = []
    for i in range(max_new_tokens):
        logits = logits.float() / temperature
        if top_k:
            kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
            logits[logits < kth] = -float("inf")
        out.append(torch.multinomial(F.softmax(logits, dim=-1), num_samples=1))
        if i + 1 < max_new_tokens:
            logits = decoder.step(out[-1], len(prompt) + i)
    return torch.cat(out, dim=1)


def config_of(state, n_head):
    vocab, embd = state["transformer.wte.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("transformer.h."))
    return dict(vocab_size=vocab, n_embd=embd, block_size=state["transformer.wpe.weight"].shape[0],
                n_layer=layers, n_head=n_head, bias="transformer.ln_f.bias" in state, dropout=0.0)


def train(state, config, ids, targets, dtype, a):
    """The loss at each step of nanoGPT's training loop from `state`, in `dtype`."""
    model = GPT(config).to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": a.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=a.lr, betas=(a.beta1, a.beta2), eps=1e-8)
    losses = []
    for x, y in zip(ids, targets):
        loss = model(x.long(), y.long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip_norm)
        optimizer.step()
        losses.append(loss.item())
    return losses


def check_training(state, config, tensors, a):
    ids, targets = tensors["check/train_ids"], tensors["check/train_targets"]
    f32 = train(state, config, ids, targets, torch.float32, a)
    f64 = train(state, config, ids, targets, torch.float64, a)
    ok, gap = True, 0.0
    for k, (dlf, ours, exact) in enumerate(zip(tensors["check/train_losses"].tolist(), f32, f64)):
        gap = max(gap, abs(ours - exact))
        bound = 20 * gap + 1e-5
        ok = ok and abs(dlf - exact) <= bound
        print(f"step {k + 1}: dlf {dlf:.8f} PyTorch f32 {ours:.8f} f64 {exact:.8f} "
              f"|dlf - f64| {abs(dlf - exact):.2e} bound {bound:.2e}")
    print("training losses agree" if ok else "training losses differ")
    return 0 if ok else 1


def text_tokens(path, record):
    """The ids of the text at `path` in a dlf vocabulary record ("byte" or "char:" + characters)."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if record == "byte":
        return list(raw)
    ids = {c: i for i, c in enumerate(record[len("char:"):])}
    return [ids[c] for c in raw.decode("utf-8")]


def split_loss(model, tokens, block_size, batch=256):
    """The mean cross-entropy over every window of the last 10% of `tokens`, in order."""
    val = tokens[int(len(tokens) * 0.9):]
    n = (len(val) - 1) // block_size
    x = torch.tensor(val[:n * block_size]).view(n, block_size)
    y = torch.tensor(val[1:n * block_size + 1]).view(n, block_size)
    total = 0.0
    with torch.no_grad():
        for i in range(0, n, batch):
            total += model(x[i:i + batch], y[i:i + batch]).double().item() * len(x[i:i + batch])
    return total / n, n * block_size


def check_text(model, config, a):
    record = read_metadata(a.file)["text/vocabulary"]
    loss, tokens = split_loss(model, text_tokens(a.text, record), config["block_size"])
    print(f"validation split of {a.text}: nanoGPT's loss {loss:.7f} over {tokens} tokens")
    if a.expect_val_loss is None:
        return 0
    print(f"dlf {a.expect_val_loss:.7f}, |diff| {abs(loss - a.expect_val_loss):.2e}")
    return 0 if abs(loss - a.expect_val_loss) <= a.tolerance else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--n_head", type=int, required=True)
    p.add_argument("--tolerance", type=float, default=1e-5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--weight_decay", type=float, default=0.1)
    p.add_argument("--clip_norm", type=float, default=1.0)
    p.add_argument("--text", help="score the last 10%% of this text (a training checkpoint's vocabulary)")
    p.add_argument("--expect_val_loss", type=float, help="with --text: dlf's loss, which must agree")
    a = p.parse_args()
    tensors = read_safetensors(a.file)
    state = {k: v for k, v in tensors.items() if not k.startswith(("check/", "optimizer/", "ema/"))}
    config = config_of(state, a.n_head)
    model = GPT(config).eval()
    model.load_state_dict(state, strict=True)
    print(f"gpt {config}: load_state_dict(strict=True) took all {len(state)} tensors")
    if a.text:
        return check_text(model, config, a)
    if "check/train_losses" in tensors:
        return check_training(state, config, tensors, a)
    if "check/loss" not in tensors:
        return 0
    with torch.no_grad():
        loss = model(tensors["check/ids"].long(), tensors["check/targets"].long()).item()
    theirs = tensors["check/loss"].item()
    print(f"validation loss: nanoGPT {loss:.7f}, dlf {theirs:.7f}, |diff| {abs(loss - theirs):.2e}")
    return 0 if abs(loss - theirs) <= a.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
