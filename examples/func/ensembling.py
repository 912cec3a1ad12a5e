"""Model ensembling (the torch.func tutorial): several models of one architecture stacked with
stack_module_state and run in one call with vmap + functional_call.

    python examples/func/ensembling.py --models 10
"""
import argparse
import copy

import ember as torch
from ember.func import functional_call, stack_module_state, vmap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=10)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 64), torch.nn.ReLU(),
                                  torch.nn.Linear(64, 10)) for _ in range(args.models)]
    minibatch = torch.randn(8, 1, 28, 28)
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")        # the architecture only: the weights come from params

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))
    same_data = vmap(one, in_dims=(0, 0, None))(params, buffers, minibatch)
    loop = torch.stack([m(minibatch) for m in models])
    worst = (same_data - loop).abs().max().item()
    print(f"{args.models} models on one minibatch: {tuple(same_data.shape)}, largest difference from the loop "
          f"{worst:.1e}")
    per_model = torch.randn(args.models, 8, 1, 28, 28)
    print(f"a minibatch per model: {tuple(vmap(one)(params, buffers, per_model).shape)}")
    return worst


if __name__ == "__main__":
    main()
