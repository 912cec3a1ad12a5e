"""ember.compile, ember.compiler and ember._dynamo: PyTorch's compile API on an eager framework
(Note [ember.compile] in ember/_dynamo/__init__.py)."""
import pytest

import ember
from ember._dynamo.eval_frame import OptimizedModule


def _mlp(m):
    m.manual_seed(0)
    return m.nn.Sequential(m.nn.Linear(4, 8), m.nn.ReLU(), m.nn.Dropout(0.5), m.nn.Linear(8, 2))


def test_compiled_module_is_an_optimized_module_around_the_original():
    model = _mlp(ember)
    compiled = ember.compile(model)
    assert isinstance(compiled, OptimizedModule) and isinstance(compiled, ember.nn.Module)
    assert compiled._orig_mod is model
    assert compiled._modules["_orig_mod"] is model
    assert ember.compile(ember.nn.Linear(2, 3)).out_features == 3     # attributes come from the original
    assert list(compiled.state_dict()) == ["_orig_mod." + k for k in model.state_dict()]
    assert [p for p in compiled.parameters()] == [p for p in model.parameters()]
    compiled.eval()
    assert not model.training and not model[2].training
    compiled.train()
    assert model.training
    assert repr(compiled).startswith("OptimizedModule(\n  (_orig_mod): Sequential(")


def test_compiled_module_trains_like_the_original():
    """Same seed, same dropout draws, same losses and weights: the compiled module runs the original."""
    x = ember.randn(16, 4, generator=ember.Generator().manual_seed(1))
    results = []
    for compile_it in (False, True):
        model = _mlp(ember)
        net = ember.compile(model) if compile_it else model
        opt = ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        ember.manual_seed(3)
        losses = []
        for _ in range(3):
            loss = net(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results.append((losses, [p.detach().clone() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    assert all(ember.equal(a, b) for a, b in zip(results[0][1], results[1][1]))


def test_compiled_function_decorator_forms():
    def f(x, scale=2.0):
        return x * scale
    g = ember.compile(f)
    assert g.__wrapped__ is f and g.__name__ == "f"
    x = ember.arange(3.0)
    assert ember.equal(g(x, scale=3.0), x * 3.0)

    @ember.compile(mode="max-autotune", dynamic=True)
    def h(x):
        return x + 1
    assert ember.equal(h(x), x + 1)
    assert ember.compile(f, disable=True) is f


def test_compiled_method_and_hooks_still_run():
    model = ember.nn.Linear(2, 2)
    seen = []
    model.register_forward_hook(lambda mod, args, out: seen.append(out.shape))
    ember.compile(model)(ember.ones(3, 2))
    forward = ember.compile(model.forward)
    forward(ember.ones(1, 2))
    assert seen == [(3, 2)]                       # forward itself bypasses the hooks, as in PyTorch


@pytest.mark.parametrize("kwargs, error, message", [
    ({"mode": "fast"}, RuntimeError, "Unrecognized mode=fast, should be one of: default, lite"),
    ({"mode": "default", "options": {}}, RuntimeError, "Either mode or options can be specified"),
    ({"backend": "nope"}, ember._dynamo.exc.InvalidBackend, "Invalid backend: 'nope'"),
])
def test_argument_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        ember.compile(lambda x: x, **kwargs)
    assert issubclass(ember._dynamo.exc.InvalidBackend, RuntimeError)


def test_compiler_namespace():
    assert ember.compiler.compile is not None and not ember.compiler.is_compiling()
    assert not ember.compiler.is_dynamo_compiling() and not ember._dynamo.is_compiling()
    assert "inductor" in ember.compiler.list_backends()
    assert "eager" not in ember.compiler.list_backends() and "eager" in ember.compiler.list_backends(())
    ember.compiler.reset()
    ember._dynamo.reset()
    ember.compiler.cudagraph_mark_step_begin()

    def f(x):
        return x
    assert ember.compiler.disable(f) is f and ember.compiler.disable()(f) is f
    assert ember.compiler.allow_in_graph(f) is f and ember.compiler.assume_constant_result(f) is f
    with ember.compiler.set_stance("force_eager"):
        assert ember.compiler._Stance.current == "force_eager"
    assert ember.compiler._Stance.current == "default"
    with pytest.raises(RuntimeError, match="invalid torch.compile stance 'sideways'"):
        ember.compiler.set_stance("sideways")
    ember._dynamo.config.suppress_errors = True          # programs set it; it is kept
    assert ember._dynamo.config.suppress_errors
    ember._dynamo.config.suppress_errors = False


def test_is_exporting_during_onnx_export(tmp_path):
    pytest.importorskip("onnx")
    seen = []

    class Probe(ember.nn.Module):
        def forward(self, x):
            seen.append(ember.compiler.is_exporting())
            return x + 1
    ember.onnx.export(Probe(), (ember.ones(2),), str(tmp_path / "probe.onnx"))
    assert seen and all(seen) and not ember.compiler.is_exporting()


def test_matches_torch(torch):
    model = torch.nn.Linear(2, 3)
    mine = ember.nn.Linear(2, 3)
    assert list(torch.compile(model).state_dict()) == list(ember.compile(mine).state_dict())
    assert type(torch.compile(model)).__name__ == type(ember.compile(mine)).__name__
    assert ember.compiler.list_backends() == torch.compiler.list_backends()
    for name in ("reset", "allow_in_graph", "assume_constant_result", "list_backends", "disable", "set_stance",
                 "is_compiling", "is_dynamo_compiling", "is_exporting", "cudagraph_mark_step_begin"):
        assert hasattr(ember.compiler, name) and hasattr(torch.compiler, name)
    for kwargs in ({"mode": "fast"}, {"mode": "default", "options": {}}, {"backend": "nope"}):
        errors = []
        for m in (torch, ember):
            with pytest.raises(RuntimeError) as info:
                m.compile(lambda x: x, **kwargs)
            errors.append(str(info.value))
        assert errors[0] == errors[1]


def _delegation(m):
    model = m.nn.Linear(2, 3)
    compiled = m.compile(model)
    model.eval()
    seen = [compiled.training]                   # the original's flag
    compiled.foo = 1                             # written to the original
    seen.append(getattr(model, "foo", None))
    compiled.train()
    seen.append(model.training)
    compiled.eval()
    seen.append(model.training)
    compiled.weight = m.nn.Parameter(m.zeros(3, 2))
    seen.append(float(model.weight.sum()))
    return seen


def test_training_and_attribute_writes_go_to_the_original():
    assert _delegation(ember) == [False, 1, True, False, 0.0]


def test_delegation_matches_torch(torch):
    assert _delegation(ember) == _delegation(torch)
