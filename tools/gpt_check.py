#!/usr/bin/env python3
"""nanoGPT's GPT (model.py: the same modules, names and forward pass) loads a dlf gpt checkpoint
with load_state_dict(strict=True) and, when the file also holds "check/ids" and
"check/targets" (i32 [b, t]) and "check/loss" (dlf's mean cross-entropy of them, eval mode),
computes the same loss.

  python3 tools/gpt_check.py --n_head=6 FILE [--tolerance=1e-5]

The rest of the configuration (vocab_size, block_size, n_layer, n_embd, bias) is read off the
tensors' names and shapes. Exit code 0 when the weights load and the losses agree."""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402


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


def config_of(state, n_head):
    vocab, embd = state["transformer.wte.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("transformer.h."))
    return dict(vocab_size=vocab, n_embd=embd, block_size=state["transformer.wpe.weight"].shape[0],
                n_layer=layers, n_head=n_head, bias="transformer.ln_f.bias" in state, dropout=0.0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--n_head", type=int, required=True)
    p.add_argument("--tolerance", type=float, default=1e-5)
    a = p.parse_args()
    tensors = read_safetensors(a.file)
    state = {k: v for k, v in tensors.items() if not k.startswith(("check/", "optimizer/", "ema/"))}
    config = config_of(state, a.n_head)
    model = GPT(config).eval()
    model.load_state_dict(state, strict=True)
    print(f"gpt {config}: load_state_dict(strict=True) took all {len(state)} tensors")
    if "check/loss" not in tensors:
        return 0
    with torch.no_grad():
        loss = model(tensors["check/ids"].long(), tensors["check/targets"].long()).item()
    theirs = tensors["check/loss"].item()
    print(f"validation loss: nanoGPT {loss:.7f}, dlf {theirs:.7f}, |diff| {abs(loss - theirs):.2e}")
    return 0 if abs(loss - theirs) <= a.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
