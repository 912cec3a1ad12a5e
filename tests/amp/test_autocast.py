"""ember.autocast and its state functions against PyTorch 2.13's: regions as context managers and decorators,
nesting and disabled regions, the per-device state (is_autocast_enabled, get/set_autocast_dtype, the deprecated
cpu/gpu spellings), the deprecated ember.cpu.amp / ember.cuda.amp classes, the weight-cast cache, in-place and
out= calls (not autocast), gradients through the casts, and custom_fwd/custom_bwd."""
import pickle
import timeit
import warnings

import numpy as np
import pytest

import ember
from ember.amp import _dispatch

F = ember.nn.functional


@pytest.fixture(autouse=True)
def _autocast_off():
    """Every test starts and ends with autocast off and the default dtypes."""
    yield
    for device in ("cpu", "cuda"):
        ember.set_autocast_enabled(device, False)
    ember.set_autocast_dtype("cpu", ember.bfloat16)
    ember.set_autocast_dtype("cuda", ember.float16)
    ember.set_autocast_cache_enabled(True)
    assert not _dispatch.AUTOCAST


def _both(torch):
    return ((ember, "ember"), (torch, "torch"))


def _name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


# --- state functions -------------------------------------------------------------------------------------

def test_defaults_match_torch(torch):
    for m, _ in _both(torch):
        assert not m.is_autocast_enabled() and not m.is_autocast_enabled("cpu")
        assert m.is_autocast_cache_enabled()
    assert ember.get_autocast_dtype("cpu") is ember.bfloat16          # CPU: bfloat16; CUDA: float16
    assert ember.get_autocast_dtype("cuda") is ember.float16
    for device in ("cpu", "cuda", "cuda:0"):
        assert _name(ember.get_autocast_dtype(device)) == _name(torch.get_autocast_dtype(device))
        assert ember.amp.is_autocast_available(device) == torch.amp.is_autocast_available(device)
    assert ember.amp.is_autocast_available("meta") is torch.amp.is_autocast_available("meta") is False


def test_set_state_functions_match_torch(torch):
    for m, _ in _both(torch):
        m.set_autocast_enabled("cpu", True)
        assert m.is_autocast_enabled("cpu") and not m.is_autocast_enabled()
        m.set_autocast_enabled("cpu", False)
        m.set_autocast_enabled(True)                                 # the one-argument form is CUDA's
        assert m.is_autocast_enabled() and m.is_autocast_enabled("cuda") and not m.is_autocast_enabled("cpu")
        m.set_autocast_enabled(False)
        m.set_autocast_dtype("cpu", m.float16)
        assert m.get_autocast_dtype("cpu") is m.float16
        m.set_autocast_dtype("cpu", m.bfloat16)
        m.set_autocast_cache_enabled(False)
        assert not m.is_autocast_cache_enabled()
        m.set_autocast_cache_enabled(True)
        assert m.autocast_increment_nesting() == 1
        assert m.autocast_increment_nesting() == 2
        assert m.autocast_decrement_nesting() == 1
        assert m.autocast_decrement_nesting() == 0


def test_set_autocast_enabled_turns_ops_on_without_a_region():
    a, b = ember.randn(2, 3), ember.randn(3, 2)
    ember.set_autocast_enabled("cpu", True)
    assert (a @ b).dtype is ember.bfloat16
    ember.set_autocast_enabled("cpu", False)
    assert (a @ b).dtype is ember.float32


@pytest.mark.parametrize("call", [
    lambda m: m.is_autocast_enabled(1),
    lambda m: m.get_autocast_dtype(1),
    lambda m: m.set_autocast_enabled("cpu"),
    lambda m: m.set_autocast_enabled(1),
    lambda m: m.set_autocast_enabled("cpu", 1),
    lambda m: m.set_autocast_dtype("cpu", "x"),
    lambda m: m.amp.is_autocast_available(1),
    lambda m: m.get_autocast_dtype(),
    lambda m: m.is_autocast_enabled("meta"),
    lambda m: m.get_autocast_dtype("meta"),
    lambda m: m.autocast("meta"),
    lambda m: m.autocast(m.device("cpu")),
    lambda m: m.autocast("foo"),
])
def test_state_errors_match_torch(torch, call):
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(want.type) as got:
        call(ember)
    # the device list names torch's devices; Python words a missing argument its own way
    if "foo" not in str(want.value) and "missing" not in str(want.value):
        assert str(got.value) == str(want.value).replace("torch.device", "ember.device")


@pytest.mark.parametrize("name, args", [
    ("is_autocast_cpu_enabled", ()), ("get_autocast_cpu_dtype", ()), ("get_autocast_gpu_dtype", ()),
    ("set_autocast_cpu_enabled", (False,)), ("set_autocast_cpu_dtype", ("bfloat16",)),
    ("set_autocast_gpu_dtype", ("float16",)),
])
def test_deprecated_state_functions_warn_as_torch(torch, name, args):
    messages = []
    for m, _ in _both(torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = getattr(m, name)(*[getattr(m, a) if isinstance(a, str) else a for a in args])
        [w] = [w for w in caught if issubclass(w.category, DeprecationWarning)]
        messages.append(str(w.message).split(" (Triggered internally")[0])
        if result is not None:
            assert _name(result) in ("False", "bfloat16", "float16") or result is False
    assert messages[0] == messages[1]


# --- regions ------------------------------------------------------------------------------------------------

def test_region_casts_and_restores(torch):
    for m, _ in _both(torch):
        a, b = m.ones(2, 3), m.ones(3, 2)
        with m.autocast("cpu") as region:
            assert m.is_autocast_enabled("cpu")
            assert isinstance(region, m.autocast)
            assert (a @ b).dtype is m.bfloat16
            with m.autocast("cpu", enabled=False):
                assert not m.is_autocast_enabled("cpu")
                assert (a @ b).dtype is m.float32
                with m.autocast("cpu", dtype=m.float16):
                    assert (a @ b).dtype is m.float16
                    assert m.get_autocast_dtype("cpu") is m.float16
                assert m.get_autocast_dtype("cpu") is m.bfloat16
            assert (a @ b).dtype is m.bfloat16
        assert not m.is_autocast_enabled("cpu") and (a @ b).dtype is m.float32


def test_region_restores_state_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with ember.autocast("cpu", dtype=ember.float16, cache_enabled=False):
            raise ZeroDivisionError
    assert not ember.is_autocast_enabled("cpu") and ember.get_autocast_dtype("cpu") is ember.bfloat16
    assert ember.is_autocast_cache_enabled() and not _dispatch.AUTOCAST


def test_decorator(torch):
    for m, _ in _both(torch):
        @m.autocast("cpu")
        def forward(a, b):
            """forward's docstring"""
            return a @ b
        assert forward(m.ones(2, 2), m.ones(2, 2)).dtype is m.bfloat16
        assert forward.__name__ == "forward" and forward.__doc__ == "forward's docstring"
        assert not m.is_autocast_enabled("cpu")
    with pytest.raises(TypeError) as want:
        torch.autocast("cpu")(3)
    with pytest.raises(TypeError) as got:
        ember.autocast("cpu")(3)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_unsupported_cpu_dtype_warns_and_disables(torch, dtype):
    records = []
    for m, _ in _both(torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            region = m.autocast("cpu", dtype=getattr(m, dtype))
        assert region._enabled is False
        records.append([(w.category, str(w.message)) for w in caught])
    assert records[0] == records[1]


def test_cuda_without_gpu_warns_and_disables(torch):
    if ember.cuda.is_available() or torch.cuda.is_available():
        pytest.skip("a GPU is present")
    records = []
    for m, _ in _both(torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with m.autocast("cuda") as region:
                assert not m.is_autocast_enabled("cuda")
                assert (m.ones(2, 2) @ m.ones(2, 2)).dtype is m.float32
        assert region._enabled is False and region.fast_dtype is m.float16
        records.append([(w.category, str(w.message)) for w in caught])
    assert records[0] == records[1] == [(UserWarning, "CUDA is not available or torch_xla is imported. "
                                                      "Disabling autocast.")]


def test_float16_region_on_cpu(torch):
    """PyTorch 2.13 allows float16 on the CPU: the lower-precision ops run in it."""
    for m, _ in _both(torch):
        with m.autocast("cpu", dtype=m.float16):
            assert m.mm(m.ones(2, 2), m.ones(2, 2)).dtype is m.float16
            assert m.cat([m.ones(2, dtype=m.float16), m.ones(2)]).dtype is m.float32


def test_ops_on_another_device_type_are_left_alone():
    """A CPU op with autocast on for CUDA only runs as is (here forced on: there is no GPU)."""
    ember.set_autocast_enabled("cuda", True)
    a = ember.ones(2, 2)
    assert (a @ a).dtype is ember.float32 and ember.softmax(a, -1).dtype is ember.float32
    ember.set_autocast_enabled("cuda", False)


# --- deprecated spellings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["cpu.amp.autocast", "cuda.amp.autocast", "cpu.amp.GradScaler",
                                  "cuda.amp.GradScaler"])
def test_deprecated_classes_warn_as_torch(torch, path):
    records = []
    for m, _ in _both(torch):
        cls = m
        for part in path.split("."):
            cls = getattr(cls, part)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            obj = cls()
        assert caught[0].category is FutureWarning and caught[0].filename == __file__
        records.append([(w.category, str(w.message)) for w in caught])
        if path.endswith("autocast"):
            assert isinstance(obj, m.amp.autocast)
            assert _name(obj.fast_dtype) == ("bfloat16" if path.startswith("cpu") else "float16")
        else:
            assert isinstance(obj, m.amp.GradScaler)
    assert records[0] == records[1]


def test_deprecated_cpu_autocast_is_a_region(torch):
    with pytest.warns(FutureWarning):
        with ember.cpu.amp.autocast(dtype=ember.float16):
            assert ember.is_autocast_enabled("cpu") and ember.get_autocast_dtype("cpu") is ember.float16
    assert not ember.is_autocast_enabled("cpu")


def test_deprecated_modules_import_and_cuda_custom_decorators_warn(torch):
    import ember.cpu.amp
    import ember.cuda.amp
    from ember.cuda.amp import GradScaler  # noqa: F401
    assert ember.cpu.amp.autocast.__module__ == "ember.cpu.amp"
    assert ember.cuda.amp.amp_definitely_not_available() is torch.cuda.amp.amp_definitely_not_available()
    assert ember.cpu.is_available() and ember.cpu.device_count() == 1 and ember.cpu.current_device() == "cpu"
    for m, _ in _both(torch):
        with pytest.warns(FutureWarning, match=r"torch\.cuda\.amp\.custom_fwd\(args\.\.\.\)` is deprecated"):
            m.cuda.amp.custom_fwd(lambda ctx, x: x)
        with pytest.warns(FutureWarning, match=r"torch\.cuda\.amp\.custom_bwd\(args\.\.\.\)` is deprecated"):
            m.cuda.amp.custom_bwd(lambda ctx, x: x)


# --- the cast cache, in-place and out= calls ----------------------------------------------------------------

def _cast_nodes(out):
    return [n for n, _ in out.grad_fn.next_functions if n is not None and type(n).__name__ == "ToCopyBackward0"]


@pytest.mark.parametrize("cache", [True, False])
def test_weight_casts_are_cached_per_region(cache):
    """A float32 leaf that requires grad is cast once per outermost region (PyTorch's cache), unless disabled."""
    w, x = ember.randn(3, 4, requires_grad=True), ember.randn(2, 4)
    with ember.autocast("cpu", cache_enabled=cache):
        [first], [second] = _cast_nodes(F.linear(x, w)), _cast_nodes(F.linear(x, w))
        with ember.autocast("cpu"):
            [inner] = _cast_nodes(F.linear(x, w))
    assert (first is second) is cache and (inner is first) is cache
    with ember.autocast("cpu"):
        [again] = _cast_nodes(F.linear(x, w))
    assert again is not first                                        # the cache ends with the outermost region
    assert not _dispatch._cast_cache
    with ember.autocast("cpu"):                                      # no cache for non-leaves, views, no-grad
        y = w * 1
        assert _cast_nodes(y @ x.t()) != _cast_nodes(y @ x.t())
        F.linear(x, w)
        ember.clear_autocast_cache()
        assert not _dispatch._cast_cache


def test_inplace_and_out_calls_are_not_autocast(torch):
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in [(3, 3), (3, 4), (4, 3)])
    for m, _ in _both(torch):
        ta, tb, tc = m.tensor(a), m.tensor(b), m.tensor(c)
        with m.autocast("cpu"):
            inplace = ta.clone().addmm_(tb, tc)
            out = m.empty(3, 3)
            m.matmul(tb, tc, out=out)
            cat_out = m.empty(6, dtype=m.bfloat16)
            m.cat([tb[0, :3], tb[1, :3].bfloat16()], out=cat_out)
        assert inplace.dtype is out.dtype is m.float32 and cat_out.dtype is m.bfloat16
        np.testing.assert_allclose(np.asarray(inplace.numpy()), a + b @ c, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(out.numpy()), b @ c, rtol=1e-5, atol=1e-5)


# --- gradients --------------------------------------------------------------------------------------------

def test_gradients_flow_back_in_the_inputs_dtypes(torch):
    """The casts are differentiable `to`s: a float32 leaf gets a float32 gradient through a bfloat16 matmul."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (5, 3), (5,), (4, 5)]]
    grads = []
    for m, _ in _both(torch):
        x, w, b, target = (m.tensor(a, requires_grad=i < 3) for i, a in enumerate(arrays))
        with m.autocast("cpu"):
            hidden = F.linear(x, w, b) if m is ember else torch.nn.functional.linear(x, w, b)
            loss = ((hidden - target) ** 2).mean()
            assert hidden.dtype is m.bfloat16 and loss.dtype is m.float32
        loss.backward()
        assert x.grad.dtype is w.grad.dtype is b.grad.dtype is m.float32
        grads.append([np.asarray(t.grad.numpy()) for t in (x, w, b)])
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=3e-2, atol=3e-2)


def test_cast_gradient_gradcheck():
    """The cast to float32 (fp32 ops: a bfloat16 input to mse_loss) differentiates as a `to`, in float64 checks
    too: a float64 input is never cast, and its gradient passes gradcheck under autocast."""
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    y = ember.randn(3, 4, dtype=ember.float64)
    with ember.autocast("cpu"):
        assert (x @ y.t()).dtype is ember.float64
        assert ember.autograd.gradcheck(lambda a: F.mse_loss(a @ y.t(), y @ y.t()), (x,))
    h = ember.randn(3, 4).bfloat16().requires_grad_()
    with ember.autocast("cpu"):
        loss = F.mse_loss(h, ember.zeros(3, 4))
    loss.backward()
    assert loss.dtype is ember.float32 and h.grad.dtype is ember.bfloat16
    np.testing.assert_allclose(h.grad.float().numpy(), (h.float() * 2 / 12).detach().numpy(), rtol=1e-2)


def test_training_step_matches_torch(torch):
    """A small MLP, forward and loss under autocast, backward and SGD outside: parameters after 3 steps."""
    torch.manual_seed(0)
    t_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    e_model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    e_model.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t_model.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
    for m, model in ((torch, t_model), (ember, e_model)):
        opt = m.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            with m.autocast("cpu"):
                logits = model(m.tensor(x))
                loss = m.nn.functional.cross_entropy(logits, m.tensor(y))
            assert logits.dtype is m.bfloat16 and loss.dtype is m.float32
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (name, tp), ep in zip(t_model.state_dict().items(), e_model.state_dict().values()):
        assert ep.dtype is ember.float32
        np.testing.assert_allclose(ep.numpy(), tp.numpy(), rtol=2e-2, atol=2e-2, err_msg=name)


# --- custom_fwd / custom_bwd --------------------------------------------------------------------------------

def _function(m, seen, cast_inputs):
    class Product(m.autograd.Function):
        @staticmethod
        @m.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, x, y):
            seen.append(("forward", _name(x.dtype), _name(y.dtype), m.is_autocast_enabled("cpu")))
            ctx.save_for_backward(x, y)
            return x @ y

        @staticmethod
        @m.amp.custom_bwd(device_type="cpu")
        def backward(ctx, grad):
            seen.append(("backward", _name(grad.dtype), m.is_autocast_enabled("cpu"),
                         _name(m.get_autocast_dtype("cpu"))))
            x, y = ctx.saved_tensors
            return grad @ y.mT.to(grad.dtype), x.mT.to(grad.dtype) @ grad
    return Product


@pytest.mark.parametrize("cast_inputs", [None, "float32"])
def test_custom_fwd_bwd_match_torch(torch, cast_inputs):
    logs, grads = [], []
    for m, _ in _both(torch):
        seen = []
        product = _function(m, seen, getattr(m, cast_inputs) if cast_inputs else None)
        x = m.ones(2, 3, dtype=m.bfloat16, requires_grad=True)
        y = m.ones(3, 2, requires_grad=True)
        with m.autocast("cpu", dtype=m.float16):
            out = product.apply(x, y if cast_inputs else y.to(m.bfloat16))
        out.float().sum().backward()
        logs.append(seen + [_name(out.dtype)])
        grads.append((_name(x.grad.dtype), _name(y.grad.dtype)))
    assert logs[0] == logs[1] and grads[0] == grads[1]
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        ember.amp.custom_fwd(lambda: 1, device_type=1)


# --- cost when off ------------------------------------------------------------------------------------------

def test_hooks_cost_nothing_measurable_when_off():
    """Off, a hooked op pays one lookup in an empty dict: matmul and F.linear within noise of the bare check."""
    assert not _dispatch.AUTOCAST
    a, b = ember.randn(4, 4), ember.randn(4, 4)
    lookup = min(timeit.repeat(lambda: "matmul" in _dispatch.AUTOCAST, number=2000, repeat=5)) / 2000
    matmul = min(timeit.repeat(lambda: a @ b, number=2000, repeat=5)) / 2000
    assert lookup < 0.05 * matmul                                    # well under the op's own noise


def test_autocast_objects_pickle_free_state():
    region = ember.autocast("cpu")
    assert pickle.loads(pickle.dumps(region)).fast_dtype is ember.bfloat16


# --- the CUDA lists ------------------------------------------------------------------------------------------

def test_cuda_policies(monkeypatch):
    """PyTorch's CUDA lists (autocast_mode.h) as ember applies them to the hooked ops. Without a GPU they are
    exercised on CPU tensors by giving the CPU the CUDA table for the test."""
    from ember.amp import _op_lists
    monkeypatch.setitem(_op_lists.POLICIES, "cpu", _op_lists.POLICIES["cuda"])
    half, full = ember.ones(3, dtype=ember.float16), ember.ones(3)
    m = ember.ones(2, 3)
    with ember.autocast("cpu", dtype=ember.float16):
        assert ember.mv(m, full).dtype is ember.float16                   # lower: mv is on the CUDA list
        assert ember.addmv(ember.ones(2), m, full).dtype is ember.float16
        assert ember.einsum("ij,j->i", m, full).dtype is ember.float16
        assert ember.dot(half, full).dtype is ember.float32               # promote
        assert F.bilinear(half[None], full[None], ember.ones(2, 3, 3)).dtype is ember.float32
        assert ember.prod(half).dtype is ember.float32                    # fp32_opt: dtype=float32 unless given
        assert ember.prod(half, dtype=ember.float64).dtype is ember.float64
        assert F.mse_loss(half, half).dtype is ember.float32              # fp32
        assert ember.cat([half, half]).dtype is ember.float16             # not on the CUDA lists
        with pytest.raises(RuntimeError, match="binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast"):
            F.binary_cross_entropy(half.sigmoid(), half.sigmoid())        # banned
    assert ember.mv(m, full).dtype is ember.float32
