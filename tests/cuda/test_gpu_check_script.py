"""benchmarks/gpu_check.sh and gpu_bench.py stay runnable: the benchmark's smoke run on the (emulated) device,
and the script names the pieces it runs."""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_gpu_bench_smoke_run(cuda_device, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_bench
        gpu_bench.main(["--smoke"])
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = capsys.readouterr().out
    for name in ("MLP 784-1024-1024-10, batch 4096", "tiny GPT, batch 64", "LeNet-style CNN, batch 256",
                 "per-op overhead"):
        assert name in out


def test_gpu_check_script_runs_the_tests_the_walkthrough_and_the_benchmarks():
    script = ROOT / "benchmarks" / "gpu_check.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    for piece in ("pytest tests/cuda", "seed_walkthrough.py --device cuda", "benchmarks/gpu_bench.py",
                  "unset EMBER_EMULATE_CUDA"):
        assert piece in text
