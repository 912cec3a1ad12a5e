"""An LSTM that learns to continue sine waves: trained on windows of random phase, then asked to
extend a wave it has not seen, feeding its own predictions back.

    python examples/rnn_sine.py
"""
import argparse
import math

import numpy as np

import ember as torch
from ember import nn


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out), state


def batch(rng, size, length, device="cpu"):
    phase = rng.uniform(0, 2 * math.pi, (size, 1))
    t = np.arange(length + 1) * 0.2
    wave = np.sin(t + phase).astype(np.float32)[..., None]
    return torch.from_numpy(wave[:, :-1].copy()).to(device), torch.from_numpy(wave[:, 1:].copy()).to(device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to train: cuda (the default when a GPU is available) or cpu; here %(default)s")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    device = torch.device(args.device)
    model = Forecaster(args.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.MSELoss()
    for step in range(args.steps):
        x, y = batch(rng, 32, 40, device)
        pred, _ = model(x)
        loss = loss_fn(pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.5f}")
    # continue an unseen wave for 30 steps from a 40-step prompt
    x, _ = batch(np.random.default_rng(123), 1, 70, device)
    prompt, future = x[:, :40], x[:, 40:]
    with torch.no_grad():
        out, state = model(prompt)
        value = out[:, -1:]
        generated = []
        for _ in range(future.shape[1]):
            generated.append(value)
            value, state = model(value, state)
    generated = torch.cat(generated, 1)
    error = (generated - future).abs().mean().item()
    print(f"mean absolute error continuing an unseen wave for {future.shape[1]} steps: {error:.4f}")
    return loss.item(), error


if __name__ == "__main__":
    main()
