"""A convolution, transposed or not, is one node, as PyTorch's ConvolutionBackward0 (Note [fused convolution] in
ember/ops/conv.py):
its edges lead to the input, the weight and the bias ((None, 0) without one), it saves the input and the weight
under PyTorch's names with the geometry, and its plain backward (on arrays, taps added into the input's canvas)
gives the gradients that its create_graph form (Unfold, matmul, Fold as differentiable ops) gives."""
import numpy as np
import pytest

import ember

F = ember.nn.functional

# (input shape, weight shape, keyword arguments): 1-, 2- and 3-d; stride, padding ('same' too), dilation, groups
CASES = [
    ((2, 3, 7), (4, 3, 3), {}),
    ((2, 4, 9), (6, 2, 2), {"stride": 2, "padding": 1, "groups": 2}),
    ((2, 3, 6, 5), (4, 3, 3, 3), {}),
    ((1, 4, 7, 7), (6, 2, 3, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}),
    ((2, 3, 6, 6), (2, 3, 2, 2), {"padding": "same"}),
    ((3, 2, 5, 4), (3, 2, 1, 1), {}),
    ((2, 6, 5, 5), (6, 1, 3, 3), {"padding": 1, "groups": 6}),
    ((1, 2, 4, 5, 4), (3, 2, 2, 3, 2), {"stride": (1, 2, 1), "padding": (1, 0, 1)}),
    ((3, 6, 6), (4, 3, 3, 3), {"padding": 1}),                    # unbatched
]
# transposed: weight (C_in, C_out/groups, *kernel); output_padding below stride or dilation
TRANSPOSED = [
    ((2, 3, 5), (3, 4, 3), {}),
    ((2, 4, 5), (4, 3, 2), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    ((2, 3, 4, 5), (3, 2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 4, 4, 4), (4, 1, 3, 3), {"stride": (2, 1), "dilation": 2, "groups": 4, "output_padding": (1, 1)}),
    ((1, 2, 3, 4, 3), (2, 3, 2, 2, 2), {"stride": 2}),
    ((3, 5, 5), (3, 2, 3, 3), {"padding": 1}),                    # unbatched
]


def _conv(m, x, w, b, kwargs):
    name = ("conv_transpose" if "output_padding" in kwargs or kwargs.get("transposed") else "conv") + f"{w.ndim - 2}d"
    return getattr(m.nn.functional, name)(x, w, b, **{k: v for k, v in kwargs.items() if k != "transposed"})


# transposed cases are marked so _conv picks conv_transpose (output_padding=0 when they give none)
ALL = CASES + [(x, w, {"output_padding": 0, **kw}) for x, w, kw in TRANSPOSED]


def _arrays(case, seed=0):
    shape, wshape, kwargs = case
    rng = np.random.default_rng(seed)
    out_channels = wshape[1] * kwargs.get("groups", 1) if "output_padding" in kwargs else wshape[0]
    return rng.standard_normal(shape), rng.standard_normal(wshape), rng.standard_normal(out_channels)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", ALL, ids=str)
def test_plain_backward_matches_the_differentiable_formulas(case, bias):
    """The array path (plain backward) and the graph path (create_graph) agree to rounding, in float64."""
    x_, w_, b_ = _arrays(case)
    grads = []
    for create_graph in (False, True):
        x = ember.tensor(x_, requires_grad=True)
        w = ember.tensor(w_, requires_grad=True)
        b = ember.tensor(b_, requires_grad=True) if bias else None
        y = _conv(ember, x, w, b, case[2])
        g = ember.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)))
        got = ember.autograd.grad(y, [x, w] + ([b] if bias else []), g, create_graph=create_graph)
        grads.append([t.detach().numpy() for t in got])
    for plain, graph in zip(*grads):
        np.testing.assert_allclose(plain, graph, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")       # PyTorch's note on even kernels
@pytest.mark.parametrize("needs", [(True, True, True), (True, False, False), (False, True, False),
                                   (False, False, True)], ids=["all", "input", "weight", "bias"])
@pytest.mark.parametrize("case", ALL, ids=str)
def test_forward_and_gradients_match_torch(torch, case, needs):
    x_, w_, b_ = _arrays(case)
    results = []
    for m in (ember, torch):
        x = m.tensor(x_, requires_grad=needs[0])
        w = m.tensor(w_, requires_grad=needs[1])
        b = m.tensor(b_, requires_grad=needs[2])
        y = _conv(m, x, w, b, case[2])
        y.backward(m.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape))))
        results.append([y.detach().numpy()] + [t.grad.numpy() for t, n in zip((x, w, b), needs) if n])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_float32_gradients_match_torch(torch):
    """The BLAS dtypes take the scratch-buffer paths (columns, each tap's product): float32 against PyTorch."""
    rng = np.random.default_rng(3)
    x_ = rng.standard_normal((4, 8, 12, 12)).astype(np.float32)
    w_ = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
    results = []
    for m in (ember, torch):
        x, w = m.tensor(x_, requires_grad=True), m.tensor(w_, requires_grad=True)
        b = m.zeros(16, requires_grad=True)
        y = m.nn.functional.conv2d(x, w, b, padding=1, groups=2)
        (y * y).sum().backward()
        results.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-4)


def test_two_convolutions_in_a_row_keep_their_own_columns():
    """Both layers build their columns in the same scratch buffer: the second must not disturb the first's
    gradient (its columns are built again in backward), against each layer computed alone."""
    rng = np.random.default_rng(4)
    x_ = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w1_ = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    w2_ = rng.standard_normal((4, 5, 3, 3)).astype(np.float32)
    x = ember.tensor(x_, requires_grad=True)
    w1, w2 = ember.tensor(w1_, requires_grad=True), ember.tensor(w2_, requires_grad=True)
    h = F.conv2d(x, w1)
    y = F.conv2d(h, w2)
    y.sum().backward()
    h_alone = ember.tensor(h.detach().numpy(), requires_grad=True)
    F.conv2d(h_alone, ember.tensor(w2_)).sum().backward()
    w1_alone = ember.tensor(w1_, requires_grad=True)
    F.conv2d(ember.tensor(x_), w1_alone).backward(h_alone.grad)
    np.testing.assert_array_equal(w1.grad.numpy(), w1_alone.grad.numpy())


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_one_node_with_torchs_edges_and_saved_values(torch, bias, transposed):
    shapes = {}
    for m in (ember, torch):
        x = m.ones(1, 4, 6, 6, requires_grad=True)
        w = m.ones(4, 3, 3, 3) if transposed else m.ones(6, 2, 3, 3)
        b = m.ones(6, requires_grad=True) if bias else None
        if transposed:
            y = m.nn.functional.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2)
        else:
            y = m.nn.functional.conv2d(x, w, b, stride=2, padding=1, dilation=1, groups=2)
        fn = y.grad_fn
        edges = [None if f is None else type(f).__name__ for f, _ in fn.next_functions]
        saved = {name: getattr(fn, name) for name in dir(fn) if name.startswith("_saved_")}
        assert saved.pop("_saved_input") is x and saved.pop("_saved_weight") is w
        shapes[m.__name__] = (type(fn).__name__, edges, saved)
    assert shapes["ember"] == shapes["torch"]
    assert shapes["ember"][0] == "ConvolutionBackward0"


def test_saved_input_modified_in_place_is_refused():
    x = ember.ones(1, 2, 5, 5, requires_grad=True)
    w = ember.ones(3, 2, 3, 3, requires_grad=True)
    h = x * 1
    y = F.conv2d(h, w)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_scratch_buffer_is_reused_per_slot_and_thread():
    from ember._backends import cpu
    a = cpu.scratch((4, 5), np.float32)
    b = cpu.scratch((2, 3), np.float64)
    assert np.shares_memory(a, b) and b.shape == (2, 3) and b.dtype == np.float64
    c = cpu.scratch((3,), np.float32, slot=1)
    assert not np.shares_memory(b, c)
    big = cpu.scratch((cpu._SCRATCH_LIMIT // 4 + 1,), np.float32)     # above the limit: not kept
    assert not np.shares_memory(big, cpu.scratch((1,), np.float32))


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
def test_channels_last_layout_and_gradients_match_torch(torch, transposed):
    rng = np.random.default_rng(5)
    x_ = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    w_ = rng.standard_normal((4, 3, 3, 3) if transposed else (3, 4, 3, 3)).astype(np.float32)
    results = []
    for m in (ember, torch):
        x = m.tensor(x_).to(memory_format=m.channels_last).requires_grad_()
        w = m.tensor(w_, requires_grad=True)
        if transposed:
            y = m.nn.functional.conv_transpose2d(x, w, m.ones(3), stride=2)
        else:
            y = m.nn.functional.conv2d(x, w, m.ones(3))
        (y * y).sum().backward()
        results.append([y.stride(), x.grad.stride(), y.detach().numpy(), x.grad.numpy(), w.grad.numpy()])
    ours, theirs = results
    assert ours[:2] == theirs[:2]
    for a, b in zip(ours[2:], theirs[2:]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
def test_outputs_and_gradients_never_live_in_a_scratch_buffer(transposed):
    """With a batch of one, the laid-out product is already contiguous: the result must still be a copy, or the
    next convolution would overwrite it (and a gradient the next backward)."""
    f = F.conv_transpose2d if transposed else F.conv2d
    x = ember.randn(1, 3, 5, 5, requires_grad=True)
    w = ember.randn(3, 3, 1, 1, requires_grad=True)
    y = f(x, w)
    kept = y.detach().clone()
    y.sum().backward()
    grads = x.grad.clone(), w.grad.clone()
    f(ember.randn(1, 3, 5, 5, requires_grad=True), ember.randn(3, 3, 1, 1, requires_grad=True)).sum().backward()
    assert ember.equal(y.detach(), kept) and ember.equal(x.grad, grads[0]) and ember.equal(w.grad, grads[1])
