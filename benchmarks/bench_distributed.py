"""ember.distributed on 2 local ranks: all_reduce bandwidth against raw mpi4py (Allreduce on NumPy buffers), and
the cost of a DistributedDataParallel step against the same step on one process (same per-rank batch).

    python benchmarks/bench_distributed.py          # starts the 2-rank job, prints, updates RESULTS.md

run.py calls measure() and appends the table to RESULTS.md."""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES_MB = (1, 100)


def _median_of(fn, repeats, inner):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def _rank_job():
    import numpy as np
    from mpi4py import MPI

    import ember as torch
    import ember.distributed as dist
    from ember import nn
    dist.init_process_group("gloo")
    comm = MPI.COMM_WORLD
    results = {"allreduce": {}, "ranks": dist.get_world_size()}
    for mb in SIZES_MB:
        n = mb * 1024 * 1024 // 4
        raw = np.ones(n, np.float32)
        mine = torch.ones(n)
        inner = 50 if mb == 1 else 2
        ember_times, raw_times = [], []
        for _ in range(5):                                      # alternate, so both see the same machine
            comm.Barrier()
            raw_times.append(_median_of(lambda: comm.Allreduce(MPI.IN_PLACE, raw), 1, inner))
            comm.Barrier()
            ember_times.append(_median_of(lambda: dist.all_reduce(mine), 1, inner))
        results["allreduce"][mb] = {"ember": statistics.median(ember_times), "mpi4py": statistics.median(raw_times)}

    def step_fn(model):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))

        def step():
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        return step

    def mlp():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    plain, ddp = step_fn(mlp()), step_fn(nn.parallel.DistributedDataParallel(mlp()))
    plain_times, ddp_times = [], []
    for _ in range(5):
        comm.Barrier()
        plain_times.append(_median_of(plain, 1, 50))
        comm.Barrier()
        ddp_times.append(_median_of(ddp, 1, 50))
    results["ddp"] = {"plain": statistics.median(plain_times), "ddp": statistics.median(ddp_times)}
    if dist.get_rank() == 0:
        print("BENCH " + json.dumps(results), flush=True)
    dist.destroy_process_group()


def measure():
    """Run the 2-rank job; its results, or None where MPI is missing."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    done = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2", __file__,
                           "--rank-job"], capture_output=True, text=True, timeout=600)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[len("BENCH "):])
    raise RuntimeError(f"the distributed benchmark job failed:\n{done.stdout}\n{done.stderr}")


def markdown(results):
    lines = ["", "## ember.distributed (2 local ranks on MPI, OMP_NUM_THREADS=1 per rank)", "",
             "| measure | ember | raw mpi4py / one process | ratio | notes |", "|---|---:|---:|---:|---|"]
    for mb, r in sorted(results["allreduce"].items(), key=lambda kv: float(kv[0])):
        size = float(mb) * 1024 * 1024
        e, m = size / r["ember"] / 1e9, size / r["mpi4py"] / 1e9
        lines.append(f"| all_reduce {mb} MB float32 | {e:.2f} GB/s | {m:.2f} GB/s | {e / m:.2f}x bandwidth | "
                     f"{r['ember'] * 1e3:.3f} ms vs {r['mpi4py'] * 1e3:.3f} ms |")
    d = results["ddp"]
    lines.append(f"| DDP step, digits MLP 64-256-256-10, batch 64 per rank | {d['ddp'] * 1e3:.2f} ms | "
                 f"{d['plain'] * 1e3:.2f} ms | {d['ddp'] / d['plain']:.2f}x time | one process without DDP, same "
                 "batch |")
    return lines


def update_results(lines, path=None):
    path = path or os.path.join(HERE, "RESULTS.md")
    text = open(path).read() if os.path.exists(path) else "# ember vs PyTorch\n"
    head = text.split("\n## ember.distributed")[0].rstrip("\n")
    with open(path, "w") as f:
        f.write(head + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    if "--rank-job" in sys.argv:
        _rank_job()
    else:
        found = measure()
        if found is None:
            print("mpi4py is not installed: pip install 'ember[distributed]'")
        else:
            table = markdown(found)
            print("\n".join(table))
            update_results(table)
