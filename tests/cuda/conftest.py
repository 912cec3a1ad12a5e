"""The cuda device for these tests: a real GPU through CuPy where one is available, otherwise the emulated
device (EMBER_EMULATE_CUDA=1, ember/_backends/emulated_cupy.py), switched on for these tests only."""
import os

import pytest

from ember._backends import _BACKENDS
from ember._backends import cuda as backend


def _real_gpu():
    if os.environ.get("EMBER_EMULATE_CUDA", "0") not in ("", "0"):
        return False
    return backend.available()


@pytest.fixture(autouse=True)
def cuda_device(monkeypatch):
    """'cuda', with the backend reloaded under emulation when there is no GPU (and restored after)."""
    if not _real_gpu():
        monkeypatch.setenv("EMBER_EMULATE_CUDA", "1")
        saved = _BACKENDS.pop("cuda", None), backend.xp
        backend.xp = None
        yield "cuda"
        _BACKENDS.pop("cuda", None)
        backend.xp = saved[1]
        if saved[0] is not None:
            _BACKENDS["cuda"] = saved[0]
    else:
        yield "cuda"
