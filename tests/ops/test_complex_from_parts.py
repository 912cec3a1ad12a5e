"""complex(real, imag) and polar(abs, angle) are primitives with PyTorch's nodes (ComplexBackward0 saves the parts
whose gradients it computes, PolarBackward0 its result), PyTorch's argument checks, and parts written in place
(an infinite part stays infinite). The op database compares them with PyTorch on random inputs; these tests pin
the rest, with values worked out by hand where PyTorch is absent."""
import math

import numpy as np
import pytest

import ember


def test_nodes_and_gradients_by_hand():
    r = ember.tensor([2.0, -1.0], dtype=ember.float64, requires_grad=True)
    theta = ember.tensor([math.pi / 6, 0.5], dtype=ember.float64, requires_grad=True)
    z = ember.complex(r, theta)
    assert z.grad_fn.name() == "ComplexBackward0" and z.dtype is ember.complex128
    g = ember.tensor([1 + 2j, -3 + 0.5j], dtype=ember.complex128)
    gr, gi = ember.autograd.grad(z, (r, theta), g)
    assert gr.tolist() == [1.0, -3.0] and gi.tolist() == [2.0, 0.5]
    # polar: d/d abs = real(conj(g) e^(i theta)) for abs > 0, d/d theta = real(conj(g) i z)
    p = ember.polar(r, theta)
    assert p.grad_fn.name() == "PolarBackward0"
    ga, gt = ember.autograd.grad(p, (r, theta), g)
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    assert ga[0].item() == pytest.approx(1 * c + 2 * s, rel=1e-15)
    assert gt[0].item() == pytest.approx(2 * (2 * c) - 1 * (2 * s), rel=1e-15)   # g_im z_re - g_re z_im
    # a negative abs: PyTorch's formula takes sgn(result) = -e^(i theta), so that gradient changes sign
    assert ga[1].item() == pytest.approx(-(-3 * math.cos(0.5) + 0.5 * math.sin(0.5)), rel=1e-15)


def test_parts_are_written_not_multiplied():
    # (inf) * 1j would be nan + inf j: the parts are assigned instead, as PyTorch's kernel does
    z = ember.complex(ember.tensor([0.0, math.inf]), ember.tensor([math.inf, -1.0]))
    assert z.real.tolist() == [0.0, math.inf] and z.imag.tolist() == [math.inf, -1.0]


def test_second_derivatives():
    r = ember.tensor([1.5, 0.7], dtype=ember.float64, requires_grad=True)
    theta = ember.tensor([0.3, -2.0], dtype=ember.float64, requires_grad=True)
    for fn in (ember.complex, ember.polar):
        assert ember.autograd.gradgradcheck(lambda a, b: ember.view_as_real(fn(a, b)), (r, theta))


ARGUMENTS = [
    ("float_double", lambda m: (m.ones(2), m.ones(2, dtype=m.float64))),
    ("long_long", lambda m: (m.ones(2, dtype=m.int64), m.ones(2, dtype=m.int64))),
    ("float_long", lambda m: (m.ones(2), m.ones(2, dtype=m.int64))),
    ("bfloat16", lambda m: (m.ones(2, dtype=m.bfloat16), m.ones(2, dtype=m.bfloat16))),
    ("complex", lambda m: (m.ones(2, dtype=m.complex64), m.ones(2, dtype=m.complex64))),
    ("shapes", lambda m: (m.ones(2), m.ones(3))),
    ("python_float", lambda m: (m.ones(2), 1.0)),
]


@pytest.mark.parametrize("name", ["complex", "polar"])
@pytest.mark.parametrize("case, make", ARGUMENTS, ids=[a[0] for a in ARGUMENTS])
def test_refusals_match_torch(torch, name, case, make):
    outcomes = []
    for m in (ember, torch):
        with pytest.raises((RuntimeError, TypeError)) as info:
            getattr(m, name)(*make(m))
        outcomes.append((info.type, str(info.value)))
    assert outcomes[0][0] is outcomes[1][0]
    if case != "shapes":                           # ember's broadcasting message names the op and both shapes
        assert outcomes[0][1] == outcomes[1][1]


def test_half_precision(torch):
    # ember has no complex32: complex of float16 parts is complex64 (PyTorch's is complex32, same values)
    got = ember.complex(ember.tensor([1.5], dtype=ember.float16), ember.tensor([-2.0], dtype=ember.float16))
    want = torch.complex(torch.tensor([1.5], dtype=torch.float16), torch.tensor([-2.0], dtype=torch.float16))
    assert got.dtype is ember.complex64 and got.tolist() == want.tolist()
    for m in (ember, torch):
        with pytest.raises(NotImplementedError, match="\"polar_cpu\" not implemented for 'Half'"):
            m.polar(m.ones(1, dtype=m.float16), m.ones(1, dtype=m.float16))


@pytest.mark.parametrize("name", ["complex", "polar"])
def test_nodes_and_negative_abs_gradient_match_torch(torch, name):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,))
    g = rng.uniform(-1, 1, (3, 4)) + 1j * rng.uniform(-1, 1, (3, 4))
    found = []
    for m in (ember, torch):
        x, y = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
        out = getattr(m, name)(x, y)
        found.append((out.grad_fn.name(), out.detach().numpy(),
                      [v.numpy() for v in m.autograd.grad(out, (x, y), m.tensor(g))]))
    assert found[0][0] == found[1][0]
    np.testing.assert_allclose(found[0][1], found[1][1], rtol=1e-14)
    for e, t in zip(found[0][2], found[1][2]):
        np.testing.assert_allclose(e, t, rtol=1e-13, atol=1e-15)
