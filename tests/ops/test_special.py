"""erf/erfc/erfinv accuracy: float32 (fast fits) within 1 ulp of the correctly rounded value, float64
near double precision, special values, and agreement with PyTorch."""
import math

import numpy as np
import pytest

import ember
from ember._backends.special import erf, erfc, erfinv

GRID = np.concatenate([np.linspace(-12, 12, 40001), np.linspace(-1.6, 1.6, 20001),
                       [0.0, -0.0, 1e-30, -1e-38, 1.5, -1.5, 1.5000001, 3e38, -3e38]])


def _ulps(got, exact, dtype):
    rounded = exact.astype(dtype)
    ok = np.isfinite(rounded)
    spacing = np.spacing(np.abs(rounded[ok])).astype(np.float64)
    diff = np.abs(got[ok].astype(np.float64) - rounded[ok].astype(np.float64))
    return float(np.max(diff / np.maximum(spacing, np.finfo(dtype).smallest_subnormal)))


@pytest.mark.parametrize("fn, exact", [(erf, math.erf), (erfc, math.erfc)], ids=["erf", "erfc"])
def test_float32_within_one_ulp(fn, exact):
    x = GRID.astype(np.float32)
    reference = np.array([exact(v) for v in x.astype(np.float64)])
    assert _ulps(fn(np, x), reference, np.float32) <= 1.0
    assert fn(np, x).dtype == np.float32


@pytest.mark.parametrize("fn, exact", [(erf, math.erf), (erfc, math.erfc)], ids=["erf", "erfc"])
def test_float64_near_double_precision(fn, exact):
    x = np.concatenate([np.linspace(-6, 6, 4001), [0.0, 1e-300, 2.5, -2.5, 26.0]])
    reference = np.array([exact(v) for v in x])
    got = fn(np, x)
    relative = np.abs(got - reference) / np.maximum(np.abs(reference), 1e-300)
    assert relative.max() < 1e-10       # erfc loses a little to cancellation just below |x| = 2.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=dtype)
    e, c = erf(np, x), erfc(np, x)
    assert np.isnan(e[0]) and np.isnan(c[0])
    assert e[1:3].tolist() == [1.0, -1.0] and c[1:3].tolist() == [0.0, 2.0]
    assert e[3] == 0 and np.signbit(e[4]) and c[3] == 1.0
    assert e.dtype == dtype and c.dtype == dtype


def test_matches_torch(torch):
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        values = np.linspace(-5, 5, 2001)
        t = torch.tensor(values).to(getattr(torch, dtype))
        e = ember.tensor(t.float().numpy() if dtype == "bfloat16" else t.numpy()).to(getattr(ember, dtype))
        for name in ("erf", "erfc"):
            got = getattr(ember, name)(e).float().numpy()
            want = getattr(torch, name)(t).float().numpy()
            tol = {"float32": 2e-7, "float64": 1e-15, "float16": 1e-3, "bfloat16": 8e-3}[dtype]
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{name} {dtype}")


def test_erfinv_inverts_erf():
    y = np.linspace(-0.999, 0.999, 2001)
    np.testing.assert_allclose(erf(np, erfinv(np, y)), y, rtol=1e-12, atol=1e-14)
    assert erfinv(np, np.array([1.0, -1.0, 1.5])).tolist()[:2] == [math.inf, -math.inf]
    assert math.isnan(erfinv(np, np.array([1.5]))[0])
