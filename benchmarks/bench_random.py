"""Cost of PyTorch-exact random draws: ember vs NumPy's own generator (and PyTorch when installed).

Requirement (issue 7): 10^6 normals cost at most 2x NumPy's vectorised standard_normal. The float32
case is the one that matters (randn's default dtype); float64 is printed too: its Box-Muller needs
the C library's log/sin/cos on 10^6 doubles, which alone costs more than NumPy's ziggurat.
Runs alternate between the contenders and the minimum of each is compared, so load drift on a
shared machine hits all alike. Usage: python benchmarks/bench_random.py [--n N] [--repeats R]
"""
import argparse
import time

import numpy as np

import ember


def best_time(fns, repeats):
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    n = args.n
    rng = np.random.default_rng(0)
    gen = ember.Generator().manual_seed(0)
    fns = {
        "numpy standard_normal (float64)": lambda: rng.standard_normal(n),
        "ember randn float32": lambda: ember.randn(n, generator=gen),
        "ember randn float64": lambda: ember.randn(n, generator=gen, dtype=ember.float64),
        "numpy random (float64)": lambda: rng.random(n),
        "ember rand float32": lambda: ember.rand(n, generator=gen),
    }
    try:
        import torch
        torch_gen = torch.Generator().manual_seed(0)
        fns["torch randn float32"] = lambda: torch.randn(n, generator=torch_gen)
    except ImportError:
        pass
    best = best_time(fns, args.repeats)
    reference = best["numpy standard_normal (float64)"]
    print(f"{n:,} draws, best of {args.repeats} (ratio to NumPy's standard_normal):")
    for name, seconds in best.items():
        print(f"  {name:34s} {seconds * 1e3:8.2f} ms   {seconds / reference:5.2f}x")
    ratio = best["ember randn float32"] / reference
    print(f"ember randn (float32) / numpy standard_normal = {ratio:.2f}x (target <= 2x): "
          f"{'OK' if ratio <= 2 else 'OVER'}")


if __name__ == "__main__":
    main()
