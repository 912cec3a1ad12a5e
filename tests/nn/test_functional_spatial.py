"""F.* spatial ops (conv, pooling, padding, resampling, grids): values and gradients against PyTorch,
finite-difference gradchecks in float64, double backward, dtype preservation and error messages."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def _inputs(shapes, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return [np.abs(a) + 0.1 for a in arrays] if positive else arrays


def _compare(torch, fn, shapes, atol=1e-10, positive=False, seed=0):
    """Run fn(F, module, *inputs) in ember and torch (float64): outputs and input grads must agree."""
    arrays = _inputs(shapes, seed, positive)
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(F, ember, *ours)
    expected = fn(torch.nn.functional, torch, *theirs)
    out, expected = (out[0], expected[0]) if isinstance(out, tuple) else (out, expected)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=atol, rtol=1e-7)
    weights = np.cos(np.arange(expected.numel())).reshape(tuple(expected.shape))
    (out * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs):
        got = a.grad.numpy() if a.grad is not None else np.zeros(a.shape)
        np.testing.assert_allclose(got, b.grad.numpy(), atol=atol, rtol=1e-7)


def _gradcheck(fn, shapes, positive=False, second=False):
    tensors = [ember.tensor(a, requires_grad=True) for a in _inputs(shapes, 1, positive)]
    assert gradcheck(lambda *xs: fn(*xs), tensors)
    if second:
        assert gradgradcheck(lambda *xs: fn(*xs), tensors)


# --- convolutions ---------------------------------------------------------------------------------------------

CONV_CASES = [
    ("conv1d", lambda F, m, x, w, b: F.conv1d(x, w, b, stride=3, padding=2), [(2, 3, 11), (4, 3, 3), (4,)]),
    ("conv2d", lambda F, m, x, w, b: F.conv2d(x, w, b), [(2, 3, 7, 6), (4, 3, 3, 2), (4,)]),
    ("conv2d-strided-dilated-groups", lambda F, m, x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=2,
                                                                     groups=2), [(2, 4, 9, 8), (6, 2, 3, 2), (6,)]),
    ("conv2d-same", lambda F, m, x, w: F.conv2d(x, w, padding="same", dilation=(1, 2)), [(2, 3, 7, 6), (4, 3, 3, 3)]),
    ("conv2d-valid", lambda F, m, x, w: F.conv2d(x, w, padding="valid"), [(2, 3, 5, 6), (4, 3, 2, 2)]),
    ("conv2d-depthwise", lambda F, m, x, w: F.conv2d(x, w, groups=3, padding=1), [(2, 3, 5, 5), (6, 1, 3, 3)]),
    ("conv2d-unbatched", lambda F, m, x, w: F.conv2d(x, w, padding=(0, 1)), [(3, 5, 6), (2, 3, 2, 3)]),
    ("conv3d", lambda F, m, x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1), [(2, 2, 5, 6, 4),
                                                                                      (3, 2, 3, 2, 3), (3,)]),
    ("conv_transpose1d", lambda F, m, x, w: F.conv_transpose1d(x, w, stride=3, padding=4, output_padding=2),
     [(2, 3, 6), (3, 2, 4)]),
    ("conv_transpose1d-dilated", lambda F, m, x, w: F.conv_transpose1d(x, w, output_padding=1, dilation=2),
     [(2, 3, 6), (3, 2, 4)]),
    ("conv_transpose2d", lambda F, m, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
     [(2, 3, 5, 4), (3, 4, 3, 3), (4,)]),
    ("conv_transpose2d-groups", lambda F, m, x, w, b: F.conv_transpose2d(
        x, w, b, stride=(2, 3), padding=(0, 2), groups=3, dilation=2, output_padding=(1, 0)),
     [(2, 6, 5, 4), (6, 2, 3, 3), (6,)]),
    ("conv_transpose3d", lambda F, m, x, w: F.conv_transpose3d(x, w, stride=2), [(1, 2, 3, 2, 3), (2, 3, 2, 2, 2)]),
]


@pytest.mark.parametrize("name,fn,shapes", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_matches_torch(torch, name, fn, shapes):
    _compare(torch, fn, shapes)


GRADCHECK_SHAPES = {      # small shapes: finite differences cost one forward per input element
    "conv1d": [(1, 3, 7), (2, 3, 3), (2,)],
    "conv2d": [(1, 2, 4, 3), (2, 2, 2, 2), (2,)],
    "conv2d-strided-dilated-groups": [(1, 4, 6, 5), (2, 2, 2, 2), (2,)],
    "conv2d-same": [(1, 2, 4, 4), (2, 2, 2, 3)],
    "conv2d-valid": [(1, 2, 3, 3), (2, 2, 2, 2)],
    "conv2d-depthwise": [(1, 3, 3, 3), (3, 1, 2, 2)],
    "conv2d-unbatched": [(2, 3, 3), (2, 2, 2, 2)],
    "conv3d": [(1, 1, 3, 4, 3), (2, 1, 2, 2, 2), (2,)],
    "conv_transpose1d": [(1, 2, 3), (2, 2, 4)],
    "conv_transpose1d-dilated": [(1, 2, 3), (2, 1, 3)],
    "conv_transpose2d": [(1, 2, 2, 3), (2, 2, 3, 3), (2,)],
    "conv_transpose2d-groups": [(1, 3, 2, 2), (3, 1, 2, 2), (3,)],
    "conv_transpose3d": [(1, 1, 2, 2, 2), (1, 2, 2, 2, 2)],
}
SECOND_ORDER = {"conv1d", "conv2d-strided-dilated-groups", "conv_transpose2d", "conv_transpose2d-groups"}


@pytest.mark.parametrize("name,fn,shapes", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_gradcheck(name, fn, shapes):
    _gradcheck(lambda *xs: fn(F, ember, *xs), GRADCHECK_SHAPES[name], second=name in SECOND_ORDER)


def test_conv_keeps_float32_and_is_contiguous():
    x = ember.randn(2, 3, 8, 8)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    out = F.conv2d(x, w, ember.zeros(4), padding=1)
    assert out.dtype is ember.float32 and out.is_contiguous()
    out.sum().backward()
    assert w.grad.dtype is ember.float32
    assert F.conv_transpose2d(x, w.detach().transpose(0, 1).contiguous(), stride=2).dtype is ember.float32


def test_conv_channel_error_names_expected_and_got():
    with pytest.raises(RuntimeError, match=r"expected input\[1, 2, 8, 8\] to have 3 channels, but got 2"):
        F.conv2d(ember.ones(1, 2, 8, 8), ember.ones(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="to have 4 channels, but got 3"):
        F.conv_transpose2d(ember.ones(1, 3, 4, 4), ember.ones(4, 2, 3, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(ember.ones(1, 1, 2, 2), ember.ones(1, 1, 3, 3))
    with pytest.raises(RuntimeError, match="not supported for strided convolutions"):      # as PyTorch's F.conv2d
        F.conv2d(ember.ones(1, 1, 5, 5), ember.ones(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="not supported for strided convolutions"):        # and its module's
        ember.nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) input to conv2d"):
        F.conv2d(ember.ones(5, 5), ember.ones(1, 1, 3, 3))


# --- pooling ------------------------------------------------------------------------------------------------------

POOL_CASES = [
    ("max_pool2d", lambda F, m, x: F.max_pool2d(x, 2), [(2, 3, 8, 7)]),
    ("max_pool2d-padded", lambda F, m, x: F.max_pool2d(x, 3, 2, 1), [(2, 3, 8, 7)]),
    ("max_pool2d-ceil-dilated", lambda F, m, x: F.max_pool2d(x, (3, 2), (2, 1), (1, 1), dilation=(1, 2),
                                                             ceil_mode=True), [(2, 3, 9, 7)]),
    ("max_pool1d-ceil", lambda F, m, x: F.max_pool1d(x, 3, 2, ceil_mode=True), [(2, 3, 10)]),
    ("max_pool3d", lambda F, m, x: F.max_pool3d(x, 2), [(3, 4, 5, 6)]),
    ("avg_pool1d", lambda F, m, x: F.avg_pool1d(x, 4, 3, 2, ceil_mode=True), [(2, 3, 10)]),
    ("avg_pool2d", lambda F, m, x: F.avg_pool2d(x, 3, 2, 1), [(2, 3, 8, 7)]),
    ("avg_pool2d-exclude-pad-ceil", lambda F, m, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                                 count_include_pad=False), [(2, 3, 8, 7)]),
    ("avg_pool2d-divisor", lambda F, m, x: F.avg_pool2d(x, 3, 2, 1, divisor_override=5), [(2, 3, 8, 7)]),
    ("avg_pool3d", lambda F, m, x: F.avg_pool3d(x, 2, 1), [(1, 2, 3, 4, 5)]),
    ("adaptive_avg_pool1d", lambda F, m, x: F.adaptive_avg_pool1d(x, 4), [(2, 3, 10)]),
    ("adaptive_avg_pool2d", lambda F, m, x: F.adaptive_avg_pool2d(x, (3, None)), [(2, 3, 10, 5)]),
    ("adaptive_avg_pool2d-global", lambda F, m, x: F.adaptive_avg_pool2d(x, 1), [(2, 3, 4, 5)]),
    ("adaptive_max_pool1d", lambda F, m, x: F.adaptive_max_pool1d(x, 3), [(2, 3, 10)]),
    ("adaptive_max_pool2d", lambda F, m, x: F.adaptive_max_pool2d(x, (3, 4)), [(2, 3, 10, 5)]),
    ("lp_pool2d", lambda F, m, x: F.lp_pool2d(x, 2, 2), [(2, 3, 6, 8)]),
]


@pytest.mark.parametrize("name,fn,shapes", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_matches_torch(torch, name, fn, shapes):
    _compare(torch, fn, shapes, positive=name.startswith("lp"))


@pytest.mark.parametrize("name,fn,shapes", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_gradcheck(name, fn, shapes):
    second = name.startswith(("max_pool2d", "avg_pool2d"))
    _gradcheck(lambda x: fn(F, ember, x), shapes, positive=name.startswith("lp"), second=second)


@pytest.mark.parametrize("fn", [
    lambda F, x: F.max_pool2d(x, 3, 2, 1, return_indices=True),
    lambda F, x: F.max_pool2d(x, (3, 2), (2, 1), (1, 1), dilation=(1, 2), ceil_mode=True, return_indices=True),
    lambda F, x: F.max_pool1d(x[:, :, 0], 3, 2, ceil_mode=True, return_indices=True),
    lambda F, x: F.adaptive_max_pool2d(x, (3, 4), return_indices=True),
    lambda F, x: F.adaptive_max_pool1d(x[:, :, 0], 3, return_indices=True),
])
def test_pool_indices_match_torch(torch, fn):
    x = _inputs([(2, 3, 9, 7)])[0]
    values, indices = fn(F, ember.tensor(x))
    expected_values, expected_indices = fn(torch.nn.functional, torch.tensor(x))
    np.testing.assert_array_equal(values.numpy(), expected_values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    assert indices.dtype is ember.int64


def test_max_pool_propagates_nan_and_first_max_wins(torch):
    x = [[[1.0, float("nan"), 3.0, 4.0, 2.0, 2.0]]]
    out, idx = F.max_pool1d(ember.tensor(x), 2, return_indices=True)
    t_out, t_idx = torch.nn.functional.max_pool1d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), t_out.numpy())
    np.testing.assert_array_equal(idx.numpy(), t_idx.numpy())


def test_max_unpool_matches_torch(torch):
    x = _inputs([(2, 3, 6, 8)])[0]
    _, indices = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    ours = ember.tensor(indices.numpy())
    for size in (None, (7, 9)):
        _compare(torch, lambda F, m, v: F.max_unpool2d(v, ours if m is ember else indices, 2, output_size=size),
                 [(2, 3, 3, 4)])
    _, indices1 = torch.nn.functional.max_pool1d(torch.tensor(x[:, :, 0]), 2, return_indices=True)
    ours1 = ember.tensor(indices1.numpy())
    _compare(torch, lambda F, m, v: F.max_unpool1d(v, ours1 if m is ember else indices1, 2), [(2, 3, 4)])


def test_pool_errors():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(ember.ones(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.max_pool2d(ember.ones(4, 4), 2)


# --- unfold / fold, padding, resampling, pixel shuffle ------------------------------------------------------------

MISC_CASES = [
    ("unfold", lambda F, m, x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), [(2, 3, 6, 7)]),
    ("fold", lambda F, m, x: F.fold(x, (6, 7), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), [(2, 18, 20)]),
    ("pad-constant", lambda F, m, x: F.pad(x, (1, 2, 2, 0), value=1.5), [(2, 3, 4, 5)]),
    ("pad-negative", lambda F, m, x: F.pad(x, (-1, 2, 0, -2)), [(2, 3, 4, 5)]),
    ("pad-reflect", lambda F, m, x: F.pad(x, (1, 2, 3, 0), mode="reflect"), [(2, 3, 4, 5)]),
    ("pad-reflect1d", lambda F, m, x: F.pad(x, (3, 1), mode="reflect"), [(2, 3, 5)]),
    ("pad-replicate", lambda F, m, x: F.pad(x, (1, 2, 2, 0), mode="replicate"), [(2, 3, 4, 5)]),
    ("pad-replicate3d", lambda F, m, x: F.pad(x, (1, 1, 2, 0, 1, 1), mode="replicate"), [(1, 2, 3, 4, 5)]),
    ("pad-circular", lambda F, m, x: F.pad(x, (1, 2, 2, 0), mode="circular"), [(2, 3, 4, 5)]),
    ("pixel_shuffle", lambda F, m, x: F.pixel_shuffle(x, 2), [(2, 8, 3, 4)]),
    ("pixel_unshuffle", lambda F, m, x: F.pixel_unshuffle(x, 2), [(2, 2, 4, 6)]),
    ("channel_shuffle", lambda F, m, x: F.channel_shuffle(x, 3), [(2, 6, 2, 3)]),
    ("lp_pool3d", lambda F, m, x: F.lp_pool3d(x.abs() + 0.1, 3, 2), [(1, 2, 4, 4, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", MISC_CASES, ids=[c[0] for c in MISC_CASES])
def test_misc_matches_torch(torch, name, fn, shapes):
    _compare(torch, fn, shapes)


@pytest.mark.parametrize("name,fn,shapes", MISC_CASES, ids=[c[0] for c in MISC_CASES])
def test_misc_gradcheck(name, fn, shapes):
    _gradcheck(lambda x: fn(F, ember, x), shapes, second=name in ("unfold", "fold", "pad-constant", "pad-reflect"))


INTERP_CASES = [(mode, nd, kw, ac)
                for mode, nd in [("nearest", 2), ("nearest-exact", 2), ("bilinear", 2), ("bicubic", 2), ("linear", 1),
                                 ("trilinear", 3), ("area", 2), ("nearest", 1), ("nearest", 3)]
                for kw in [{"size": (9, 4, 6)[:nd]}, {"scale_factor": 1.7}, {"scale_factor": 0.5}]
                for ac in ([None] if mode in ("nearest", "nearest-exact", "area") else [False, True])]


@pytest.mark.parametrize("mode,nd,kw,align_corners", INTERP_CASES,
                         ids=[f"{m}-{nd}d-{list(kw.items())[0]}-{ac}" for m, nd, kw, ac in INTERP_CASES])
def test_interpolate_matches_torch(torch, mode, nd, kw, align_corners):
    shape = (2, 3) + (5, 7, 4)[:nd]
    _compare(torch, lambda F, m, x: F.interpolate(x, mode=mode, align_corners=align_corners, **kw), [shape])


def test_interpolate_float32_matches_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7)).astype(np.float32)
    for mode, ac in (("bilinear", False), ("bicubic", False), ("nearest", None)):
        out = F.interpolate(ember.tensor(x), scale_factor=1.5, mode=mode, align_corners=ac)
        expected = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=1.5, mode=mode, align_corners=ac)
        assert out.dtype is ember.float32
        np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


def test_interpolate_nearest_same_size_uses_the_scale_factor():
    """A scale_factor whose output size equals the input's (4 * 1.2 -> 4) still maps rows by 1 / scale_factor:
    nearest is the identity only when the factor is 1, but for PyTorch's CPU nearest2d, which copies such a dim."""
    x = ember.arange(4.0).reshape(1, 1, 4)
    assert F.interpolate(x, scale_factor=1.2).flatten().tolist() == [0.0, 0.0, 1.0, 2.0]
    assert F.interpolate(x, scale_factor=1.2, mode="nearest-exact").flatten().tolist() == [0.0, 1.0, 2.0, 2.0]
    assert F.interpolate(x.reshape(1, 1, 4, 1, 1), scale_factor=(1.2, 1, 1)).flatten().tolist() == [0.0, 0.0, 1.0, 2.0]
    assert F.interpolate(x.reshape(1, 1, 4, 1), scale_factor=(1.2, 1)).flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert F.interpolate(x, size=4).flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert F.interpolate(x, scale_factor=1.2, recompute_scale_factor=True).flatten().tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("kw", [{"scale_factor": 1.2}, {"scale_factor": (1.1, 1.3)}, {"scale_factor": 1.01},
                                {"scale_factor": 1.2, "recompute_scale_factor": True}])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape", [(1, 2, 4), (1, 2, 4, 6), (1, 1, 4, 6, 5)])
def test_interpolate_nearest_same_size_matches_torch(torch, kw, mode, shape):
    if isinstance(kw["scale_factor"], tuple):
        kw = dict(kw, scale_factor=(kw["scale_factor"] * 2)[:len(shape) - 2])
    if len(shape) == 4 or mode == "nearest-exact":
        _compare(torch, lambda F, m, x: F.interpolate(x, mode=mode, **kw), [shape])
        return
    # PyTorch's CPU upsample_nearest1d/3d backward copies a dim kept at its size although the forward does not:
    # ember's gradient is the forward's own (an index_select's), so only the values are compared
    x = np.random.default_rng(0).standard_normal(shape)
    expected = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **kw).numpy()
    np.testing.assert_array_equal(F.interpolate(ember.tensor(x), mode=mode, **kw).numpy(), expected)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_interpolate_gradcheck(mode):
    ac = None if mode == "nearest" else True
    _gradcheck(lambda x: F.interpolate(x, size=(4, 5), mode=mode, align_corners=ac), [(1, 2, 3, 3)],
               second=mode == "bilinear")


def test_upsample_aliases_and_errors():
    x = ember.randn(1, 1, 2, 2)
    assert F.upsample_nearest(x, scale_factor=2).shape == (1, 1, 4, 4)
    assert F.upsample_bilinear(x, size=3).shape == (1, 1, 3, 3)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, size=2, align_corners=True)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(torch, align_corners):
    _compare(torch, lambda F, m, t: F.affine_grid(t, (2, 3, 4, 5), align_corners=align_corners), [(2, 2, 3)])
    _compare(torch, lambda F, m, t: F.affine_grid(t, (2, 3, 4, 5, 3), align_corners=align_corners), [(2, 3, 4)])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(torch, mode, padding_mode, align_corners):
    _compare(torch, lambda F, m, x, g: F.grid_sample(x, g * 1.3, mode=mode, padding_mode=padding_mode,
                                                     align_corners=align_corners), [(2, 3, 5, 6), (2, 4, 3, 2)])


def test_affine_grid_and_max_unpool_gradcheck():
    _gradcheck(lambda t: F.affine_grid(t, (1, 1, 3, 2), align_corners=False), [(1, 2, 3)], second=True)
    indices = ember.tensor([[[[0, 3], [9, 10]]]])
    _gradcheck(lambda v: F.max_unpool2d(v, indices, 2), [(1, 1, 2, 2)], second=True)


def test_grid_sample_gradcheck():
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    grid = ember.tensor(rng.uniform(-0.9, 0.9, (1, 2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda a, g: F.grid_sample(a, g, align_corners=False), [x, grid])


def test_max_pool_backward_keeps_non_finite_gradients_at_the_argmax():
    x = ember.tensor([[[1.0, 3.0, 2.0, 0.0]]], requires_grad=True)
    F.max_pool1d(x, 2).backward(ember.tensor([[[float("inf"), 1.0]]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[[0.0, float("inf"), 1.0, 0.0]]])


def test_torch_level_pool_functions(torch):
    x = _inputs([(2, 3, 8)])[0]
    from ember.ops import adaptive_pooling, pooling
    values, indices = adaptive_pooling.adaptive_max_pool1d(ember.tensor(x), 3)
    expected, expected_indices = torch.adaptive_max_pool1d(torch.tensor(x), 3)
    np.testing.assert_array_equal(values.numpy(), expected.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    np.testing.assert_allclose(pooling.avg_pool1d(ember.tensor(x), 3, 2, 1).numpy(),
                               torch.avg_pool1d(torch.tensor(x), 3, 2, 1).numpy())
    from ember.ops import conv
    np.testing.assert_array_equal(conv.constant_pad_nd(ember.tensor(x), (1, -2), 0.5).numpy(),
                                  torch.constant_pad_nd(torch.tensor(x), (1, -2), 0.5).numpy())
