"""ember vs PyTorch on the spatial and sequence layers: forward + backward, side by side in one process.

Each case is built in both libraries from the same NumPy data, warmed up, then timed alternately
(ember, torch, ember, ...) so machine drift hits both; medians and ember/torch ratios are printed.
    .venv/bin/python benchmarks/bench_nn.py [--repeats 7] [--only lenet,gpt] [--threads 1]

--threads N pins both BLAS pools (OpenBLAS via its environment variable, read when NumPy loads, and
torch.set_num_threads) so a shared, oversubscribed machine compares like with like.
"""
import argparse
import os
import statistics
import sys
import time

if __name__ == "__main__" and "--threads" in sys.argv:   # must precede the NumPy import
    _threads = sys.argv[sys.argv.index("--threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _threads

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

import ember  # noqa: E402


def _data(m, shape, seed=0):
    return m.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def conv2d(m):
    """Conv2d 32->64 3x3 on (64, 32, 26, 26): forward + backward (LeNet's second conv)."""
    x = _data(m, (64, 32, 26, 26)).requires_grad_()
    m.manual_seed(0)
    conv = m.nn.Conv2d(32, 64, 3)

    def run():
        conv(x).sum().backward()
    return run


def conv2d_padded_strided(m):
    """Conv2d 64->128 3x3 stride 2 padding 1 on (16, 64, 32, 32): forward + backward."""
    x = _data(m, (16, 64, 32, 32)).requires_grad_()
    m.manual_seed(0)
    conv = m.nn.Conv2d(64, 128, 3, stride=2, padding=1)

    def run():
        conv(x).sum().backward()
    return run


def conv_transpose2d(m):
    """ConvTranspose2d 64->32 4x4 stride 2 on (16, 64, 16, 16): forward + backward."""
    x = _data(m, (16, 64, 16, 16)).requires_grad_()
    m.manual_seed(0)
    conv = m.nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)

    def run():
        conv(x).sum().backward()
    return run


def max_pool2d(m):
    """MaxPool2d(2) on (64, 64, 24, 24): forward + backward."""
    x = _data(m, (64, 64, 24, 24)).requires_grad_()

    def run():
        m.nn.functional.max_pool2d(x, 2).sum().backward()
    return run


def avg_pool2d(m):
    """AvgPool2d(3, 2, 1) on (64, 64, 24, 24): forward + backward."""
    x = _data(m, (64, 64, 24, 24)).requires_grad_()

    def run():
        m.nn.functional.avg_pool2d(x, 3, 2, 1).sum().backward()
    return run


def lstm(m):
    """LSTM(64, 128, 2 layers) on (seq 50, batch 32): forward + backward."""
    x = _data(m, (50, 32, 64)).requires_grad_()
    m.manual_seed(0)
    net = m.nn.LSTM(64, 128, num_layers=2)

    def run():
        out, _ = net(x)
        out.sum().backward()
    return run


def gru(m):
    """GRU(64, 128) bidirectional on (batch 32, seq 50) batch_first: forward + backward."""
    x = _data(m, (32, 50, 64)).requires_grad_()
    m.manual_seed(0)
    net = m.nn.GRU(64, 128, batch_first=True, bidirectional=True)

    def run():
        out, _ = net(x)
        out.sum().backward()
    return run


def sdpa(m):
    """scaled_dot_product_attention, causal, (16, 4, 64, 32): forward + backward."""
    q, k, v = (_data(m, (16, 4, 64, 32), seed).requires_grad_() for seed in range(3))

    def run():
        m.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    return run


def mha(m):
    """MultiheadAttention(128, 4, batch_first) self-attention on (16, 64, 128) with a causal mask."""
    x = _data(m, (16, 64, 128)).requires_grad_()
    m.manual_seed(0)
    net = m.nn.MultiheadAttention(128, 4, batch_first=True)
    mask = m.nn.Transformer.generate_square_subsequent_mask(64)

    def run():
        net(x, x, x, attn_mask=mask, need_weights=False)[0].sum().backward()
    return run


def encoder_layer(m):
    """TransformerEncoderLayer(128, 4, 512, batch_first) train step on (16, 64, 128)."""
    x = _data(m, (16, 64, 128)).requires_grad_()
    m.manual_seed(0)
    net = m.nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)

    def run():
        net(x).sum().backward()
    return run


def lenet(m):
    """LeNet-style CNN (Conv 1->32->64 3x3, MaxPool, two Linear), 28x28, batch 64, Adam: one step."""
    return workloads.lenet(m, steps=1)


def tiny_gpt(m):
    """Tiny GPT (4 layers, 4 heads, n_embd 128, block 64, batch 16, vocab 65), AdamW: one step."""
    return workloads.tiny_gpt(m, steps=1)


CASES = {"conv2d": conv2d, "conv2d_strided": conv2d_padded_strided, "conv_transpose2d": conv_transpose2d,
         "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d, "lstm": lstm, "gru": gru, "sdpa": sdpa, "mha": mha,
         "encoder_layer": encoder_layer, "lenet": lenet, "gpt": tiny_gpt}
TARGETS = {"lenet": 2.0, "gpt": 1.5}


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(builder, torch, repeats):
    runs = {"ember": builder(ember), "torch": builder(torch)}
    for fn in runs.values():
        fn()                                               # warm-up (allocations, caches)
    samples = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            samples[name].append(_time(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--threads", type=int, default=0, help="BLAS threads for both libraries (0: default)")
    args = parser.parse_args()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = [c for c in args.only.split(",") if c] or list(CASES)
    print(f"{'case':<18}{'ember ms':>10}{'torch ms':>10}{'ratio':>8}  target   (torch threads: "
          f"{torch.get_num_threads()})")
    for name in chosen:
        times = compare(CASES[name], torch, args.repeats)
        ratio = times["ember"] / times["torch"]
        target = TARGETS.get(name)
        verdict = "" if target is None else f"<= {target}x {'ok' if ratio <= target else 'MISSED'}"
        print(f"{name:<18}{times['ember'] * 1e3:>10.1f}{times['torch'] * 1e3:>10.1f}{ratio:>8.2f}  {verdict}",
              flush=True)


if __name__ == "__main__":
    main()
