"""ember vs PyTorch on the GPU, side by side in one process: writes benchmarks/RESULTS_GPU.md.

The workloads of benchmarks/workloads.py at GPU batch sizes, each synchronized at the end of a run. PyTorch
runs on its own CUDA device when it has one (otherwise only ember's times are reported). Issue 14's goals
(ratio ember / PyTorch): MLP 784-1024-1024-10 at batch 4096 <= 1.2x, tiny GPT at batch 64 <= 2x, LeNet at
batch 256 <= 2x, per-op overhead <= 2x.

    python benchmarks/gpu_bench.py [--repeats 5] [--smoke]      (--smoke: tiny sizes, checks it runs)
"""
import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402
from run import median_time  # noqa: E402

import ember  # noqa: E402

WORKLOADS = [   # (name, builder, full-size kwargs, smoke kwargs, goal)
    ("MLP 784-1024-1024-10, batch 4096, SGD momentum (10 steps)", workloads.mlp_784,
     {"batch": 4096}, {"batch": 8, "steps": 1}, 1.2),
    ("tiny GPT, batch 64, AdamW (3 steps)", workloads.tiny_gpt, {"batch": 64}, {"batch": 2, "steps": 1}, 2.0),
    ("LeNet-style CNN, batch 256, Adam (5 steps)", workloads.lenet, {"batch": 256}, {"batch": 2, "steps": 1}, 2.0),
    ("per-op overhead, 2000 floats (2000 x 6 ops)", workloads.op_overhead, {}, {"reps": 3}, 2.0),
]


def _median_run(fn, repeats):
    fn()                                            # warm-up: kernels compiled, memory pools filled
    return median_time(fn, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat: checks that it runs")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS_GPU.md"))
    args = parser.parse_args(argv)
    if not ember.cuda.is_available():
        sys.exit("ember.cuda.is_available() is False: no GPU (or CuPy) here; EMBER_EMULATE_CUDA=1 for --smoke")
    try:
        import torch
        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    repeats = 1 if args.smoke else args.repeats
    rows = []
    for name, builder, full, smoke, goal in WORKLOADS:
        kwargs = dict(smoke if args.smoke else full, device="cuda")
        ours = _median_run(builder(ember, **kwargs), repeats)
        theirs = _median_run(builder(torch, **kwargs), repeats) if torch is not None else None
        ratio = f"{ours / theirs:.2f}x" if theirs else "-"
        ok = "" if theirs is None else ("meets" if ours / theirs <= goal else "misses") + f" goal <= {goal}x"
        rows.append(f"| {name} | {ours * 1e3:.1f} ms | {'-' if theirs is None else f'{theirs * 1e3:.1f} ms'} | "
                    f"{ratio} | {ok} |")
        print(rows[-1], flush=True)
    device = ember.cuda.get_device_name()
    header = (f"Measured on {device}, {platform.processor() or platform.machine()}, Python "
              f"{platform.python_version()}, ember {getattr(ember, '__version__', '?')}"
              + (f", PyTorch {torch.__version__}" if torch is not None else ", PyTorch CUDA not available")
              + f"; medians of {repeats} runs after a warm-up, synchronized. Ratio = ember / PyTorch.")
    text = "\n".join(["# GPU benchmarks (benchmarks/gpu_bench.py)", "", header, "",
                      "| workload | ember | PyTorch | ratio | goal |", "|---|---:|---:|---:|---|", *rows, ""])
    if not args.smoke:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
