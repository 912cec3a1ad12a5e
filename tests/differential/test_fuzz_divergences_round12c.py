"""Regression tests for the last divergences of issue 12 (h_fuzz12c): each checks ember's own expected value, and
compares with PyTorch where it is installed."""
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

from .oracle import outcome, same, torch  # noqa: F401


def _name(fn):
    return None if fn is None else fn.name().split("::")[-1]      # torch::autograd::CopyBackwards -> CopyBackwards


# --- 1. interpolate and affine_grid: one node each, saving no tensors, differentiable backward ---------------

UPSAMPLE = [
    (1, "nearest", None, "UpsampleNearest1DBackward0"),
    (1, "nearest-exact", None, "UpsampleNearestExact1DBackward0"),
    (1, "linear", False, "UpsampleLinear1DBackward0"),
    (1, "linear", True, "UpsampleLinear1DBackward0"),
    (2, "nearest", None, "UpsampleNearest2DBackward0"),
    (2, "nearest-exact", None, "UpsampleNearestExact2DBackward0"),
    (2, "bilinear", False, "UpsampleBilinear2DBackward0"),
    (2, "bicubic", True, "UpsampleBicubic2DBackward0"),
    (2, "bicubic", False, "UpsampleBicubic2DBackward0"),
    (3, "nearest", None, "UpsampleNearest3DBackward0"),
    (3, "nearest-exact", None, "UpsampleNearestExact3DBackward0"),
    (3, "trilinear", False, "UpsampleTrilinear3DBackward0"),
    (3, "trilinear", True, "UpsampleTrilinear3DBackward0"),
]
SIZES = {"up": {"scale_factor": 2}, "down": {"size": 2}, "odd": {"scale_factor": 1.7}, "same": {"scale_factor": 1}}


@pytest.mark.parametrize("how", sorted(SIZES))
@pytest.mark.parametrize("nd,mode,align,node", UPSAMPLE, ids=[f"{m}-{n}d-{a}" for n, m, a, _ in UPSAMPLE])
def test_interpolate_is_one_node_that_backward_runs_through_twice(nd, mode, align, node, how):
    data = np.random.default_rng(nd).random((2, 2) + (3,) * nd).astype(np.float32)

    def run(m):
        x = m.tensor(data, requires_grad=True)
        y = m.nn.functional.interpolate(x, mode=mode, align_corners=align, **SIZES[how])
        weight = m.arange(y.numel(), dtype=m.float32).reshape(y.shape)
        loss = (y * weight).sum()
        loss.backward(retain_graph=False)
        first = x.grad.clone()
        y.backward(weight)                         # through the upsampling node again: it saved nothing
        return [_name(y.grad_fn), np.allclose(x.grad.numpy(), 2 * first.numpy()), y.detach().numpy()]
    out = outcome(run)
    assert out[0][:2] == [node, True]
    for o in out[1:]:
        assert o[:2] == out[0][:2]
        if mode.startswith("nearest"):             # copies: bit for bit
            np.testing.assert_array_equal(o[2], out[0][2])
        else:                                      # PyTorch fuses the weighted sums (fma): a few ulps apart
            np.testing.assert_allclose(o[2], out[0][2], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("nd,mode,align,node", UPSAMPLE[::2], ids=[f"{m}-{n}d-{a}" for n, m, a, _ in UPSAMPLE[::2]])
def test_interpolate_gradients_match_torch_and_have_gradients(nd, mode, align, node):
    data = np.random.default_rng(0).random((1, 2) + (3,) * nd)

    def f(x):
        return ember.nn.functional.interpolate(x, size=(4,) * nd, mode=mode, align_corners=align)
    x = ember.tensor(data, requires_grad=True)
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
    y = f(x)
    g, = ember.autograd.grad(y.pow(2).sum(), x, create_graph=True)      # double backward through the node
    assert g.requires_grad and _name(g.grad_fn) != node
    g.sum().backward()
    if torch is not None:
        tx = torch.tensor(data, requires_grad=True)
        ty = torch.nn.functional.interpolate(tx, size=(4,) * nd, mode=mode, align_corners=align)
        tg, = torch.autograd.grad(ty.pow(2).sum(), tx, create_graph=True)
        tg.sum().backward()
        np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_interpolate_keeping_the_size_copies_into_a_contiguous_result_and_records_its_node():
    def run(m):
        x = m.arange(24.0).reshape(1, 2, 3, 4).transpose(2, 3).requires_grad_()
        y = m.nn.functional.interpolate(x, size=(4, 3))
        z = m.nn.functional.interpolate(x.detach().to(memory_format=m.channels_last), size=(4, 3))
        return [_name(y.grad_fn), y.stride(), z.stride(), y.tolist() == x.tolist()]
    same(run, ["UpsampleNearest2DBackward0", (24, 12, 3, 1), (24, 1, 6, 2), True])


def test_upsampling_node_ignores_in_place_changes_of_its_input():
    def run(m):
        a = m.rand(1, 1, 2, 2, requires_grad=True)
        x = a * 1
        y = m.nn.functional.interpolate(x, scale_factor=2, mode="bilinear")
        x.mul_(3)                                  # PyTorch's node saved no tensor: nothing to check
        y.sum().backward()
        return a.grad.tolist()
    same(run, [[[[4.0, 4.0], [4.0, 4.0]]]])


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(2, 1, 3, 4), (2, 1, 3, 4, 2)])
def test_affine_grid_is_one_node_that_backward_runs_through_twice(size, align):
    k = len(size) - 2
    data = np.random.default_rng(k).random((2, k, k + 1))

    def run(m):
        theta = m.tensor(data, requires_grad=True)
        grid = m.nn.functional.affine_grid(theta, size, align_corners=align)
        weight = m.arange(grid.numel(), dtype=m.float64).reshape(grid.shape)
        grid.backward(weight)
        grid.backward(weight)
        return [_name(grid.grad_fn), tuple(grid.shape), np.round(grid.detach().numpy(), 12).tolist(),
                np.round(theta.grad.numpy(), 9).tolist()]
    out = outcome(run)
    assert out[0][:2] == ["AffineGridGeneratorBackward0", size[:1] + size[2:] + (k,)]
    assert all(o == out[0] for o in out)
    theta = ember.tensor(data, requires_grad=True)

    def f(t):
        return ember.nn.functional.affine_grid(t, size, align_corners=align)
    assert gradcheck(f, (theta,)) and gradgradcheck(f, (theta,))


def test_affine_grid_under_autocast_runs_in_the_lower_dtype():
    def run(m):
        theta = m.tensor([[[1.0, 0.5, 0.25], [0.0, 1.0, -0.5]]], requires_grad=True)
        with m.autocast("cpu"):
            grid = m.nn.functional.affine_grid(theta, (1, 1, 2, 3), align_corners=False)
        grid.float().sum().backward()
        return [str(grid.dtype).split(".")[-1], _name(grid.grad_fn), str(theta.grad.dtype).split(".")[-1]]
    same(run, ["bfloat16", "AffineGridGeneratorBackward0", "float32"])


# --- 2. retain_grad follows a tensor to its new grad_fn; register_hook's hooks stay on the old node ------------

def _hooked(m, variant):
    """A view (or with "plain" a non-view) of a non-leaf, hooked and/or retained, then changed in place (on itself,
    or "base": on its base); returns what PyTorch and ember must agree on."""
    a = m.arange(1.0, 13.0).reshape(3, 4).requires_grad_()
    b = a * 1
    t = b if "plain" in variant else b[0]
    calls = []
    if "hookfirst" in variant:
        t.register_hook(lambda g: calls.append(("first", g.sum().item())))
    if "retain" in variant:
        t.retain_grad()
    if "hook" in variant:
        t.register_hook(lambda g: calls.append(("hook", g.sum().item())) or g * 10)
    z = t + 5 if "z" in variant else None          # a use of t as it was: its node still runs for it
    if "base" in variant:
        b.mul_(2)
    else:
        t.mul_(2)
    if "after" in variant:
        t.register_hook(lambda g: calls.append(("after", g.sum().item())))
    if "twice" in variant:
        t.mul_(3)
    loss = (t * 3).sum() + (z.sum() if z is not None else 0)
    loss.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grad = None if t.grad is None else t.grad.sum().item()
    return [_name(t.grad_fn), grad, calls, a.grad.sum().item()]


HOOKED = {
    "plain retain": ["MulBackward0", 36.0, [], 72.0],
    "plain hook": ["MulBackward0", None, [("hook", 72.0)], 720.0],
    "plain retain hook z after twice": ["MulBackward0", 36.0, [("after", 108.0), ("hook", 228.0)], 2280.0],
    "plain hookfirst retain hook": ["MulBackward0", 36.0, [("first", 72.0), ("hook", 72.0)], 720.0],
    "retain base": ["AsStridedBackward0", 12.0, [], 24.0],
    "retain view": ["AsStridedBackward0", 12.0, [], 24.0],
    "hook view z": ["AsStridedBackward0", None, [("hook", 4.0)], 64.0],
    "hook base z": ["AsStridedBackward0", None, [("hook", 4.0)], 64.0],
    "retain hook view after twice": ["AsStridedBackward0", 12.0, [], 72.0],
    "hookfirst retain view": ["AsStridedBackward0", 12.0, [], 24.0],
    "retain base twice": ["AsStridedBackward0", 12.0, [], 72.0],
    "retain view twice z after": ["AsStridedBackward0", 12.0, [], 76.0],
}


@pytest.mark.parametrize("variant", sorted(HOOKED))
def test_hooks_and_retain_grad_across_an_in_place_change(variant):
    same(lambda m: _hooked(m, variant), HOOKED[variant])


def test_retain_grad_stores_the_gradient_after_the_tensor_hooks():
    def run(m):
        a = m.ones(3, requires_grad=True)
        t = a * 1
        t.retain_grad()
        t.register_hook(lambda g: g * 10)          # registered later, still runs first
        t.sum().backward()
        return [t.grad.tolist(), a.grad.tolist()]
    same(run, [[10.0] * 3, [10.0] * 3])


def test_retain_grad_follows_a_dirty_input_of_a_custom_function():
    def run(m):
        class Double(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.mark_dirty(x)
                return x.mul_(2)

            @staticmethod
            def backward(ctx, g):
                return g * 2
        a = m.ones(2, requires_grad=True)
        t = a * 1
        t.retain_grad()
        Double.apply(t)
        (t * 3).sum().backward()
        return [t.grad.tolist(), a.grad.tolist()]
    same(run, [[3.0, 3.0], [6.0, 6.0]])


# --- 3a. a formula that hands back a tensor as it is: autograd.grad returns it, .grad gets a copy ------------

@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_grad_through_cummax_of_an_empty_tensor_is_the_input_itself(op):
    def run(m):
        x = m.zeros(0, 3, requires_grad=True)
        g, = m.autograd.grad(getattr(m, op)(x, 0).values.sum(), x)
        y = m.zeros(0, requires_grad=True)
        getattr(m, op)(y, 0).values.sum().backward()
        return [g is x, g.requires_grad, y.grad is y, y.grad.requires_grad, tuple(y.grad.shape)]
    same(run, [True, True, False, False, (0,)])


def test_grad_returns_the_tensor_a_custom_backward_hands_back():
    def run(m):
        class Saved(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.save_for_backward(w)
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return ctx.saved_tensors[0], None
        x = m.ones(3, requires_grad=True)
        w = m.ones(3, requires_grad=True) * 2
        g, = m.autograd.grad(Saved.apply(x, w).sum(), x)
        v = m.ones(3, requires_grad=True)
        y = x * 2
        h, = m.autograd.grad(y, y, v)              # the grad_output itself
        Saved.apply(x, w).sum().backward()
        return [g is w, g.requires_grad, h is v, x.grad is w, x.grad.requires_grad, x.grad.tolist()]
    same(run, [True, True, True, False, False, [2.0] * 3])


# --- 3b. special functions lay their result out as PyTorch's TensorIterator does -----------------------------

LAYOUTS = {
    "expand-rows": (lambda m: m.tensor([[0.1, 0.2, 0.3]]).expand(2, 3), (3, 1)),
    "expand-cols": (lambda m: m.tensor([[0.1], [0.3]]).expand(2, 3), (3, 1)),
    "transposed": (lambda m: m.linspace(0.05, 0.9, 6).reshape(2, 3).t(), (1, 3)),
    "stepped": (lambda m: m.linspace(0.05, 0.9, 24).reshape(4, 6)[::2, ::2], (3, 1)),
}
SPECIAL = {
    "erfinv": lambda m, x: m.erfinv(x), "erf": lambda m, x: m.erf(x), "erfc": lambda m, x: m.erfc(x),
    "lgamma": lambda m, x: m.lgamma(x), "digamma": lambda m, x: m.digamma(x), "i0": lambda m, x: m.i0(x),
    "polygamma": lambda m, x: m.polygamma(1, x), "ndtri": lambda m, x: m.special.ndtri(x),
    "log_ndtr": lambda m, x: m.special.log_ndtr(x), "erfcx": lambda m, x: m.special.erfcx(x),
    "i1e": lambda m, x: m.special.i1e(x), "zeta": lambda m, x: m.special.zeta(x + 1, 2.0),
    "mvlgamma": lambda m, x: m.mvlgamma(x + 2, 2),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("op", sorted(SPECIAL))
def test_special_function_result_strides(op, layout):
    make, strides = LAYOUTS[layout]
    if op == "mvlgamma":                           # PyTorch's sums over a new last dim: always contiguous
        strides = (3, 1) if layout != "transposed" else (2, 1)

    def run(m):
        y = SPECIAL[op](m, make(m))
        return y.stride()
    same(run, strides)


def test_dropout_after_erfinv_of_an_expanded_tensor_zeroes_the_same_elements():
    def run(m):
        m.manual_seed(0)
        y = m.erfinv(m.tensor([[0.1, 0.2, 0.3]]).expand(4, 3))
        return (m.nn.functional.dropout(y, 0.5) == 0).tolist()
    out = outcome(run)
    assert all(o == out[0] for o in out)


# --- 3c. t[...] = v writes t itself (CopyBackwards), as do whole slices; t[True] a view; t[False] nothing -----

SETITEM = {
    "...": (Ellipsis, [(), (2, 3)], "CopyBackwards"),
    "()": ((), [(), (2, 3)], "CopyBackwards"),
    ":": (slice(None), [(2, 3)], "CopyBackwards"),
    "0:5, ...": ((slice(0, 5), Ellipsis), [(2, 3)], "CopyBackwards"),
    "..., ::1": ((Ellipsis, slice(None, None, 1)), [(2, 3)], "CopyBackwards"),
    "-5:": (slice(-5, None), [(2, 3)], "CopySlices"),
    "None": (None, [(), (2, 3)], "CopySlices"),
    "True": (True, [(), (2, 3)], "CopySlices"),
}


@pytest.mark.parametrize("key", sorted(SETITEM))
def test_setitem_of_the_whole_tensor_is_a_copy_into_it(key):
    index, shapes, node = SETITEM[key]

    def run(m, shape):
        x = m.ones(shape, requires_grad=True)
        v = m.full(shape, 3.0, requires_grad=True)
        t = x + 0                                  # AddBackward0 saves nothing
        t[index] = v
        out = [_name(t.grad_fn), t._version]
        t.sum().backward()
        try:
            t.sum().backward()                     # CopyBackwards saves nothing; CopySlices is freed
            out.append("again")
        except RuntimeError as e:
            out.append("second time" in str(e))
        out.append((x.grad.sum().item(), v.grad.sum().item()))
        return out
    for shape in shapes:
        n = max(1, int(np.prod(shape)))
        twice = node == "CopyBackwards"
        same(lambda m: run(m, shape), [node, 1, "again" if twice else True, (0.0, (2.0 if twice else 1.0) * n)])


def test_setitem_false_writes_nothing():
    def run(m):
        t = m.ones(2)
        t[False] = m.ones(5)                       # not even the shape is checked
        return [t._version, t.tolist()]
    same(run, [0, [1.0, 1.0]])


# --- found by this round's fuzzing --------------------------------------------------------------------------

def test_cat_gives_a_legacy_empty_input_zeros_without_history():
    def run(m):
        e = m.zeros(0, requires_grad=True)
        x = m.ones(2, requires_grad=True)
        y = m.cat([e, x, e])                       # skipped in the result, still in the graph
        y.exp().sum().backward(create_graph=True)
        f = m.zeros(0, requires_grad=True)
        m.cat([f, f]).exp().sum().backward(create_graph=True)      # all of them empty
        d = m.zeros(0, dtype=m.float64, requires_grad=True)
        z = m.cat([m.ones(2), d])                  # the skipped one takes part in the type promotion
        z.sum().backward()
        return [len(y.grad_fn.next_functions), e.grad.tolist(), e.grad.requires_grad, x.grad.requires_grad,
                f.grad.requires_grad, str(z.dtype).split(".")[-1], str(d.grad.dtype).split(".")[-1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # (PyTorch's create_graph reference-cycle warning)
        same(run, [3, [], False, True, False, "float64", "float64"])


def test_gather_result_is_contiguous_whatever_the_index_layout():
    def run(m):
        v = m.ones(3, 2).t()
        out = m.gather(v, 0, m.zeros_like(v, dtype=m.long))      # the index is transposed like v
        return [out.stride(), tuple(out.view(-1).shape)]
    same(run, [(3, 1), (6,)])


def test_in_place_ops_on_a_view_of_a_restrided_base_route_gradients_by_storage():
    def run(m):
        a = m.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], requires_grad=True)
        b = a * 1
        v = b[1:]
        b.t_()                                     # v's region is now known by storage only
        v.mul_(2)
        v.add_(1)                                  # the second in-place op lays its mask out as the base too
        v.sin_()
        (v.sum() + b.sum()).backward()
        return np.round(a.grad.numpy().astype(np.float64), 4).tolist()
    expected = np.round(np.concatenate([np.ones((1, 3)), 2 * np.cos(2 * np.array([[0.4, 0.5, 0.6]]) + 1) * 2]),
                        4).tolist()                # (v's twice: in v.sum() and in b.sum())
    same(run, expected)


# --- found by the closing fuzz run (seed 424242) ------------------------------------------------------------------

def test_logit_with_eps_gives_nan_zero_gradient_only_under_create_graph():
    def run(m, create_graph):
        x = m.tensor([0.5, float("nan"), 0.01], requires_grad=True)
        m.logit(x, eps=0.1).backward(m.full((3,), 0.5), create_graph=create_graph)
        return [str(v) for v in x.grad.tolist()]
    same(lambda m: run(m, False), ["2.0", "nan", "0.0"])         # PyTorch's kernel lets NaN through
    same(lambda m: run(m, True), ["2.0", "0.0", "0.0"])          # its differentiable formula selects


def test_max_pool_picks_the_last_nan_of_a_window():
    def run(m):
        x = m.tensor([[[1.0, float("nan"), 3.0, float("nan"), 2.0, 5.0, float("nan"), float("nan"), 0.0]]],
                     requires_grad=True)
        _, index = m.nn.functional.max_pool1d(x, 3, return_indices=True)
        m.nn.functional.max_pool1d(x, 3).sum().backward()
        return index.tolist(), x.grad.tolist()
    same(run, ([[[1, 3, 7]]], [[[0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]]))
