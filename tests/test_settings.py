"""Process-wide switches (ember/_settings.py): threads, determinism, matmul precision, compile."""
import pytest

import ember


@pytest.fixture(autouse=True)
def _restore():
    from ember._settings import _Settings
    saved = dict(vars(_Settings))
    yield
    for key, value in saved.items():
        if not key.startswith("__"):
            setattr(_Settings, key, value)


def test_threads():
    before = ember.get_num_threads()
    assert before >= 1
    ember.set_num_threads(1)
    assert ember.get_num_threads() == 1
    ember.set_num_threads(before)                  # BLAS keeps the limit: give the machine back
    with pytest.raises(RuntimeError, match="positive integer"):
        ember.set_num_threads(0)
    with pytest.raises(RuntimeError, match="expects an int, but got float"):   # PyTorch's type and message
        ember.set_num_threads(1.5)


def test_deterministic_algorithms_and_matmul_precision():
    assert not ember.are_deterministic_algorithms_enabled()
    ember.use_deterministic_algorithms(True, warn_only=True)
    assert ember.are_deterministic_algorithms_enabled() and ember.is_deterministic_algorithms_warn_only_enabled()
    with pytest.raises(TypeError, match="must be bool"):
        ember.use_deterministic_algorithms("yes")
    assert ember.get_float32_matmul_precision() == "highest"
    ember.set_float32_matmul_precision("high")
    assert ember.get_float32_matmul_precision() == "high"
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        ember.set_float32_matmul_precision("bogus")
    assert ember.get_float32_matmul_precision() == "high"


def test_compile_wraps_a_model_that_runs_eagerly():
    model = ember.nn.Linear(3, 2)
    compiled = ember.compile(model, mode="reduce-overhead")
    x = ember.ones(4, 3)
    assert compiled._orig_mod is model and ember.equal(compiled(x), model(x))

    @ember.compile(fullgraph=True)
    def f(t):
        return t * 2
    assert f(x).sum().item() == 24.0
    with pytest.raises(AssertionError, match="A callable function is expected"):
        ember.compile(3)


def test_settings_match_torch_names(torch):
    for name in ("set_num_threads", "get_num_threads", "use_deterministic_algorithms",
                 "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
                 "set_float32_matmul_precision", "get_float32_matmul_precision", "compile"):
        assert callable(getattr(torch, name)) and callable(getattr(ember, name))
    assert ember.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
