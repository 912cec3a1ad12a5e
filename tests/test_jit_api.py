"""ember.jit: script/trace return what runs as the original, the decorators and helpers answer as PyTorch's
do outside TorchScript, and save/load refuse TorchScript archives with a way out."""
import typing
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest

import ember
from ember import nn


def _double(x):
    return x * 2


def test_script_returns_the_object_itself():
    model = nn.Linear(3, 2)
    with pytest.warns(DeprecationWarning, match="ember.jit.script"):
        scripted = ember.jit.script(model)
    assert scripted is model
    x = ember.randn(4, 3)
    assert ember.equal(scripted(x), model(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert ember.jit.script(_double) is _double
        assert not isinstance(ember.jit.script(model), ember.jit.ScriptModule)
        assert ember.jit.script(_double)(ember.tensor([1.0])).tolist() == [2.0]


def test_scripted_module_matches_torch_module(torch):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    reference.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ours = ember.jit.script(model)(ember.tensor(x))
        theirs = torch.jit.script(reference)(torch.tensor(x))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6)


def test_trace_runs_the_function_once_while_tracing(torch):
    for m in (ember, torch):
        seen = []

        def fn(x, seen=seen, m=m):
            seen.append(m.jit.is_tracing())
            return x + 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            traced = m.jit.trace(fn, m.ones(2))
            assert traced(m.zeros(2)).tolist() == [1.0, 1.0]
        assert seen[0] is True and seen[-1] is False           # traced, then called for real
        assert m.jit.is_tracing() is False and m.jit.is_scripting() is False
    model = nn.Linear(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert ember.jit.trace(model, (ember.ones(1, 2),)) is model
        assert ember.jit.trace_module(model, {"forward": ember.ones(1, 2)}) is model
        with pytest.raises(AttributeError, match="expected torch.nn.Module"):
            ember.jit.trace_module(_double, {"forward": ember.ones(1)})
        with pytest.raises(TypeError, match="example_inputs"):
            ember.jit.trace(_double)


def test_decorators_return_what_they_decorate(torch):
    for m in (ember, torch):
        assert m.jit.ignore(_double) is _double
        assert m.jit.ignore()(_double) is _double
        assert m.jit.unused(_double) is _double
        assert m.jit.export(_double) is _double
        assert m.jit.annotate(List[int], [1]) == [1]
        assert m.jit.Final is typing.Final
        attribute = m.jit.Attribute(3, int)
        assert (attribute.value, attribute.type, attribute._fields) == (3, int, ("value", "type"))
        with pytest.raises(RuntimeError, match="must be a bool or a function"):
            m.jit.ignore(3)
        with pytest.warns(FutureWarning, match="ignore\\(True\\) has been deprecated"):
            m.jit.ignore(drop=True)


@pytest.mark.parametrize("obj, target", [
    ([1, 2], List[int]), ([1, "a"], List[int]), ({"a": 1}, Dict[str, int]), ({"a": "b"}, Dict[str, int]),
    ((1, "a"), Tuple[int, str]), ((1, 2), Tuple[int, str]), (None, Optional[int]), (3, Optional[int]),
    ("s", Optional[int]), ([1], list[int]), (1, (str, int)), ({"a": [1]}, Dict[str, List[int]]), (2.0, float),
])
def test_isinstance_matches_torch(torch, obj, target):
    expected = torch.jit.isinstance(obj, target)
    assert ember.jit.isinstance(obj, target) is expected


def test_isinstance_checks_tensors_and_errors(torch):
    assert ember.jit.isinstance({"w": ember.ones(1)}, Dict[str, ember.Tensor])
    assert not ember.jit.isinstance({"w": 1}, Dict[str, ember.Tensor])
    for m in (ember, torch):
        with pytest.raises(RuntimeError, match="Attempted to use List without a contained type"):
            m.jit.isinstance([1], List)
        with pytest.raises(RuntimeError, match="must be a type or a tuple of types"):
            m.jit.isinstance([1], [int])


def test_script_module_subclass_runs_as_python():
    class Scale(ember.jit.ScriptModule):
        def __init__(self):
            super().__init__()
            self.n = ember.jit.Attribute(3, int)

        @ember.jit.script_method
        def forward(self, x):
            return x * self.n
    module = Scale()
    assert module.n == 3 and isinstance(module, nn.Module)
    assert module(ember.ones(2)).tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="state_dict"):
        module.save("never-written.pt")


def test_freeze_needs_eval_mode_as_torch(torch):
    messages = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for m in (ember, torch):
            scripted = m.jit.script(m.nn.Linear(2, 2))
            with pytest.raises(RuntimeError) as info:
                m.jit.freeze(scripted)
            messages.append(str(info.value))
            frozen = m.jit.freeze(scripted.eval())
            assert frozen(m.ones(1, 2)).shape == (1, 2)
    assert messages[0] == messages[1]
    model = nn.Linear(2, 2)
    assert ember.jit.optimize_for_inference(model) is model and not model.training


def test_fork_wait_and_fusion_settings(torch):
    for m in (ember, torch):
        future = m.jit.fork(lambda a, b: a + b, 1, b=2)
        assert m.jit.wait(future) == 3 and future.done() and future.wait() == 3
        previous = m.jit.set_fusion_strategy([("STATIC", 1)])
        assert previous == [("STATIC", 2), ("DYNAMIC", 10)]
        assert m.jit.set_fusion_strategy(previous) == [("STATIC", 1)]
        assert m.jit.onednn_fusion_enabled() is False
        with pytest.warns(UserWarning, match="Only works in script mode"):
            m.jit.strict_fusion()
    failing = ember.jit.fork(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.wait()
    assert ember.jit.fork(lambda: 2).then(lambda f: f.wait() * 5).wait() == 10


def test_save_refuses_with_the_state_dict_advice(tmp_path):
    path = tmp_path / "model.pt"
    with pytest.warns(DeprecationWarning), pytest.raises(RuntimeError, match="model.state_dict\\(\\)"):
        ember.jit.save(nn.Linear(2, 2), str(path))
    assert not path.exists()


def test_load_errors_match_torch_types(torch, tmp_path):
    missing = str(tmp_path / "missing.pt")
    checkpoint = str(tmp_path / "weights.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    torch.save(torch.nn.Linear(2, 2).state_dict(), checkpoint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for m in (ember, torch):
            with pytest.raises(ValueError, match=f"The provided filename {missing} does not exist"):
                m.jit.load(missing)
            with pytest.raises(ValueError, match="is a directory"):
                m.jit.load(str(tmp_path))
            with pytest.raises(RuntimeError):
                m.jit.load(checkpoint)
            with pytest.raises(RuntimeError):
                m.jit.load(str(junk))
        with pytest.raises(RuntimeError, match="read it with ember.load"):
            ember.jit.load(checkpoint)
        archive = str(tmp_path / "scripted.pt")
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), archive)
        with pytest.raises(RuntimeError, match="TorchScript archives are not supported.*state_dict"):
            ember.jit.load(archive)
        with open(archive, "rb") as fh, pytest.raises(RuntimeError, match="not supported"):
            ember.jit.load(fh)
    assert ember.load(checkpoint)["weight"].shape == (2, 2)      # the way out works


def test_jit_is_lazy_and_listed():
    assert "jit" in dir(ember)
    assert ember.jit.__name__ == "ember.jit"


def test_script_function_cannot_be_built(torch):
    for m in (ember, torch):
        with pytest.raises(TypeError, match="ScriptFunction: No constructor defined!"):
            m.jit.ScriptFunction()
