"""Per-op overhead: elementwise ops and small reductions on a 2000-element float32 tensor, ember vs
PyTorch in one process, with and without requires_grad. Prints median times and ember/torch ratios.

    .venv/bin/python benchmarks/bench_ops.py [--repeats 15] [--inner 200] [--filter exp]

Each op runs `inner` times per sample; samples alternate between ember and torch so that machine
noise hits both alike; the reported time is the median sample divided by `inner`. PyTorch is pinned
to one thread (NumPy's elementwise kernels are single-threaded), so the ratio compares per-call cost.
"""
import argparse
import statistics
import sys
import time

import numpy as np

import ember

N = 2000
ROWS, COLS = 40, 50                      # the same 2000 elements as a matrix, for reductions over a dim

OPS = {
    # elementwise
    "add": lambda m, x, y: x + y,
    "sub": lambda m, x, y: x - y,
    "mul": lambda m, x, y: x * y,
    "div": lambda m, x, y: x / y,
    "add scalar": lambda m, x, y: x + 1.5,
    "mul scalar": lambda m, x, y: x * 2.0,
    "rsub scalar": lambda m, x, y: 1.0 - x,
    "neg": lambda m, x, y: -x,
    "abs": lambda m, x, y: x.abs(),
    "pow 2": lambda m, x, y: x ** 2,
    "pow 0.5": lambda m, x, y: x ** 0.5,
    "exp": lambda m, x, y: x.exp(),
    "log": lambda m, x, y: x.log(),
    "sqrt": lambda m, x, y: x.sqrt(),
    "sin": lambda m, x, y: x.sin(),
    "tanh": lambda m, x, y: x.tanh(),
    "sigmoid": lambda m, x, y: x.sigmoid(),
    "erf": lambda m, x, y: m.erf(x),
    "relu": lambda m, x, y: m.relu(x),
    "clamp": lambda m, x, y: x.clamp(0.2, 0.8),
    "maximum": lambda m, x, y: m.maximum(x, y),
    "where": lambda m, x, y: m.where(x > y, x, y),
    "gt": lambda m, x, y: x > y,
    "lerp": lambda m, x, y: m.lerp(x, y, 0.3),
    # small reductions
    "sum": lambda m, x, y: x.sum(),
    "mean": lambda m, x, y: x.mean(),
    "max": lambda m, x, y: x.max(),
    "amax dim": lambda m, x, y: x.view(ROWS, COLS).amax(1),
    "sum dim": lambda m, x, y: x.view(ROWS, COLS).sum(1),
    "mean dim": lambda m, x, y: x.view(ROWS, COLS).mean(0),
    "var": lambda m, x, y: x.var(),
    "norm": lambda m, x, y: x.norm(),
    "softmax dim": lambda m, x, y: x.view(ROWS, COLS).softmax(1),
    "logsumexp dim": lambda m, x, y: x.view(ROWS, COLS).logsumexp(1),
    "cumsum": lambda m, x, y: x.cumsum(0),
    "argmax": lambda m, x, y: x.argmax(),
    # views
    "view": lambda m, x, y: x.view(ROWS, COLS),
    "getitem slice": lambda m, x, y: x[10:100],
}


def build(m, op, requires_grad):
    rng = np.random.default_rng(0)
    x = m.from_numpy(rng.uniform(0.1, 1.0, N).astype(np.float32))
    y = m.from_numpy(rng.uniform(0.1, 1.0, N).astype(np.float32))
    if requires_grad:
        x.requires_grad_(True)
    fn = OPS[op]
    fn(m, x, y)                                   # fails early if the op is missing
    return lambda: fn(m, x, y)


def sample(fn, inner):
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def measure(op, requires_grad, torch, repeats, inner):
    runs = {"ember": build(ember, op, requires_grad), "torch": build(torch, op, requires_grad)}
    for fn in runs.values():                     # warm-up
        sample(fn, inner // 4 or 1)
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(sample(fn, inner))
    return {name: statistics.median(v) for name, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--inner", type=int, default=200)
    parser.add_argument("--filter", default="")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        sys.exit("bench_ops.py compares against PyTorch: install the oracle extra (torch==2.13.0)")
    torch.set_num_threads(1)
    rows = []
    print(f"{'op':<16}{'grad':>5}{'ember us':>11}{'torch us':>11}{'ratio':>8}")
    for requires_grad in (False, True):
        for op in OPS:
            if args.filter not in op:
                continue
            try:
                t = measure(op, requires_grad, torch, args.repeats, args.inner)
            except Exception as error:          # an op ember lacks is reported, not fatal
                print(f"{op:<16}{str(requires_grad)[0]:>5}  skipped: {type(error).__name__}: {error}")
                continue
            ratio = t["ember"] / t["torch"]
            rows.append((op, requires_grad, ratio))
            print(f"{op:<16}{str(requires_grad)[0]:>5}{t['ember'] * 1e6:>11.2f}{t['torch'] * 1e6:>11.2f}{ratio:>8.2f}")
    for requires_grad in (False, True):
        ratios = [r for _, g, r in rows if g == requires_grad]
        if ratios:
            geo = float(np.exp(np.mean(np.log(ratios))))
            print(f"requires_grad={requires_grad}: geometric mean ratio {geo:.2f}, median {statistics.median(ratios):.2f}, "
                  f"{sum(r <= 1.0 for r in ratios)}/{len(ratios)} ops at or below 1.0")


if __name__ == "__main__":
    main()
