"""Helpers for the autograd tests: run one program in ember and in PyTorch and compare."""
import numpy as np
import pytest


def values(x):
    """A NumPy copy of a tensor (ember or torch), or None."""
    if x is None:
        return None
    return np.array(x.detach().cpu().numpy() if hasattr(x, "cpu") else x.detach().numpy())


def assert_same(ember_value, torch_value, rtol=1e-6, atol=1e-7):
    if ember_value is None or torch_value is None:
        assert ember_value is None and torch_value is None, (ember_value, torch_value)
        return
    np.testing.assert_allclose(values(ember_value), values(torch_value), rtol=rtol, atol=atol)


@pytest.fixture
def both(torch):
    """Run `program(m)` with m = ember and m = torch; returns the two results."""
    import ember

    def run(program):
        return program(ember), program(torch)
    return run
