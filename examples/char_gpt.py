"""A small character-level GPT trained on ember's own source code (no download), then sampled.

    python examples/char_gpt.py --steps 300
"""
import argparse
import glob
import math
import os
import time

import numpy as np

import ember as torch
from ember import nn
from ember.nn import functional as F


def load_corpus(limit_chars):
    root = os.path.dirname(torch.__file__)
    text = ""
    for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            text += f.read()
        if len(text) >= limit_chars:
            break
    return text[:limit_chars]


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = dropout

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd),
                                 nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block, n_embd, n_head, n_layer, dropout=0.0):
        super().__init__()
        self.block = block
        self.tok = nn.Embedding(vocab, n_embd)
        self.pos = nn.Embedding(block, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab)

    def forward(self, idx, targets=None):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        logits = self.head(self.ln(self.blocks(x)))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, n, temperature=0.8):
        for _ in range(n):
            logits, _ = self(idx[:, -self.block:])
            probs = F.softmax(logits[:, -1] / temperature, dim=-1)
            idx = torch.cat([idx, torch.multinomial(probs, 1)], dim=1)
        return idx


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--chars", type=int, default=200_000, help="corpus size")
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--embd", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--sample", type=int, default=300, help="characters to generate")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to train: cuda (the default when a GPU is available) or cpu; here %(default)s")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    text = load_corpus(args.chars)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(data))
    rng = np.random.default_rng(0)

    def get_batch(source):
        ix = rng.integers(0, len(source) - args.block - 1, args.batch)
        x = np.stack([source[i:i + args.block] for i in ix])
        y = np.stack([source[i + 1:i + 1 + args.block] for i in ix])
        return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    model = GPT(len(chars), args.block, args.embd, args.heads, args.layers).to(device)
    print(f"corpus {len(text):,} characters, vocabulary {len(chars)}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / max(args.steps, 1))))
    started = time.perf_counter()
    for step in range(args.steps):
        x, y = get_batch(data[:split])
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if step % 50 == 0 or step == args.steps - 1:
            model.eval()
            with torch.no_grad():
                _, val = model(*get_batch(data[split:]))
            model.train()
            print(f"step {step:4d}  train loss {loss.item():.3f}  val loss {val.item():.3f}  "
                  f"({time.perf_counter() - started:.0f} s)")
    model.eval()
    prompt = torch.tensor([[stoi[c] for c in "def "]], device=device)
    out = model.generate(prompt, args.sample)[0].tolist()
    sample = "".join(chars[i] for i in out)
    print("--- sample ---")
    print(sample)
    return loss.item(), sample


if __name__ == "__main__":
    main()
