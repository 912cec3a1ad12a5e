"""Linear regression on a noisy synthetic line with nn.Linear, MSELoss and SGD.

    python examples/regression.py
"""
import argparse

import ember as torch
from ember import nn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to train: cuda (the default when a GPU is available) or cpu; here %(default)s")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    true_w, true_b = torch.tensor([[2.0, -3.4]]), 4.2
    x = torch.randn(1000, 2)
    y = x @ true_w.T + true_b + 0.01 * torch.randn(1000, 1)
    x, y = x.to(device), y.to(device)
    model = nn.Linear(2, 1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.03)
    loss_fn = nn.MSELoss()
    for step in range(args.steps):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.6f}")
    w, b = model.weight.detach()[0].tolist(), model.bias.item()
    print(f"learned w = [{w[0]:.3f}, {w[1]:.3f}], b = {b:.3f} (true: [2.000, -3.400], 4.200)")
    return w, b, loss.item()


if __name__ == "__main__":
    main()
