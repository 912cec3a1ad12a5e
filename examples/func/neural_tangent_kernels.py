"""The empirical neural tangent kernel (the torch.func tutorial): per-example Jacobians with
vmap(jacrev(f)) contracted into the NTK, J(x1) J(x2)^T.

    python examples/func/neural_tangent_kernels.py
"""
import argparse

import ember as torch
from ember.func import functional_call, jacrev, vmap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n1", type=int, default=5)
    parser.add_argument("--n2", type=int, default=4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 6 * 6, 10))
    params = {k: v.detach() for k, v in net.named_parameters()}

    def single(p, x):                              # the network on ONE example
        return functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)
    x1, x2 = torch.randn(args.n1, 3, 8, 8), torch.randn(args.n2, 3, 8, 8)
    jac1 = vmap(jacrev(single), (None, 0))(params, x1)
    jac2 = vmap(jacrev(single), (None, 0))(params, x2)
    ntk = sum(torch.einsum("Naf,Mbf->NMab", a.flatten(2), b.flatten(2))
              for a, b in zip(jac1.values(), jac2.values()))
    print(f"NTK {tuple(ntk.shape)} (n1, n2, outputs, outputs)")
    # one entry by hand: <d f(x1[0]) / d params, d f(x2[0]) / d params> for output 0
    first = jacrev(single)(params, x1[0])
    second = jacrev(single)(params, x2[0])
    by_hand = sum((first[k][0] * second[k][0]).sum() for k in params)
    print(f"entry [0, 0, 0, 0]: {ntk[0, 0, 0, 0].item():.5f}, by hand {by_hand.item():.5f}")
    return abs(ntk[0, 0, 0, 0].item() - by_hand.item())


if __name__ == "__main__":
    main()
