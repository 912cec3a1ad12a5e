"""Workloads shared by benchmarks/run.py: each builds its state with a given module (ember or torch)
and returns a zero-argument function that runs one timed unit of work."""
import math

import numpy as np


def seed_autograd(m, steps=200):
    """The seed tutorial's autograd loop: cubic fit to sin(x), 2000 points, four scalar leaves."""
    x = m.linspace(-math.pi, math.pi, 2000)
    y = m.sin(x)
    m.manual_seed(0)
    a, b, c, d = params = [m.randn((), requires_grad=True) for _ in range(4)]
    return _manual_sgd(m, params, lambda: (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum(), 1e-6, steps)


def _manual_sgd(m, params, loss_fn, lr, steps):
    """The seed's loop: backward, then `p -= lr * p.grad; p.grad = None` under no_grad."""
    def run():
        for _ in range(steps):
            loss_fn().backward()
            with m.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
    return run


def seed_function(m, steps=200):
    """The seed's custom autograd.Function variant (Legendre P3)."""
    class P3(m.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)
    x = m.linspace(-math.pi, math.pi, 2000)
    y = m.sin(x)
    a, b, c, d = params = [m.full((), v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3)]
    return _manual_sgd(m, params, lambda: (a + b * P3.apply(c + d * x) - y).pow(2).sum(), 5e-6, steps)


def seed_rmsprop(m, steps=200):
    """The seed's nn + optim loop: Sequential(Linear(3,1), Flatten(0,1)), MSELoss(sum), RMSprop."""
    x = m.linspace(-math.pi, math.pi, 2000)
    y = m.sin(x)
    xx = x.unsqueeze(-1).pow(m.tensor([1, 2, 3]))
    model = m.nn.Sequential(m.nn.Linear(3, 1), m.nn.Flatten(0, 1))
    loss_fn = m.nn.MSELoss(reduction="sum")
    opt = m.optim.RMSprop(model.parameters(), lr=1e-3)

    def run():
        for _ in range(steps):
            loss = loss_fn(model(xx), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return run


def _digits():
    from sklearn.datasets import load_digits
    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


def digits_mlp(m, epochs=1):
    """MLP 64-256-256-10 on scikit-learn's digits, Adam, batch 64: one epoch."""
    X, Y = _digits()
    X, Y = m.from_numpy(X), m.from_numpy(Y)
    m.manual_seed(0)
    nn = m.nn
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = m.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for _ in range(epochs):
            for i in range(0, X.shape[0], 64):
                loss = loss_fn(model(X[i:i + 64]), Y[i:i + 64])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return run


def _sync(m, device):
    """Wait for the device's queue (GPU timings), nothing on the cpu."""
    if device != "cpu":
        m.cuda.synchronize()


def mlp_784(m, steps=10, device="cpu", batch=256):
    """MLP 784-1024-1024-10, batch 256, SGD with momentum (BLAS-bound)."""
    rng = np.random.default_rng(0)
    X = m.from_numpy(rng.standard_normal((batch, 784)).astype(np.float32)).to(device)
    Y = m.from_numpy(rng.integers(0, 10, batch)).to(device)
    nn = m.nn
    m.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                          nn.Linear(1024, 10)).to(device)
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for _ in range(steps):
            loss = loss_fn(model(X), Y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(m, device)
    return run


MLP_784_FLOPS_PER_STEP = 3 * 2 * 256 * (784 * 1024 + 1024 * 1024 + 1024 * 10)   # forward + 2x backward


def lenet(m, steps=5, device="cpu", batch=64):
    """LeNet-style CNN (Conv 1->32->64 3x3, MaxPool, two Linear) on 28x28, batch 64, Adam."""
    nn = m.nn
    rng = np.random.default_rng(0)
    X = m.from_numpy(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)).to(device)
    Y = m.from_numpy(rng.integers(0, 10, batch)).to(device)
    m.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    opt = m.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for _ in range(steps):
            loss = loss_fn(model(X), Y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(m, device)
    return run


def tiny_gpt(m, steps=3, device="cpu", batch=16):
    """A GPT of 4 layers, 4 heads, n_embd 128, block 64, batch 16, vocab 65: training steps."""
    nn = m.nn
    F = nn.functional
    vocab, block, n_embd, n_head, n_layer = 65, 64, 128, 4, 4

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(n_embd)
            self.attn = nn.Linear(n_embd, 3 * n_embd)
            self.proj = nn.Linear(n_embd, n_embd)
            self.ln2 = nn.LayerNorm(n_embd)
            self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.attn(self.ln1(x)).split(n_embd, dim=2)
            q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, n_embd)
            self.pos = nn.Embedding(block, n_embd)
            self.blocks = nn.Sequential(*[Block() for _ in range(n_layer)])
            self.ln = nn.LayerNorm(n_embd)
            self.head = nn.Linear(n_embd, vocab)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(m.arange(idx.shape[1], device=idx.device))
            return self.head(self.ln(self.blocks(x)))

    m.manual_seed(0)
    model = GPT().to(device)
    opt = m.optim.AdamW(model.parameters(), lr=3e-4)
    rng = np.random.default_rng(0)
    idx = m.from_numpy(rng.integers(0, vocab, (batch, block))).to(device)
    tgt = m.from_numpy(rng.integers(0, vocab, (batch, block))).to(device)

    def run():
        for _ in range(steps):
            logits = model(idx)
            loss = F.cross_entropy(logits.view(-1, vocab), tgt.view(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(m, device)
    return run


def _char_text(length, vocab, seed=0):
    """Generated "text" as character codes 0..vocab-1: words of 2-8 letters drawn from a Zipf-like
    distribution over 24 made-up words, so an LSTM has structure to learn. No downloads."""
    rng = np.random.default_rng(seed)
    words = [rng.integers(1, vocab, rng.integers(2, 9)) for _ in range(24)]
    weights = 1.0 / np.arange(1, len(words) + 1)
    out = []
    while sum(map(len, out)) < length:
        out += [words[rng.choice(len(words), p=weights / weights.sum())], np.zeros(1, np.int64)]  # 0: space
    return np.concatenate(out)[:length]


def char_lstm(m, steps=5, device="cpu", batch=16, seq=32):
    """Character-level LSTM: Embedding(64, 32) -> LSTM(32, 96) -> Linear(96, 64), batch 16, seq 32, AdamW.
    Its products are small (16x96 @ 96x384 per time step): BLAS threading overhead shows here. Runs at
    the default thread settings on purpose."""
    nn = m.nn
    vocab, embed, hidden = 64, 32, 96

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, idx):
            out, _ = self.lstm(self.embed(idx))
            return self.head(out)

    text = _char_text(batch * (seq + 1) * steps, vocab)
    windows = text.reshape(steps, batch, seq + 1)
    data = [(m.from_numpy(w[:, :-1].copy()).to(device), m.from_numpy(w[:, 1:].copy()).to(device)) for w in windows]
    m.manual_seed(0)
    model = CharLSTM().to(device)
    opt = m.optim.AdamW(model.parameters(), lr=3e-3)
    F = nn.functional

    def run():
        for idx, tgt in data:
            loss = F.cross_entropy(model(idx).reshape(-1, vocab), tgt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(m, device)
    return run


def op_overhead(m, reps=2000, requires_grad=False, device="cpu"):
    """Per-op overhead: a few elementwise ops and small reductions on a 2000-element float32 tensor."""
    m.manual_seed(0)
    x = m.rand(2000).to(device).requires_grad_(requires_grad)
    y = m.rand(2000).to(device)

    def run():
        for _ in range(reps):
            (x + y).mul(2.0).exp().sum()
            (x * y).mean()
        _sync(m, device)
    return run


# --- torch.func: per-sample gradients and Jacobians -------------------------------------------------------------

def _per_sample_setup(m):
    m.manual_seed(0)
    model = m.nn.Sequential(m.nn.Linear(10, 32), m.nn.ReLU(), m.nn.Linear(32, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}
    data, targets = m.randn(64, 10), m.randint(0, 3, (64,))

    def loss(p, sample, target):
        prediction = m.func.functional_call(model, p, (sample.unsqueeze(0),))
        return m.nn.functional.cross_entropy(prediction, target.unsqueeze(0))
    return params, data, targets, loss


def per_sample_grads(m):
    """vmap(grad(loss)) over a batch of 64 for a 10-32-3 MLP (the torch.func tutorial)."""
    params, data, targets, loss = _per_sample_setup(m)
    per_sample = m.func.vmap(m.func.grad(loss), in_dims=(None, 0, 0))
    return lambda: per_sample(params, data, targets)


def per_sample_grads_loop(m):
    """The same gradients by a Python loop over the batch (ember's baseline for vmap)."""
    params, data, targets, loss = _per_sample_setup(m)
    g = m.func.grad(loss)
    return lambda: [g(params, data[i], targets[i]) for i in range(64)]


def jacobian_100(m, mode="jacrev"):
    """The Jacobian of a 100 -> 100 function (tanh of a linear map) by jacrev or jacfwd."""
    m.manual_seed(0)
    weight, bias, x = m.randn(100, 100), m.randn(100), m.randn(100)
    transform = getattr(m.func, mode)(lambda v: m.tanh(m.nn.functional.linear(v, weight, bias)))
    return lambda: transform(x)
