"""The batching rules of ember/_vmap_rules_math.py (elementwise, linear algebra, special functions, reductions):
vmap with unbatched operands (in_dims None), operands of different ranks and nested vmaps equals PyTorch's
torch.func.vmap and ember's per-sample loop, and runs without the per-element fallback."""
import warnings

import numpy as np
import pytest

import ember
import ember.special  # noqa: F401  (imported before vmap swaps the op entry points; see the report)
from ember._vmap import _FALLEN_BACK

B = 3


def _pd(m, x):
    return x @ x.mT + m.eye(x.shape[-1], dtype=x.dtype) * x.shape[-1]


# (id, op name as the loop fallback would name it, fn(m, *xs), element shapes, in_dims)
CASES = [
    ("ldexp_unbatched_exp", "ldexp", lambda m, x, e: m.ldexp(x, e), [(2, 3), (3,)], (0, None)),
    ("polar_rank", "polar", lambda m, r, t: m.polar(r, t).abs(), [(3,), (2, 3)], (0, 0)),
    ("xlogy_", "xlogy_", lambda m, x, y: x.clone().abs().xlogy_(y.abs() + 0.1), [(2, 3), (3,)], (0, None)),
    ("special_zeta", "special_zeta", lambda m, x, q: m.special.zeta(x.abs() + 1.5, q.abs() + 0.5), [(3,), (2, 3)],
     (None, 0)),
    ("special_logsumexp", "special_logsumexp", lambda m, x: m.special.logsumexp(x, (0, 2)), [(2, 3, 4)], (1,)),
    ("frexp", "frexp", lambda m, x: m.frexp(x * 100), [(2, 3)], (0,)),
    ("det", "det", lambda m, x: m.det(x), [(2, 3, 3)], (2,)),
    ("slogdet", "linalg_slogdet", lambda m, x: m.linalg.slogdet(x), [(3, 3)], (0,)),
    ("solve_vector", "linalg_solve", lambda m, a, b: m.linalg.solve(_pd(m, a), b), [(3, 3), (3,)], (None, 0)),
    ("solve_matrix_unbatched_b", "linalg_solve", lambda m, a, b: m.linalg.solve(_pd(m, a), b), [(3, 3), (3, 3)],
     (0, None)),
    ("solve_ranks", "linalg_solve", lambda m, a, b: m.linalg.solve(_pd(m, a), b), [(2, 3, 3), (3, 2)], (0, 0)),
    ("cholesky_solve", "cholesky_solve", lambda m, b, a: m.cholesky_solve(b, m.linalg.cholesky(_pd(m, a))),
     [(3, 2), (2, 3, 3)], (0, None)),
    ("solve_triangular", "linalg_solve_triangular",
     lambda m, a, b: m.linalg.solve_triangular(a.triu() + m.eye(3, dtype=a.dtype) * 4, b, upper=True),
     [(3, 3), (2, 3, 2)], (0, 0)),
    ("diagonal_dims", "diagonal", lambda m, x: x.diagonal(1, 2, 0), [(3, 2, 4)], (1,)),
    ("diag_embed", "diag_embed", lambda m, x: m.diag_embed(x, -1, 2, 0), [(2, 3)], (0,)),
    ("trace", "trace", lambda m, x: m.trace(x), [(3, 4)], (1,)),
    ("tril_", "tril_", lambda m, x: x.clone().tril_(-1), [(3, 4)], (0,)),
    ("matrix_norm", "linalg_matrix_norm", lambda m, x: m.linalg.matrix_norm(x, "nuc", dim=(2, 0)), [(3, 2, 4)],
     (0,)),
    ("vector_norm_0d", "linalg_vector_norm", lambda m, x: m.linalg.vector_norm(x, 3, keepdim=True), [()], (0,)),
    ("norm_keepdim", "linalg_norm", lambda m, x: m.linalg.norm(x, keepdim=True), [(2, 3, 2)], (0,)),
    ("norm_ord_matrix", "linalg_norm", lambda m, x: m.linalg.norm(x, 1), [(3, 4)], (0,)),
    ("multi_dot", "linalg_multi_dot", lambda m, a, b, c: m.linalg.multi_dot([a, b, c]), [(3,), (3, 4), (4,)],
     (0, None, 0)),
    ("addmm_unbatched_input", "addmm", lambda m, x, a, b: m.addmm(x, a, b, beta=0.5, alpha=2),
     [(3, 5), (3, 4), (4, 5)], (None, 0, None)),
    ("addmv", "addmv", lambda m, x, a, v: m.addmv(x, a, v), [(), (3, 4), (4,)], (0, None, 0)),
    ("addr", "addr", lambda m, x, a, b: m.addr(x, a, b, alpha=3), [(3, 4), (3,), (4,)], (None, 0, 0)),
    ("baddbmm", "baddbmm", lambda m, x, a, b: m.baddbmm(x, a, b), [(5,), (2, 3, 4), (2, 4, 5)], (0, None, 0)),
    ("addbmm", "addbmm", lambda m, x, a, b: m.addbmm(x, a, b, beta=2), [(3, 5), (2, 3, 4), (2, 4, 5)], (0, 0, 0)),
    ("inner_unbatched", "inner", lambda m, a, b: m.inner(a, b), [(2, 4), (3, 5, 4)], (None, 0)),
    ("tensordot_both", "tensordot", lambda m, a, b: m.tensordot(a, b, ([0, 2], [2, 0])), [(2, 3, 4), (4, 5, 2)],
     (0, 0)),
    ("tensordot_b", "tensordot", lambda m, a, b: m.tensordot(a, b, 1), [(2, 3), (3, 5)], (None, 1)),
    ("einsum_ellipsis", "einsum", lambda m, a, b: m.einsum("...ij,jk", a, b), [(2, 3, 4), (4, 5)], (0, None)),
    ("einsum_implicit", "einsum", lambda m, a, b: m.einsum("ba,ca", a, b), [(3, 4), (5, 4)], (0, 0)),
    ("kron_both", "kron", lambda m, a, b: m.kron(a, b), [(2,), (3, 2)], (0, 0)),
    ("kron_b", "kron", lambda m, a, b: m.kron(a, b), [(2, 3), (3,)], (None, 0)),
    ("linalg_cross", "linalg_cross", lambda m, a, b: m.linalg.cross(a, b, dim=0), [(3, 2), (3, 1)], (0, None)),
    ("vecdot", "linalg_vecdot", lambda m, a, b: m.linalg.vecdot(a, b, dim=0), [(4, 3), (4, 1)], (0, 1)),
    ("aminmax", "aminmax", lambda m, x: m.aminmax(x, dim=0, keepdim=True), [(3, 4)], (1,)),
    ("median_all", "median", lambda m, x: m.median(x), [(3, 4)], (0,)),
    ("var_mean_all", "var_mean", lambda m, x: m.var_mean(x, correction=0), [(3, 4)], (0,)),
    ("quantile_q", "quantile", lambda m, x: m.quantile(x, m.tensor([0.2, 0.7], dtype=x.dtype), keepdim=True),
     [(3, 4)], (0,)),
    ("quantile_dim", "quantile", lambda m, x: m.quantile(x, m.tensor([0.2, 0.7], dtype=x.dtype), 0), [(3, 4)],
     (0,)),
    ("trapezoid_x", "trapezoid", lambda m, y, x: m.trapezoid(y, x.cumsum(0), dim=0), [(3, 4), (3,)], (0, 0)),
    ("cumulative_trapezoid", "cumulative_trapezoid", lambda m, y, x: m.cumulative_trapezoid(y, x, dim=-2),
     [(3, 4), (3, 4)], (0, None)),
    ("diff_prepend", "diff", lambda m, x, p: m.diff(x, 2, 0, prepend=p), [(3, 4), (2, 4)], (0, None)),
    ("dist", "dist", lambda m, a, b: m.dist(a, b, 3), [(2, 3), (3,)], (0, 0)),
    ("cov", "cov", lambda m, x: m.cov(x, correction=0), [(2, 5)], (0,)),
    ("corrcoef", "corrcoef", lambda m, x: m.corrcoef(x), [(3, 5)], (0,)),
    ("renorm", "renorm", lambda m, x: m.renorm(x, 2, 1, 0.5), [(2, 3, 4)], (0,)),
    ("renorm_", "renorm_", lambda m, x: x.clone().renorm_(1, 0, 0.5), [(3, 4)], (0,)),
    ("vander", "vander", lambda m, x: m.vander(x, 3), [(4,)], (0,)),
    ("tensorinv", "linalg_tensorinv", lambda m, x: m.linalg.tensorinv(_pd(m, x).reshape(2, 3, 6), ind=2), [(6, 6)],
     (0,)),
    ("matrix_rank", "linalg_matrix_rank", lambda m, x: m.linalg.matrix_rank(x[..., :2] @ x[..., :2].mT), [(2, 4, 4)],
     (0,)),
    ("eigh", "linalg_eigh", lambda m, x: m.linalg.eigh(x + x.mT).eigenvalues, [(4, 4)], (1,)),
    ("pinv", "linalg_pinv", lambda m, x: m.linalg.pinv(x), [(3, 4)], (0,)),
    ("tensorsolve", "linalg_tensorsolve", lambda m, a, b: m.linalg.tensorsolve(_pd(m, a).reshape(6, 2, 3), b),
     [(6, 6), (6,)], (0, None)),
]


def _inputs(shapes, in_dims, seed):
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, d in zip(shapes, in_dims):
        a = rng.uniform(-1, 1, shape if d is None else (B,) + tuple(shape))
        arrays.append(a if d is None else np.moveaxis(a, 0, d))
    return arrays


def _flat(value):
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    return [value]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule_matches_the_loop_and_torch(case):
    _, op, fn, shapes, in_dims = case
    arrays = _inputs(shapes, in_dims, 0)
    _FALLEN_BACK.discard("aten::" + op)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = _flat(ember.func.vmap(lambda *xs: fn(ember, *xs), in_dims)(*[ember.tensor(a) for a in arrays]))
        per_sample = [_flat(fn(ember, *[ember.tensor(a if d is None else np.take(a, k, d))
                                       for a, d in zip(arrays, in_dims)])) for k in range(B)]
    assert "aten::" + op not in _FALLEN_BACK, f"{op} ran element by element"
    for k, g in enumerate(got):
        want = np.stack([s[k].numpy() for s in per_sample])
        assert g.dtype == per_sample[0][k].dtype
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-10, atol=1e-12)
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = _flat(torch.func.vmap(lambda *xs: fn(torch, *xs), in_dims)(
                *[torch.tensor(a) for a in arrays]))
        except RuntimeError:                  # an op torch's vmap does not batch: the loop is the reference
            expected = None
    if expected is not None:
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-9, atol=1e-12)


def test_in_place_variants_write_each_element():
    x = ember.tensor([[0.5, 2.0], [1.5, 3.0]], dtype=ember.float64)
    y = x.clone()
    ember.func.vmap(lambda t: t.lgamma_())(y)
    np.testing.assert_allclose(y.numpy(), np.array([[0.5723649429247001, 0.0], [-0.12078223763524522,
                                                                              0.6931471805599453]]), rtol=1e-12)


def test_trace_of_each_element_without_torch():
    x = ember.arange(18.0, dtype=ember.float64).reshape(2, 3, 3)
    np.testing.assert_array_equal(ember.func.vmap(lambda t: ember.trace(t))(x).numpy(), [12.0, 39.0])


def test_nested_vmap_of_det_and_addmm():
    rng = np.random.default_rng(1)
    a = ember.tensor(rng.uniform(-1, 1, (2, 3, 4, 4)))
    got = ember.func.vmap(ember.func.vmap(lambda t: ember.det(t)))(a)
    np.testing.assert_allclose(got.numpy(), np.linalg.det(a.numpy()), rtol=1e-12)
    x, m1, m2 = (ember.tensor(rng.uniform(-1, 1, s)) for s in ((2, 3, 4, 5), (3, 4, 6), (2, 6, 5)))
    out = ember.func.vmap(ember.func.vmap(lambda i, p, q: ember.addmm(i, p, q), (0, 0, None)), (0, None, 0))(x, m1, m2)
    want = x.numpy() + m1.numpy()[None] @ m2.numpy()[:, None]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)


def test_invalid_element_shapes_raise_the_ops_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="mat1 and mat2|cannot be multiplied|shapes"):
            ember.func.vmap(lambda a, b: ember.addmm(ember.zeros(3, 5), a, b))(ember.ones(2, 3, 4), ember.ones(2, 3, 5))
        with pytest.raises(RuntimeError, match="trace: expected a matrix"):
            ember.func.vmap(lambda t: ember.trace(t))(ember.ones(2, 3))
