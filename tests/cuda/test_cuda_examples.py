"""examples/*.py and the seed walkthrough on the cuda device: each takes --device, defaulting to cuda where
ember.cuda.is_available() (as the PyTorch examples pick their device), and learns on cuda as it does on the cpu.

The models are built on the cpu from the seed and moved, so both devices start from the same weights. A run that
draws no random numbers on the device (no dropout, no sampling) must then agree with the cpu's to float32
rounding where the two devices' streams agree (the emulated device; PyTorch's CUDA generator draws other numbers
than its CPU one); every run must learn what the example teaches."""
import importlib.util
import math
import os

import numpy as np
import pytest

import ember

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load(name):
    spec = importlib.util.spec_from_file_location(f"cuda_example_{name}", os.path.join(ROOT, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _streams_agree():
    ember.manual_seed(3)
    a = ember.rand(16)
    ember.manual_seed(3)
    b = ember.rand(16, device="cuda")
    return np.array_equal(a.numpy(), b.cpu().numpy())


def _on_both(run):
    """(cpu result, cuda result, whether they must agree)."""
    return run("cpu"), run("cuda"), _streams_agree()


@pytest.mark.parametrize("name", ["regression", "rnn_sine", "char_gpt", "digits"])
def test_example_defaults_to_cuda_when_available(name, cuda_device, capsys):
    with pytest.raises(SystemExit):
        load(name).main(["--help"])
    assert "here cuda" in " ".join(capsys.readouterr().out.split())


def test_walkthrough_defaults_to_cuda_when_available(cuda_device, capsys):
    from ember.examples import walkthrough
    with pytest.raises(SystemExit):
        walkthrough.main(["--help"])
    assert "here cuda" in " ".join(capsys.readouterr().out.split())


def test_regression_on_cuda(cuda_device):
    example = load("regression")
    cpu, gpu, agree = _on_both(lambda d: example.main(["--steps", "300", "--device", d]))
    w, b, loss = gpu
    assert w == pytest.approx([2.0, -3.4], abs=0.05) and b == pytest.approx(4.2, abs=0.05)
    if agree:
        assert w == pytest.approx(cpu[0], rel=1e-5) and (b, loss) == pytest.approx(cpu[1:], rel=1e-5)


def test_rnn_sine_on_cuda(cuda_device):
    example = load("rnn_sine")
    cpu, gpu, agree = _on_both(lambda d: example.main(["--steps", "60", "--hidden", "16", "--device", d]))
    loss, error = gpu
    assert loss < 0.1 and math.isfinite(error)
    if agree:
        assert gpu == pytest.approx(cpu, rel=1e-4)


def test_char_gpt_on_cuda(cuda_device):
    example = load("char_gpt")
    args = ["--steps", "5", "--chars", "20000", "--block", "16", "--batch", "4", "--layers", "1", "--embd", "32",
            "--heads", "2", "--sample", "20"]
    cpu, gpu, agree = _on_both(lambda d: example.main(args + ["--device", d]))
    loss, sample = gpu
    assert math.isfinite(loss) and sample.startswith("def ") and len(sample) == 24
    assert loss < math.log(90)                      # below a uniform guess over the vocabulary after 5 steps
    if agree:                                       # (the sample is drawn from the device's generator)
        assert loss == pytest.approx(cpu[0], rel=1e-4)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_digits_on_cuda(model, cuda_device, tmp_path, capsys):
    pytest.importorskip("sklearn")
    example = load("digits")

    def run(device):
        acc = example.main(["--model", model, "--epochs", "2", "--limit", "300", "--device", device,
                            "--out", str(tmp_path / device)])
        losses = [float(line.split()[3]) for line in capsys.readouterr().out.splitlines()
                  if line.startswith("epoch")]
        return acc, losses

    (cpu_acc, cpu_losses), (acc, losses), agree = _on_both(run)
    assert acc > 0.35 and losses[1] < losses[0]
    if agree and model == "mlp":                    # the cnn's dropout masks come from the device's generator
        assert losses == pytest.approx(cpu_losses, abs=2e-4)
        assert abs(acc - cpu_acc) <= 1 / 60 + 1e-12
    # the checkpoint written on cuda resumes (loaded with map_location)
    resumed = example.main(["--model", model, "--epochs", "3", "--limit", "300", "--device", "cuda",
                            "--out", str(tmp_path / "cuda"), "--resume"])
    assert resumed > 0.35


def test_seed_walkthrough_on_cuda(cuda_device, tmp_path, capsys):
    example = load("seed_walkthrough")
    cpu = example.main(["--steps", "150", "--device", "cpu", "--out", str(tmp_path / "cpu")])
    capsys.readouterr()
    gpu = example.main(["--steps", "150", "--device", "cuda", "--out", str(tmp_path / "cuda")])
    agree = _streams_agree()
    # every fit learns on cuda: the loss it prints five times falls
    lines = [line.split(": ") for line in capsys.readouterr().out.splitlines() if line.startswith("loss at step")]
    assert len(lines) == len(gpu)
    for parts in lines:
        losses = [float(part.split()[0]) for part in parts[1:]]
        assert losses[-1] < losses[0], parts
    assert list(gpu) == list(cpu)
    for name, (loss, coef, _, _) in gpu.items():
        assert math.isfinite(loss) and loss > 0, name
        if agree:
            assert loss == pytest.approx(cpu[name][0], rel=1e-4), name
            assert coef == pytest.approx(cpu[name][1], rel=1e-4, abs=1e-6), name
    assert (tmp_path / "cuda" / "autograd_graph.svg").exists()
