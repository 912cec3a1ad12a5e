"""Fractional max pooling against PyTorch: window placement from explicit and seeded random samples (outputs
and indices exactly equal), ties and NaN, unbatched input, gradients, modules and errors."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.nn.modules.pooling import FractionalMaxPool2d, FractionalMaxPool3d


def _inputs(rng, shape, dtype, nd, batch=2):
    x = rng.standard_normal(shape).astype(dtype)
    samples = rng.random((batch, shape[-nd - 1], nd)).astype(dtype)
    return x, samples


def _both(torch, nd, x, samples, kernel, **kwargs):
    ours = getattr(F, f"fractional_max_pool{nd}d")(ember.tensor(x), kernel, return_indices=True,
                                                   _random_samples=ember.tensor(samples), **kwargs)
    theirs = getattr(torch.nn.functional, f"fractional_max_pool{nd}d")(
        torch.tensor(x), kernel, return_indices=True, _random_samples=torch.tensor(samples), **kwargs)
    return ours, theirs


def _assert_same(ours, theirs):
    assert ours[1].dtype is ember.int64
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows_match_torch_2d(torch, dtype):
    rng = np.random.default_rng(0)
    for _ in range(40):
        h, w = rng.integers(2, 30, 2)
        kernel = (int(rng.integers(1, h)), int(rng.integers(1, w)))
        out = (int(rng.integers(1, h - kernel[0] + 2)), int(rng.integers(1, w - kernel[1] + 2)))
        x, samples = _inputs(rng, (2, 3, h, w), dtype, 2)
        _assert_same(*_both(torch, 2, x, samples, kernel, output_size=out))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows_match_torch_3d(torch, dtype):
    rng = np.random.default_rng(1)
    for _ in range(20):
        spatial = rng.integers(2, 12, 3)
        kernel = tuple(int(rng.integers(1, s)) for s in spatial)
        out = tuple(int(rng.integers(1, s - k + 1)) for s, k in zip(spatial, kernel))   # 3-d keeps one spare
        x, samples = _inputs(rng, (2, 2) + tuple(int(s) for s in spatial), dtype, 3)
        _assert_same(*_both(torch, 3, x, samples, kernel, output_size=out))


def test_ties_nan_and_extra_samples(torch):
    rng = np.random.default_rng(2)
    x, samples = _inputs(rng, (2, 3, 12, 11), "float64", 2, batch=4)       # more samples than the batch
    x = np.round(x)                                                        # many ties: the first one wins
    _assert_same(*_both(torch, 2, x, samples, 3, output_size=(5, 4)))
    x[0, 0, 2:5, 3:6] = np.nan                                             # NaN: the last one wins
    x[1, 2, 0, 0] = np.nan
    x[1, 1] = -np.inf
    (output, indices), theirs = _both(torch, 2, x, samples, (3, 2), output_size=(6, 7))
    _assert_same((output.nan_to_num(0.5), indices), (theirs[0].nan_to_num(0.5), theirs[1]))


def test_unbatched_and_empty(torch):
    rng = np.random.default_rng(3)
    x, samples = _inputs(rng, (3, 9, 10), "float32", 2, batch=1)
    _assert_same(*_both(torch, 2, x, samples, 2, output_size=4))
    x, samples = _inputs(rng, (2, 5, 6, 7), "float64", 3, batch=1)
    _assert_same(*_both(torch, 3, x, samples, (2, 1, 3), output_size=(3, 2, 2)))
    x, samples = _inputs(rng, (2, 3, 9, 10), "float64", 2)
    _assert_same(*_both(torch, 2, x, samples, 2, output_size=(0, 3)))
    x, samples = _inputs(rng, (0, 3, 9, 10), "float64", 2, batch=0)
    _assert_same(*_both(torch, 2, x, samples, 2, output_size=3))


@pytest.mark.parametrize("nd,shape,kwargs", [
    (2, (2, 3, 11, 9), dict(output_ratio=(0.5, 0.7))),
    (2, (3, 12, 10), dict(output_size=4)),
    (3, (2, 2, 7, 8, 9), dict(output_ratio=(0.5, 0.6, 0.7))),
    (3, (2, 6, 7, 5), dict(output_size=(3, 2, 2))),
], ids=["2d-ratio", "2d-unbatched", "3d-ratio", "3d-unbatched"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_seeded_draw_matches_torch(torch, nd, shape, kwargs, dtype):
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    results = []
    for m in (ember, torch):
        m.manual_seed(7)
        pool = getattr(m.nn.functional, f"fractional_max_pool{nd}d")
        output, indices = pool(m.tensor(x), 2, return_indices=True, **kwargs)
        results.append((output.numpy(), indices.numpy(), m.rand(4).numpy()))   # the generator moved alike
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("nd", [2, 3])
def test_module_matches_torch(torch, nd):
    shape = (2, 3, 10, 11) if nd == 2 else (2, 3, 7, 8, 9)
    x = np.random.default_rng(5).standard_normal(shape)
    outputs = []
    for m in (ember, torch):
        cls = getattr(m.nn, f"FractionalMaxPool{nd}d") if m is torch else \
            (FractionalMaxPool2d if nd == 2 else FractionalMaxPool3d)
        layer = cls(2, output_ratio=0.5, return_indices=True)
        assert layer.kernel_size == (2,) * nd and layer.output_ratio == (0.5,) * nd and layer.output_size is None
        assert layer._random_samples is None and list(layer.state_dict()) == []
        m.manual_seed(3)
        outputs.append([t.numpy() for t in layer(m.tensor(x))])
        samples = m.tensor(np.random.default_rng(6).random((2, 3, nd)))
        fixed = cls(3, output_size=4, _random_samples=samples)
        assert fixed.output_size == (4,) * nd and list(fixed.state_dict()) == ["_random_samples"]
        outputs.append([fixed(m.tensor(x)).numpy()])
        assert repr(fixed) == f"FractionalMaxPool{nd}d()"
    for ours, theirs in zip(outputs[:2], outputs[2:]):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_gradient_goes_to_the_argmax(torch):
    rng = np.random.default_rng(7)
    for nd, shape, kernel, size in ((2, (2, 3, 9, 8), (3, 2), (4, 5)), (3, (2, 2, 6, 7, 5), 2, (3, 3, 2)),
                                    (2, (3, 7, 7), 3, 5)):
        x, samples = _inputs(rng, shape, "float64", nd, batch=2)
        x = np.round(x * 2) / 2                                           # ties: overlapping windows share
        grads = []
        for m in (ember, torch):
            t = m.tensor(x, requires_grad=True)
            out = getattr(m.nn.functional, f"fractional_max_pool{nd}d")(t, kernel, output_size=size,
                                                                         _random_samples=m.tensor(samples))
            weights = m.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
            (out * weights).sum().backward()
            grads.append(t.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=0)


@pytest.mark.parametrize("nd", [2, 3])
def test_gradcheck(nd):
    rng = np.random.default_rng(8)
    shape = (2, 2, 7, 6) if nd == 2 else (1, 2, 5, 6, 5)
    x = ember.tensor(rng.permutation(np.prod(shape)).reshape(shape) / 7.0, requires_grad=True)  # no ties
    samples = ember.tensor(rng.random((2, 2, nd)))
    pool = getattr(F, f"fractional_max_pool{nd}d")
    assert gradcheck(lambda t: pool(t, 2, output_size=(3,) * nd, _random_samples=samples), (x,))


def _error_cases(m):
    F_ = m.nn.functional
    x = m.zeros(2, 3, 10, 9)
    s = m.rand(2, 3, 2)
    yield lambda: F_.fractional_max_pool2d(x, 3)                                         # ValueError
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=9, _random_samples=s)       # pool height too large
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=(8, 8), _random_samples=s)  # pool width
    yield lambda: F_.fractional_max_pool2d(x, (3, 2, 1), output_size=2)
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=(2, 2, 2))
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=(-1, 2), _random_samples=s)
    yield lambda: F_.fractional_max_pool2d(x, 3, output_ratio=(-0.5, 0.5), _random_samples=s)
    yield lambda: F_.fractional_max_pool2d(x, 3, output_ratio=(0.5,))
    yield lambda: F_.fractional_max_pool2d(x, 3.0, output_size=2)
    yield lambda: F_.fractional_max_pool2d(x[0, 0], 3, output_size=2)                   # IndexError drawing
    yield lambda: F_.fractional_max_pool2d(x[None], 3, output_size=2, _random_samples=s)
    yield lambda: F_.fractional_max_pool2d(x[:, :, :0], 3, output_size=2, _random_samples=s)
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=2, _random_samples=s.double())
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=2, _random_samples=s[None])
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=2, _random_samples=s[:1])
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=2, _random_samples=s[:, :2])
    yield lambda: F_.fractional_max_pool2d(x, 3, output_size=2, _random_samples=m.rand(2, 3, 3))
    yield lambda: F_.fractional_max_pool2d(x.long(), 3, output_size=2)                  # rand refuses Long
    yield lambda: F_.fractional_max_pool2d(x.long(), 3, output_size=2, _random_samples=s.long())
    y = m.zeros(2, 3, 6, 7, 8)
    yield lambda: F_.fractional_max_pool3d(y, 2)
    yield lambda: F_.fractional_max_pool3d(y, 3, output_size=(4, 2, 2))                  # 3-d: strict
    yield lambda: F_.fractional_max_pool3d(y, 2, output_size=(2, 2))
    yield lambda: F_.fractional_max_pool3d(y[0, 0], 2, output_size=2, _random_samples=m.rand(1, 6, 3))
    yield lambda: F_.fractional_max_pool3d(y, 2, output_size=2, _random_samples=m.rand(2, 3, 2))
    nn = m.nn
    yield lambda: nn.FractionalMaxPool2d(2)
    yield lambda: nn.FractionalMaxPool2d(2, output_size=2, output_ratio=0.5)
    yield lambda: nn.FractionalMaxPool2d(2, output_ratio=1.0)
    yield lambda: nn.FractionalMaxPool2d(2, output_ratio=[0.5, 1.2])
    yield lambda: nn.FractionalMaxPool3d(0, output_size=2)
    yield lambda: nn.FractionalMaxPool3d(2, output_ratio=(0.5, 1.5, 0.6))


def test_errors_match_torch(torch):
    import types
    ours_nn = types.SimpleNamespace(FractionalMaxPool2d=FractionalMaxPool2d, FractionalMaxPool3d=FractionalMaxPool3d)
    ours = types.SimpleNamespace(**{k: getattr(ember, k) for k in ("zeros", "rand")},
                                 nn=types.SimpleNamespace(functional=F, **vars(ours_nn)))
    for mine, theirs in zip(_error_cases(ours), _error_cases(torch)):
        with pytest.raises(Exception) as expected:
            theirs()
        with pytest.raises(expected.type) as got:
            mine()
        assert str(got.value) == str(expected.value), str(expected.value)
