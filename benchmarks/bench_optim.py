"""Optimizer workloads in ember and PyTorch, side by side: median seconds and the ember/torch ratio.

1. The seed's nn + optim loop: Sequential(Linear(3, 1), Flatten(0, 1)), MSELoss(reduction='sum'),
   RMSprop(lr=1e-3), x = linspace(-pi, pi, 2000) with features x, x^2, x^3, 2000 steps.
   Target: ember <= 0.5x PyTorch.
2. Adam.step() alone over 100 parameter tensors of 10k float32 elements (gradients set once), 50 steps.
   Target: ember <= 1.0x PyTorch.
Runs alternate between the libraries; medians are compared; PyTorch runs single-threaded (as NumPy does)
unless --torch-threads says otherwise. With --profile, prints where ember's time
goes in the seed loop. Usage: python benchmarks/bench_optim.py [--repeats R] [--cpu-time] [--profile]
"""
import argparse
import math
import statistics
import time

import numpy as np

import ember


def seed_rmsprop(m, steps=2000):
    x = m.linspace(-math.pi, math.pi, 2000)
    y = m.sin(x)
    xx = x.unsqueeze(-1).pow(m.tensor([1, 2, 3]))
    m.manual_seed(0)
    model = m.nn.Sequential(m.nn.Linear(3, 1), m.nn.Flatten(0, 1))
    loss_fn = m.nn.MSELoss(reduction="sum")
    optimizer = m.optim.RMSprop(model.parameters(), lr=1e-3)

    def run():
        for _ in range(steps):
            loss = loss_fn(model(xx), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return loss.item()
    return run


def adam_step(m, steps=50, n_params=100, numel=10_000):
    rng = np.random.default_rng(0)
    params = []
    for _ in range(n_params):
        p = m.tensor(rng.standard_normal(numel, dtype=np.float32), requires_grad=True)
        p.grad = m.tensor(rng.standard_normal(numel, dtype=np.float32))
        params.append(p)
    optimizer = m.optim.Adam(params, lr=1e-3)

    def run():
        for _ in range(steps):
            optimizer.step()
    return run


def compare(builder, libs, repeats, clock):
    samples = {name: [] for name in libs}
    for _ in range(repeats):                     # alternate so machine drift hits both alike
        for name, m in libs.items():
            run = builder(m)                     # fresh state each repeat: same work every time
            start = clock()
            run()
            samples[name].append(clock() - start)
    return {name: statistics.median(v) for name, v in samples.items()}


def profile_seed():
    import cProfile
    import pstats
    run = seed_rmsprop(ember)
    profiler = cProfile.Profile()
    profiler.runcall(run)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with process CPU time (steadier on a busy machine) instead of wall clock")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile ember's seed loop and exit")
    args = parser.parse_args()
    if args.profile:
        profile_seed()
        return
    clock = time.process_time if args.cpu_time else time.perf_counter
    libs = {"ember": ember}
    try:
        import torch
        # NumPy's ufuncs are single-threaded; PyTorch's intra-op pool on a small shared machine mostly
        # spins (10-50x slower here), so compare single-threaded unless asked otherwise.
        torch.set_num_threads(args.torch_threads)
        libs["torch"] = torch
    except ImportError:
        pass
    for m in libs.values():                       # warm-up: imports, caches
        seed_rmsprop(m, 20)()
        adam_step(m, 2)()
    print(f"{'workload':44} {'ember s':>9} {'torch s':>9} {'ratio':>7} {'target':>7}")
    for label, builder, target in (("seed nn + RMSprop loop (2000 steps)", seed_rmsprop, 0.5),
                                   ("Adam.step, 100 x 10k params (50 steps)", adam_step, 1.0)):
        times = compare(builder, libs, args.repeats, clock)
        t_torch = times.get("torch")
        ratio = f"{times['ember'] / t_torch:6.2f}x" if t_torch else "   n/a"
        torch_s = f"{t_torch:9.3f}" if t_torch else "      n/a"
        print(f"{label:44} {times['ember']:9.3f} {torch_s} {ratio} {target:6.1f}x")


if __name__ == "__main__":
    main()
