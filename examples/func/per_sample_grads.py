"""Per-sample gradients (the torch.func tutorial): one gradient per example of a batch, by vmap(grad(loss)),
checked against a Python loop over the batch and timed against it.

    python examples/func/per_sample_grads.py --batch 64
"""
import argparse
import time

import ember as torch
from ember.func import functional_call, grad, vmap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}
    data, targets = torch.randn(args.batch, 10), torch.randint(0, 3, (args.batch,))

    def loss(p, sample, target):                  # the loss of ONE example
        prediction = functional_call(model, p, (sample.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(prediction, target.unsqueeze(0))

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))
    start = time.perf_counter()
    grads = per_sample(params, data, targets)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    looped = [grad(loss)(params, data[i], targets[i]) for i in range(args.batch)]
    loop = time.perf_counter() - start
    worst = max((grads[k] - torch.stack([g[k] for g in looped])).abs().max().item() for k in grads)
    for k, g in grads.items():
        print(f"{k:10s} per-sample gradients {tuple(g.shape)}")
    print(f"largest difference from the loop: {worst:.2e}; vmap {batched * 1e3:.1f} ms, loop {loop * 1e3:.1f} ms")
    return worst


if __name__ == "__main__":
    main()
