"""autograd.functional: vjp, jvp, jacobian, hessian, vhp, hvp against PyTorch."""
import numpy as np
import pytest

import ember

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
V = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def _convert(value):
    if isinstance(value, tuple):
        return tuple(_convert(v) for v in value)
    return value.detach().numpy()


def _check(torch, program):
    ours, theirs = _convert(program(ember)), _convert(program(torch))

    def same(a, b):
        if isinstance(a, tuple):
            assert isinstance(b, tuple) and len(a) == len(b)
            for p, q in zip(a, b):
                same(p, q)
        else:
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    same(ours, theirs)


def _x(m):
    return m.tensor(X, dtype=m.float64)


def _v(m):
    return m.tensor(V, dtype=m.float64)


def cube_rows(x):
    return (x ** 3).sum(1)


def scalar_pair(x, y):
    return (x * y).exp().sum()


CASES = {
    "vjp": lambda m: m.autograd.functional.vjp(cube_rows, _x(m), m.ones(2, dtype=m.float64)),
    "vjp_tuple_scalar": lambda m: m.autograd.functional.vjp(scalar_pair, (_x(m), _x(m) * 2)),
    "jvp": lambda m: m.autograd.functional.jvp(cube_rows, _x(m), _v(m)),
    "jacobian": lambda m: m.autograd.functional.jacobian(cube_rows, _x(m)),
    "jacobian_tuples": lambda m: m.autograd.functional.jacobian(lambda x, y: (x * y, x.sum()), (_x(m), _x(m) + 1)),
    "jacobian_unused_input": lambda m: m.autograd.functional.jacobian(lambda x, y: x * 2, (_x(m), _x(m))),
    "hessian": lambda m: m.autograd.functional.hessian(lambda x: (x ** 3).sum(), _x(m)),
    "hessian_tuple": lambda m: m.autograd.functional.hessian(scalar_pair, (_x(m), _x(m) * 2)),
    "vhp": lambda m: m.autograd.functional.vhp(lambda x: (x ** 3).sum(), _x(m), _v(m)),
    "hvp": lambda m: m.autograd.functional.hvp(lambda x: (x ** 3).sum(), _x(m), _v(m)),
    "hvp_tuple": lambda m: m.autograd.functional.hvp(scalar_pair, (_x(m), _x(m) * 2), (_v(m), _v(m))),
    "vectorize_accepted": lambda m: m.autograd.functional.jacobian(cube_rows, _x(m), vectorize=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(torch, name):
    _check(torch, CASES[name])


@pytest.mark.parametrize("call", [
    lambda m: m.autograd.functional.jacobian(lambda x, y: x * 2, (_x(m), _x(m)), strict=True),
    lambda m: m.autograd.functional.vjp(cube_rows, _x(m)),
    lambda m: m.autograd.functional.hessian(lambda x: x * 2, _x(m)),
    lambda m: m.autograd.functional.vjp(cube_rows, [1, 2]),
], ids=["strict", "v_required", "hessian_needs_scalar", "not_tensors"])
def test_errors_match_torch(torch, call):
    errors = []
    for m in (ember, torch):
        with pytest.raises((RuntimeError, TypeError)) as info:
            call(m)
        errors.append((type(info.value), str(info.value).replace("torch.", "ember.")))
    assert errors[0][0] is errors[1][0]
    assert errors[0][1].split(" (")[0] == errors[1][1].split(" (")[0] or errors[0][1][:40] == errors[1][1][:40]


def test_create_graph_keeps_results_differentiable(torch):
    def program(m):
        x = _x(m).requires_grad_()
        jac = m.autograd.functional.jacobian(lambda t: t ** 3, x, create_graph=True)
        assert jac.requires_grad
        (second,) = m.autograd.grad(jac.sum(), x)
        plain = m.autograd.functional.jacobian(lambda t: t ** 3, x)
        assert not plain.requires_grad
        _, hv = m.autograd.functional.hvp(lambda t: (t ** 4).sum(), x, _v(m), create_graph=True)
        assert hv.requires_grad
        return second
    _check(torch, program)
