"""Shared test helpers: the PyTorch oracle is optional (tests that need it skip without it)."""
import os

import numpy as np
import pytest

# Every tensor the suite makes is checked for Note [array storage] (a backend array, never a NumPy
# scalar): set before ember is imported, since the switch is read once.
os.environ.setdefault("EMBER_DEBUG_INVARIANTS", "1")

import ember  # noqa: E402

try:                                    # property tests explore the same examples on every run: no flaky CI
    from hypothesis import settings as _hypothesis_settings
    _hypothesis_settings.register_profile("ember", derandomize=True, print_blob=True)
    _hypothesis_settings.load_profile("ember")
except ImportError:
    pass


@pytest.fixture
def torch():
    """The PyTorch oracle, or skip."""
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts from ember's defaults (seed, grad mode, default dtype)."""
    ember.manual_seed(0)
    yield
    ember.set_default_dtype(ember.float32)
    ember.autograd.grad_mode._State.grad_enabled = True


def to_numpy(x):
    """NumPy array of an ember or torch tensor (detached)."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu") and not isinstance(x, ember.Tensor):
        x = x.cpu()
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)
