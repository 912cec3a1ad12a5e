"""The four torch.func tutorial workloads in examples/func run at a tiny size and agree with their loops."""
import importlib.util
import os
import warnings

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "func")


def load(name):
    spec = importlib.util.spec_from_file_location(f"func_example_{name}", os.path.join(ROOT, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, argv, tolerance", [
    ("per_sample_grads", ["--batch", "8"], 1e-5),
    ("jacobians_hessians", ["--size", "5"], 1e-12),
    ("ensembling", ["--models", "3"], 1e-5),
    ("neural_tangent_kernels", ["--n1", "2", "--n2", "3"], 1e-3),
])
def test_func_example(name, argv, tolerance, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # a layer still batched by the per-element loop warns once
        assert load(name).main(argv) <= tolerance
    assert capsys.readouterr().out
