"""Every example runs end to end at a tiny size (the full sizes are for people, not CI)."""
import importlib.util
import math
import os

import pytest

import ember

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(ROOT, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_walkthrough_runs_every_method(tmp_path, capsys):
    results = load("seed_walkthrough").main(["--steps", "150", "--out", str(tmp_path)])
    names = [name for name, _ in __import__("ember.examples.walkthrough", fromlist=["METHODS"]).METHODS]
    assert list(results) == names
    for name, (loss, coef, _, seconds) in results.items():
        assert math.isfinite(loss) and loss > 0, name
    out = capsys.readouterr().out
    for heading in ("1. Tensors", "3. The NumPy bridge", "4. Fitting y = sin(x)", "5. Summary", "6. Pictures"):
        assert f"\n{heading}" in out
    # the loss five times per method, each method's on one line
    loss_lines = [line for line in out.splitlines() if line.startswith("loss at step")]
    assert len(loss_lines) == len(names)
    assert all(line.count(": ") == 5 and "  30: " in line and "  150: " in line for line in loss_lines)
    for name in names:                            # the summary table has a row per method
        assert any(line.startswith(name) and line.split()[-1].replace(".", "").isdigit()
                   for line in out.split("5. Summary")[1].splitlines())
    assert (tmp_path / "autograd_graph.dot").exists() and (tmp_path / "autograd_graph.svg").exists()
    assert f"wrote {tmp_path / 'autograd_graph.svg'}" in out


def test_seed_walkthrough_draws_the_graph_without_graphviz(tmp_path, monkeypatch, capsys):
    import shutil
    import xml.etree.ElementTree as ET
    from ember.examples import walkthrough
    monkeypatch.setattr(shutil, "which", lambda name: None)
    x = ember.linspace(-math.pi, math.pi, 20)
    paths = walkthrough.write_graph(x, ember.sin(x), str(tmp_path))
    assert paths == [str(tmp_path / "autograd_graph.dot"), str(tmp_path / "autograd_graph.svg")]
    svg = ET.parse(paths[1]).getroot()
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert len(titles) == 10 + 9                  # output, 5 ops, 2 AccumulateGrad, a, b; 9 edges
    assert "own layout" in capsys.readouterr().out


def test_demo_output_folder(tmp_path, monkeypatch):
    from ember.examples import walkthrough
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(walkthrough.__file__))))
    monkeypatch.delenv("EMBER_OUT", raising=False)
    monkeypatch.chdir(tmp_path)                   # not the current directory: the project's out/
    assert walkthrough.default_out_dir() == os.path.join(project, "out")
    monkeypatch.setenv("EMBER_OUT", str(tmp_path / "pictures"))
    assert walkthrough.default_out_dir() == str(tmp_path / "pictures")
    # an installed ember (no pyproject.toml beside the package) falls back to ./out
    monkeypatch.delenv("EMBER_OUT")
    fake = tmp_path / "site-packages" / "ember" / "examples"
    fake.mkdir(parents=True)
    monkeypatch.setattr(walkthrough, "__file__", str(fake / "walkthrough.py"))
    assert walkthrough.default_out_dir() == str(tmp_path / "out")


def test_python_m_ember_examples(tmp_path):
    import subprocess
    import sys
    env = dict(os.environ, EMBER_OUT=str(tmp_path / "o"))
    done = subprocess.run([sys.executable, "-m", "ember.examples", "--help"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m ember.examples")
    assert str(tmp_path / "o") in done.stdout.replace("\n", "")
    done = subprocess.run([sys.executable, "-m", "ember.examples", "--steps", "20"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "5. Summary" in done.stdout and (tmp_path / "o" / "autograd_graph.svg").exists()


def test_walkthrough_autograd_fit_matches_the_by_hand_fit(tmp_path):
    # The seed's point: autograd computes exactly the gradients written by hand.
    from ember.examples import walkthrough
    x = ember.linspace(-math.pi, math.pi, 2000)
    y = ember.sin(x)
    ember.manual_seed(0)
    by_hand = walkthrough.fit_tensors(x, y, 50)
    ember.manual_seed(0)
    auto = walkthrough.fit_autograd(x, y, 50)
    assert by_hand[1] == pytest.approx(auto[1], rel=1e-5, abs=1e-6)


def test_digits_mlp_learns_and_resumes(tmp_path):
    pytest.importorskip("sklearn")
    digits = load("digits")
    acc = digits.main(["--model", "mlp", "--epochs", "2", "--limit", "400", "--out", str(tmp_path)])
    assert acc > 0.5
    assert (tmp_path / "digits_mlp.pt").exists()
    acc2 = digits.main(["--model", "mlp", "--epochs", "3", "--limit", "400", "--out", str(tmp_path), "--resume"])
    assert acc2 > 0.5


# on the cpu whatever the default device (the numbers are PyTorch's CPU run: its generator draws the dropout masks)
DIGITS_CNN = ["--model", "cnn", "--epochs", "1", "--limit", "300", "--device", "cpu"]


def _epoch_losses(out):
    """The training loss the example prints per epoch ("epoch  1  loss 2.0111  validation accuracy ...")."""
    return [float(line.split()[3]) for line in out.splitlines() if line.startswith("epoch")]


def test_digits_cnn_one_epoch(tmp_path, capsys):
    pytest.importorskip("sklearn")
    acc = load("digits").main(DIGITS_CNN + ["--out", str(tmp_path)])
    # seed 0: 26 of the 60 validation digits after one epoch of 240 training images (chance would be ~6)
    assert acc > 0.35
    assert _epoch_losses(capsys.readouterr().out) == [pytest.approx(2.0111, abs=2e-4)]


def test_digits_cnn_trains_as_pytorch_does(tmp_path, capsys, torch):
    # the same script on PyTorch (imports swapped): the same initial weights, dropout masks and batch order, so
    # the same training loss (to the 4 decimals printed, give or take one), and the same accuracy up to one
    # validation digit (the two libraries round float32 sums differently, which can tip a near tie)
    pytest.importorskip("sklearn")
    import types
    source = open(os.path.join(ROOT, "digits.py")).read()
    for ours, theirs in (("import ember as torch", "import torch"), ("from ember import nn", "from torch import nn"),
                         ("from ember.utils.data", "from torch.utils.data")):
        assert ours in source
        source = source.replace(ours, theirs)
    on_torch = types.ModuleType("digits_on_torch")
    exec(compile(source, "digits_on_torch", "exec"), on_torch.__dict__)
    torch_acc = on_torch.main(DIGITS_CNN + ["--out", str(tmp_path / "torch")])
    torch_losses = _epoch_losses(capsys.readouterr().out)
    acc = load("digits").main(DIGITS_CNN + ["--out", str(tmp_path / "ember")])
    assert _epoch_losses(capsys.readouterr().out) == pytest.approx(torch_losses, abs=1.5e-4)
    assert abs(acc - torch_acc) <= 1 / 60 + 1e-12


def test_regression_recovers_the_line():
    w, b, loss = load("regression").main(["--steps", "300"])
    assert w == pytest.approx([2.0, -3.4], abs=0.05) and b == pytest.approx(4.2, abs=0.05)


def test_rnn_sine_loss_drops():
    loss, error = load("rnn_sine").main(["--steps", "60", "--hidden", "16"])
    assert loss < 0.1 and math.isfinite(error)


def test_char_gpt_trains_and_samples():
    loss, sample = load("char_gpt").main(["--steps", "5", "--chars", "20000", "--block", "16", "--batch", "4",
                                          "--layers", "1", "--embd", "32", "--heads", "2", "--sample", "20"])
    assert math.isfinite(loss) and sample.startswith("def ") and len(sample) == 24
