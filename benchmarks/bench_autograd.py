"""The seed's autograd loops in ember and PyTorch, side by side: median seconds and the ember/torch ratio.

Both variants fit a cubic to sin(x) on 2000 float32 points for 2000 steps with four scalar leaves and
manual SGD under no_grad (`p -= lr * p.grad; p.grad = None`): the plain-ops loop and the custom
autograd.Function (Legendre P3) loop. Runs alternate between the libraries; medians are compared.
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


def compare(builder, libs, steps, repeats, clock):
    samples = {name: [] for name in libs}
    for _ in range(repeats):                     # alternate so machine drift hits both alike
        for name, m in libs.items():
            run = builder(m, steps)              # fresh parameters each repeat: same work every time
            start = clock()
            run()
            samples[name].append(clock() - start)
    return {name: statistics.median(v) for name, v in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
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
        times = compare(builder, libs, args.steps, args.repeats, clock)
        t_torch = times.get("torch")
        ratio = f"{times['ember'] / t_torch:6.2f}x" if t_torch else "   n/a"
        torch_s = f"{t_torch:9.3f}" if t_torch else "      n/a"
        print(f"{label:34} {times['ember']:9.3f} {torch_s} {ratio}")


if __name__ == "__main__":
    main()
