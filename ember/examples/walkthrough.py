"""The PyTorch basics tutorial, step by step, on ember: tensors, the NumPy bridge, then a cubic fit
to sin(x) seven ways (NumPy, tensors by hand, autograd, a custom autograd.Function, nn + manual
update, optim.RMSprop, a custom nn.Module). Run: `make demo` or `python -m ember.examples`.

It writes the fitted curves (seed_fit.png, with matplotlib) and one step's autograd graph
(autograd_graph.dot and .svg) to the output folder: see `--help` for where that is.
"""
import argparse
import math
import os
import shutil
import time

import numpy as np

import ember as torch
from ember import nn


def section(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def show(label, value):
    print(f"{label}:\n{value}\n")


def tensors_chapter():
    section("1. Tensors")
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    show("From data", x_data)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    show("From a NumPy array", x_np)
    show("Ones like x_data", torch.ones_like(x_data))
    show("Random like x_data (float)", torch.rand_like(x_data, dtype=torch.float))
    shape = (2, 3)
    show("rand(2, 3)", torch.rand(shape))
    show("ones(2, 3)", torch.ones(shape))
    show("zeros(2, 3)", torch.zeros(shape))

    tensor = torch.rand(3, 4)
    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")
    if torch.cuda.is_available():
        tensor = tensor.to("cuda")
        print(f"Moved to: {tensor.device}")
    else:
        print("CUDA is not available here: the tensor stays on the CPU")

    section("2. Indexing, slicing, joining, arithmetic")
    tensor = torch.ones(4, 4)
    print(f"First row: {tensor[0]}")
    print(f"First column: {tensor[:, 0]}")
    print(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    show("After tensor[:, 1] = 0", tensor)
    show("cat along dim 1", torch.cat([tensor, tensor, tensor], dim=1))
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.rand_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    show("Matrix product tensor @ tensor.T", y1)
    assert torch.equal(y1, y2) and torch.equal(y1, y3)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    show("Elementwise product tensor * tensor", z1)
    assert torch.equal(z1, z2)
    agg = tensor.sum()
    agg_item = agg.item()
    print(f"Sum as a Python number: {agg_item} ({type(agg_item).__name__})")
    tensor.add_(5)
    show("In place: tensor.add_(5)", tensor)

    section("3. The NumPy bridge shares memory both ways")
    t = torch.ones(5)
    n = t.numpy()
    print(f"t: {t}\nn: {n}")
    t.add_(1)
    print(f"after t.add_(1) -> n: {n}")
    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)
    print(f"after np.add(n, 1, out=n) -> t: {t}")


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5x^3 - 3x) / 2 with its derivative written by hand."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


class Polynomial3(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.randn(()))
        self.b = nn.Parameter(torch.randn(()))
        self.c = nn.Parameter(torch.randn(()))
        self.d = nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return (f"y = {self.a.item():.4f} + {self.b.item():.4f} x + {self.c.item():.4f} x^2 + "
                f"{self.d.item():.4f} x^3")


class LossLine:
    """The loss five times per fit, on one line as training goes: `loss at step  400: 1234.5  800: ...`."""

    def __init__(self, steps):
        self.every = max(1, steps // 5)
        print("loss at step", end="", flush=True)

    def __call__(self, t, loss):
        if (t + 1) % self.every == 0:             # only then is a tensor loss turned into a number
            print(f"  {t + 1}: {float(loss):.1f}", end="", flush=True)

    def done(self):
        print()


def fit_numpy(x_t, y_t, steps):
    x, y = x_t.cpu().numpy(), y_t.cpu().numpy()
    rng = np.random.default_rng(0)
    a, b, c, d = rng.standard_normal(4)
    lr = 1e-6
    log = LossLine(steps)
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = np.square(y_pred - y).sum()
        log(t, loss)
        grad_y_pred = 2.0 * (y_pred - y)
        a -= lr * grad_y_pred.sum()
        b -= lr * (grad_y_pred * x).sum()
        c -= lr * (grad_y_pred * x ** 2).sum()
        d -= lr * (grad_y_pred * x ** 3).sum()
    log.done()
    return float(loss), (a, b, c, d), lambda z: a + b * z + c * z ** 2 + d * z ** 3


def fit_tensors(x, y, steps):
    a, b, c, d = (torch.randn((), dtype=torch.float) for _ in range(4))
    lr = 1e-6
    log = LossLine(steps)
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        log(t, loss)
        grad_y_pred = 2.0 * (y_pred - y)
        a -= lr * grad_y_pred.sum()
        b -= lr * (grad_y_pred * x).sum()
        c -= lr * (grad_y_pred * x ** 2).sum()
        d -= lr * (grad_y_pred * x ** 3).sum()
    log.done()
    coef = tuple(v.item() for v in (a, b, c, d))
    return loss, coef, _poly(coef)


def _sgd_on_leaves(params, predict, y, lr, steps):
    """The tutorial's autograd loop: squared error, backward, then a manual update under no_grad."""
    log = LossLine(steps)
    for t in range(steps):
        loss = (predict() - y).pow(2).sum()
        log(t, loss)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    log.done()
    return loss.item()


def fit_autograd(x, y, steps):
    a, b, c, d = (torch.randn((), dtype=torch.float, requires_grad=True) for _ in range(4))
    loss = _sgd_on_leaves((a, b, c, d), lambda: a + b * x + c * x ** 2 + d * x ** 3, y, 1e-6, steps)
    coef = tuple(v.item() for v in (a, b, c, d))
    return loss, coef, _poly(coef)


def fit_function(x, y, steps):
    a = torch.full((), 0.0, requires_grad=True)
    b = torch.full((), -1.0, requires_grad=True)
    c = torch.full((), 0.0, requires_grad=True)
    d = torch.full((), 0.3, requires_grad=True)
    P3 = LegendrePolynomial3.apply
    loss = _sgd_on_leaves((a, b, c, d), lambda: a + b * P3(c + d * x), y, 5e-6, steps)
    av, bv, cv, dv = (v.item() for v in (a, b, c, d))
    return loss, (av, bv, cv, dv), lambda z: av + bv * 0.5 * (5 * (cv + dv * z) ** 3 - 3 * (cv + dv * z))


def _features(x):
    p = torch.tensor([1, 2, 3])
    return x.unsqueeze(-1).pow(p)


def _fit_sequential(x, y, steps, make_step):
    """Train Sequential(Linear(3, 1), Flatten(0, 1)) on x, x^2, x^3; make_step(model) -> step(loss)."""
    xx = _features(x)
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))
    loss_fn = nn.MSELoss(reduction="sum")
    step = make_step(model)
    log = LossLine(steps)
    for t in range(steps):
        loss = loss_fn(model(xx), y)
        log(t, loss)
        step(loss)
    log.done()
    return loss.item(), _linear_coef(model[0]), _poly(_linear_coef(model[0]))


def fit_nn(x, y, steps):
    def make_step(model):
        def step(loss):                          # the tutorial's manual update
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for param in model.parameters():
                    param -= 1e-6 * param.grad
        return step
    return _fit_sequential(x, y, steps, make_step)


def fit_optim(x, y, steps):
    def make_step(model):
        optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)

        def step(loss):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step
    return _fit_sequential(x, y, steps, make_step)


def fit_module(x, y, steps):
    model = Polynomial3()
    criterion = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    log = LossLine(steps)
    for t in range(steps):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        log(t, loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    log.done()
    print(f"Result: {model.string()}")
    coef = tuple(p.item() for p in (model.a, model.b, model.c, model.d))
    return loss.item(), coef, _poly(coef)


def _linear_coef(linear):
    w = linear.weight.detach()[0]
    return (linear.bias.item(), w[0].item(), w[1].item(), w[2].item())


def _poly(coef):
    a, b, c, d = coef
    return lambda z: a + b * z + c * z ** 2 + d * z ** 3


METHODS = [("NumPy by hand", fit_numpy), ("tensors by hand", fit_tensors), ("autograd", fit_autograd),
           ("autograd.Function (Legendre P3)", fit_function), ("nn.Sequential + MSELoss", fit_nn),
           ("optim.RMSprop", fit_optim), ("custom nn.Module + SGD", fit_module)]


def write_graph(x, y, out_dir):
    """One step's autograd graph as DOT text and as SVG (Graphviz's layout if `dot` is installed, else ember's)."""
    from ember import viz
    a, b = (torch.randn((), requires_grad=True) for _ in range(2))
    loss = (a + b * x - y).pow(2).sum()
    params = {"a": a, "b": b}
    dot_path = os.path.join(out_dir, "autograd_graph.dot")
    with open(dot_path, "w") as f:
        f.write(viz.to_dot(loss, params=params))
    svg_path = viz.render(loss, os.path.join(out_dir, "autograd_graph.svg"), params=params)
    how = "Graphviz" if shutil.which("dot") else "ember.viz's own layout (no Graphviz needed)"
    print(f"autograd graph of (a + b*x - y).pow(2).sum(), drawn by {how}")
    return [dot_path, svg_path]


def plot(x, y, results, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: `pip install ember[demo]` (or `make demo`) draws seed_fit.png")
        return None
    xs = x.cpu().numpy()
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(xs, y.cpu().numpy(), color="black", linewidth=3, label="sin(x)")
    for name, (_, _, fn, _) in results.items():
        ax.plot(xs, fn(xs), label=name, alpha=0.8)
    ax.set_title("Fitting sin(x) with a cubic, seven ways (ember)")
    ax.legend(fontsize=8)
    path = os.path.join(out_dir, "seed_fit.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def default_out_dir():
    """$EMBER_OUT if set; else out/ in the project folder when ember runs from its source tree (make demo,
    pip install -e); else out/ in the current directory (ember installed from a wheel has no project folder)."""
    if os.environ.get("EMBER_OUT"):
        return os.environ["EMBER_OUT"]
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(project, "pyproject.toml")) and os.path.isdir(os.path.join(project, "ember")):
        return os.path.join(project, "out")
    return os.path.abspath("out")


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(
        prog=prog, description="The PyTorch basics tutorial on ember: tensors, the NumPy bridge, then a cubic "
                               "fit to sin(x) seven ways, a plot of the fits and a picture of the autograd graph.",
        epilog="Output folder, first that applies: --out; $EMBER_OUT; out/ in ember's project folder when ember "
               "runs from its source tree (make demo, pip install -e); out/ in the current directory when ember "
               f"is installed from a wheel. Here: {default_out_dir()}")
    parser.add_argument("--steps", type=int, default=2000, help="training steps per method (default 2000)")
    parser.add_argument("--out", default=None, help="folder for the plot and the graph (see below)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where the fits run: cuda (the default when a GPU is available) or cpu; here %(default)s")
    args = parser.parse_args(argv)
    out_dir = os.path.abspath(args.out or default_out_dir())
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    tensors_chapter()
    torch.set_default_device(args.device)
    try:
        return _fits(args, out_dir)
    finally:
        torch.set_default_device(None)


def _fits(args, out_dir):
    section("4. Fitting y = sin(x) with a third-order polynomial")
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    results = {}
    for name, fn in METHODS:
        print(f"\n--- {name} ---")
        torch.manual_seed(0)
        start = time.perf_counter()
        loss, coef, poly = fn(x, y, args.steps)
        results[name] = (loss, coef, poly, time.perf_counter() - start)

    section("5. Summary: the same cubic fitted seven ways")
    print(f"{'method':34s} {'final loss':>12s}  {'fitted polynomial':44s} {'seconds':>8s}")
    for name, (loss, coef, _, seconds) in results.items():
        if name.startswith("autograd.Function"):
            poly = f"{coef[0]:.3f} + {coef[1]:.3f} P3({coef[2]:.3f} + {coef[3]:.3f} x)"
        else:
            poly = f"{coef[0]:.3f} + {coef[1]:.3f}x + {coef[2]:.3f}x^2 + {coef[3]:.3f}x^3"
        print(f"{name:34s} {loss:12.2f}  {poly:44s} {seconds:8.2f}")
    section("6. Pictures")
    paths = [plot(x, y, results, out_dir)] + write_graph(x, y, out_dir)
    for path in paths:
        if path:
            print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
