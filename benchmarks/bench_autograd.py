"""The seed's autograd loops in ember and PyTorch, side by side: median seconds and the ember/torch ratio.

Both variants fit a cubic to sin(x) on 2000 float32 points for 2000 steps with four scalar leaves and
manual SGD under no_grad (`p -= lr * p.grad; p.grad = None`): the plain-ops loop and the custom
autograd.Function (Legendre P3) loop. The libraries take turns every 100 steps; the ratio is the median
of the neighbouring-chunk ratios, the seconds are medians of whole runs.
Target: ember <= 0.8x PyTorch. Usage: python benchmarks/bench_autograd.py [--steps N] [--repeats R] [--threads T]
For steady numbers on a small machine pin both libraries to one thread: OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1 in the environment (NumPy's BLAS reads it at import) and --threads 1 (PyTorch).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import seed_autograd as polynomial_loop  # noqa: E402  (the loops benchmarks/run.py times too)
from workloads import seed_function as legendre_loop  # noqa: E402

import ember  # noqa: E402


def compare(builder, libs, steps, repeats, clock, chunk=100):
    """Seconds for `steps` steps in each library (median over repeats) and the median per-chunk ratio.

    The libraries take turns every `chunk` steps, so a machine that speeds up or slows down (shared
    virtual machines drift by tens of percent within seconds) hits both alike; the ratio of each pair
    of neighbouring chunks is timed under the same conditions, and their median is the reported ratio.
    """
    totals = {name: [] for name in libs}
    ratios = []
    for _ in range(repeats):
        runs = {name: builder(m, chunk) for name, m in libs.items()}    # fresh parameters each repeat
        spent = dict.fromkeys(libs, 0.0)
        for _ in range(max(1, steps // chunk)):
            pair = {}
            for name, run in runs.items():
                start = clock()
                run()
                pair[name] = clock() - start
                spent[name] += pair[name]
            if "torch" in pair:
                ratios.append(pair["ember"] / pair["torch"])
        for name in libs:
            totals[name].append(spent[name])
    return {name: statistics.median(v) for name, v in totals.items()}, (statistics.median(ratios) if ratios else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with process CPU time (steadier on a busy machine) instead of wall clock")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads(T) when T > 0")
    args = parser.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    libs = {"ember": ember}
    try:
        import torch
        libs["torch"] = torch
        if args.threads > 0:
            torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    for m in libs.values():                       # warm-up: imports, caches
        polynomial_loop(m, 20)()
        legendre_loop(m, 20)()
    print(f"{'workload':34} {'ember s':>9} {'torch s':>9} {'ratio':>7}")
    for label, builder in (("seed autograd loop", polynomial_loop), ("seed custom Function loop", legendre_loop)):
        times, chunk_ratio = compare(builder, libs, args.steps, args.repeats, clock)
        t_torch = times.get("torch")
        ratio = f"{chunk_ratio:6.2f}x" if chunk_ratio else "   n/a"
        torch_s = f"{t_torch:9.3f}" if t_torch else "      n/a"
        print(f"{label:34} {times['ember']:9.3f} {torch_s} {ratio}")


if __name__ == "__main__":
    main()
