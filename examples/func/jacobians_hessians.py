"""Jacobians and Hessians (the torch.func tutorial): jacrev and jacfwd agree, hessian is jacfwd(jacrev(f)),
and vmap batches them over inputs.

    python examples/func/jacobians_hessians.py
"""
import argparse

import ember as torch
from ember.func import hessian, jacfwd, jacrev, vmap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    n = args.size
    weight, bias = torch.randn(n, n, dtype=torch.float64), torch.randn(n, dtype=torch.float64)

    def predict(x):
        return torch.tanh(torch.nn.functional.linear(x, weight, bias))
    x = torch.randn(n, dtype=torch.float64)
    by_reverse, by_forward = jacrev(predict)(x), jacfwd(predict)(x)
    print(f"Jacobian {tuple(by_reverse.shape)}: jacrev and jacfwd differ by "
          f"{(by_reverse - by_forward).abs().max().item():.1e}")
    h = hessian(lambda v: predict(v).sum())(x)
    print(f"Hessian {tuple(h.shape)}, symmetric to {(h - h.T).abs().max().item():.1e}")
    batch = torch.randn(4, n, dtype=torch.float64)
    jacobians = vmap(jacrev(predict))(batch)
    print(f"batched Jacobians {tuple(jacobians.shape)}")
    return (by_reverse - by_forward).abs().max().item()


if __name__ == "__main__":
    main()
