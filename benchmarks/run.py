"""ember vs PyTorch, side by side in one process: median times and ratios; writes benchmarks/RESULTS.md.

Each workload runs alternately in ember and PyTorch (when installed), several repeats after a
warm-up, and the medians are compared. `make bench` runs it.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

import ember  # noqa: E402

WORKLOADS = [
    ("seed autograd loop (200 steps)", workloads.seed_autograd, {}),
    ("seed custom Function loop (200 steps)", workloads.seed_function, {}),
    ("seed nn + RMSprop loop (200 steps)", workloads.seed_rmsprop, {}),
    ("digits MLP 64-256-256-10, Adam (1 epoch)", workloads.digits_mlp, {}),
    ("MLP 784-1024-1024-10, SGD momentum (10 steps)", workloads.mlp_784, {}),
    ("LeNet-style CNN, Adam (5 steps)", workloads.lenet, {}),
    ("tiny GPT, AdamW (3 steps)", workloads.tiny_gpt, {}),
    ("char LSTM 64-96-64, batch 16 x seq 32, AdamW (5 steps)", workloads.char_lstm, {}),
    ("per-op overhead, 2000 floats (2000 x 6 ops)", workloads.op_overhead, {}),
    ("per-op overhead with requires_grad", workloads.op_overhead, {"requires_grad": True}),
    ("func: per-sample grads, vmap(grad), batch 64", workloads.per_sample_grads, {}),
    ("func: per-sample grads, Python loop, batch 64", workloads.per_sample_grads_loop, {}),
    ("func: jacrev of 100 -> 100", workloads.jacobian_100, {"mode": "jacrev"}),
    ("func: jacfwd of 100 -> 100", workloads.jacobian_100, {"mode": "jacfwd"}),
]


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(builder, kwargs, torch, repeats):
    runs = {"ember": builder(ember, **kwargs)}
    if torch is not None:
        runs["torch"] = builder(torch, **kwargs)
    for fn in runs.values():                        # warm-up
        fn()
    samples = {name: [] for name in runs}
    for _ in range(repeats):                        # alternate so drift hits both sides alike
        for name, fn in runs.items():
            samples[name].append(median_time(fn, 1))
    return {name: statistics.median(v) for name, v in samples.items()}


def import_time(module, cache):
    """Median seconds of `import module` in fresh interpreters, with Python's compiled-bytecode cache on (in
    `cache`, warmed by the first run), as an installed package imports: a sandbox that sets
    PYTHONDONTWRITEBYTECODE would otherwise recompile every source file on every import."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    times = []
    for i in range(6):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            return None
        if i:                                       # the first run writes the cache
            times.append(float(out.stdout.strip()))
    return statistics.median(times)


def footprint(module):
    try:
        mod = __import__(module)
    except ImportError:
        return None
    root = os.path.dirname(mod.__file__)
    total = 0
    for base, _, files in os.walk(root):
        for f in files:
            total += os.path.getsize(os.path.join(base, f))
    return total / 2 ** 20


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default=None, help="run workloads whose name contains this text")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"))
    args = parser.parse_args()
    try:
        import torch                                # its default thread count, like NumPy's BLAS
    except ImportError:
        torch = None
        print("PyTorch is not installed: timing ember alone (pip install torch==2.13.0 for ratios)")
    rows = []
    for name, builder, kwargs in WORKLOADS:
        if args.only and args.only not in name:
            continue
        result = compare(builder, kwargs, torch, args.repeats)
        e, t = result["ember"], result.get("torch")
        extra = ""
        if builder is workloads.mlp_784:
            extra = f"ember {workloads.MLP_784_FLOPS_PER_STEP * 10 / e / 1e9:.1f} GFLOP/s"
            if t:
                extra += f", torch {workloads.MLP_784_FLOPS_PER_STEP * 10 / t / 1e9:.1f} GFLOP/s"
        rows.append((name, e, t, extra))
        ratio = f"{e / t:.2f}x" if t else "-"
        print(f"{name:50s} ember {e * 1e3:9.1f} ms  torch {t * 1e3 if t else float('nan'):9.1f} ms  "
              f"ratio {ratio} {extra}", flush=True)
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        ember_import, torch_import = import_time("ember", cache), import_time("torch", cache)
    ember_size, torch_size = footprint("ember"), footprint("torch")
    lines = ["# ember vs PyTorch", "",
             f"Measured on {cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"NumPy {__import__('numpy').__version__}" + (f", PyTorch {torch.__version__}" if torch else "") +
             (f" ({torch.get_num_threads()} threads)" if torch else "") +
             f"; medians of {args.repeats} alternating repeats. Ratio = ember time / PyTorch time "
             "(lower is better for ember).", "",
             "| workload | ember | PyTorch | ratio | notes |", "|---|---:|---:|---:|---|"]
    for name, e, t, extra in rows:
        lines.append(f"| {name} | {e * 1e3:.1f} ms | {t * 1e3:.1f} ms | {e / t:.2f}x | {extra} |" if t else
                     f"| {name} | {e * 1e3:.1f} ms | - | - | {extra} |")
    if ember_import is not None:
        lines.append(f"| `import` time | {ember_import * 1e3:.0f} ms | "
                     f"{torch_import * 1e3:.0f} ms | {ember_import / torch_import:.2f}x | bytecode cache on |" if torch_import else
                     f"| `import` time | {ember_import * 1e3:.0f} ms | - | - | |")
    if ember_size is not None:
        lines.append(f"| installed size | {ember_size:.1f} MiB | "
                     + (f"{torch_size:.0f} MiB | {ember_size / torch_size:.3f}x | package folder only |"
                        if torch_size else "- | - | |"))
    if not args.only or "distributed" in args.only:
        import bench_distributed
        found = bench_distributed.measure()
        if found is not None:
            table = bench_distributed.markdown(found)
            print("\n".join(table), flush=True)
            lines += table
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
