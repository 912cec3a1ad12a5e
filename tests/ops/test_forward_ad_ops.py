"""Forward-mode AD on every differentiable op of op_db: the tangent of each output equals the central difference
(f(x + e t) - f(x - e t)) / 2e in float64, and, where PyTorch computes it, PyTorch's forward-mode tangent."""
import numpy as np
import pytest

import ember
from ember.autograd import forward_ad
from op_db import OP_CASES
from ops_helpers import ember_input, flat_tensors, torch_input

CASES = [c for c in OP_CASES if c.grad]


def _tangents(arrays, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, a.shape) if a.dtype.kind == "f" else None for a in arrays]


def _float_outputs(out):
    return [t for t in flat_tensors(out) if t.dtype.is_floating_point]


def _ember_jvp(case, arrays, tangents):
    with forward_ad.dual_level():
        inputs = [forward_ad.make_dual(ember_input(a), ember.from_numpy(t)) if t is not None else ember_input(a)
                  for a, t in zip(arrays, tangents)]
        outs = _float_outputs(case.fn(ember, *inputs))
        got = [forward_ad.unpack_dual(o) for o in outs]
        return [(p.detach().numpy().copy(), None if t is None else t.detach().numpy().copy()) for p, t in got]


def _central(case, arrays, tangents, eps=1e-6):
    def at(sign):
        inputs = [ember_input(np.asarray(a + sign * eps * t) if t is not None else a) for a, t in zip(arrays, tangents)]
        return [o.detach().numpy() for o in _float_outputs(case.fn(ember, *inputs))]
    plus, minus = at(1), at(-1)
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


@pytest.mark.parametrize("case", [pytest.param(c, id=str(c)) for c in CASES])
def test_tangents_match_finite_differences(case):
    for sample in case.gradient_samples():
        arrays = case.arrays(sample, "float64")
        tangents = _tangents(arrays)
        got = _ember_jvp(case, arrays, tangents)
        want = _central(case, arrays, tangents)
        assert len(got) == len(want)
        for k, ((primal, tangent), fd) in enumerate(zip(got, want)):
            tangent = np.zeros_like(primal) if tangent is None else tangent
            assert tangent.shape == primal.shape, f"{case} output {k}: tangent shape {tangent.shape}"
            # central differences lose ~1e-10 * |f| / eps to cancellation: a relative tolerance of 1e-3
            np.testing.assert_allclose(tangent, fd, rtol=1e-3, atol=1e-5, err_msg=f"{case} on {sample} output {k}")


@pytest.mark.parametrize("case", [pytest.param(c, id=str(c)) for c in CASES])
def test_tangents_match_torch(torch, case):
    import torch.autograd.forward_ad as tfw
    for sample in case.samples()[:2]:
        arrays = case.arrays(sample, "float64")
        tangents = _tangents(arrays)
        try:
            with tfw.dual_level():
                inputs = [tfw.make_dual(torch_input(torch, a), torch.from_numpy(t)) if t is not None
                          else torch_input(torch, a) for a, t in zip(arrays, tangents)]
                outs = [o for o in flat_tensors(case.fn(torch, *inputs)) if o.dtype.is_floating_point]
                want = [tfw.unpack_dual(o).tangent for o in outs]
                want = [None if w is None else w.detach().numpy().copy() for w in want]
        except (RuntimeError, NotImplementedError):
            continue                                   # PyTorch has no forward rule here: finite differences check
        got = _ember_jvp(case, arrays, tangents)
        fd = _central(case, arrays, tangents)
        for k, ((primal, tangent), w) in enumerate(zip(got, want)):
            tangent = np.zeros_like(primal) if tangent is None else tangent
            w = np.zeros_like(primal) if w is None else w
            if not np.allclose(w, fd[k], rtol=1e-3, atol=1e-5):
                continue                               # PyTorch's own rule is off here (scatter_reduce prod)
            np.testing.assert_allclose(tangent, w, rtol=1e-7, atol=1e-9, err_msg=f"{case} on {sample} output {k}")


@pytest.mark.parametrize("case", [pytest.param(c, id=str(c)) for c in CASES if c.gradgrad])
def test_forward_over_forward_matches_reverse_over_reverse(case):
    """t1' H t2 of a weighted sum of the outputs, by nested jvp (two forward levels) and by double backward."""
    from ember.func import jvp
    sample = case.gradient_samples()[0]
    arrays = case.arrays(sample, "float64")
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    t1, t2 = _tangents(arrays, 1), _tangents(arrays, 2)

    def loss(*xs):
        full = [ember_input(a) for a in arrays]
        for i, x in zip(floats, xs):
            full[i] = x
        outs = _float_outputs(case.fn(ember, *full))
        return sum(((o * (k + 1.5)).sum() for k, o in enumerate(outs)), ember.tensor(0.0, dtype=ember.float64))
    xs = [ember_input(arrays[i]) for i in floats]
    first = [ember.from_numpy(t1[i]) for i in floats]
    second = [ember.from_numpy(t2[i]) for i in floats]
    forward = jvp(lambda *v: jvp(loss, tuple(v), tuple(second))[1], tuple(xs), tuple(first))[1]
    leaves = [x.clone().requires_grad_() for x in xs]
    grads = ember.autograd.grad(loss(*leaves), leaves, create_graph=True, allow_unused=True)
    directional = sum(((g * s).sum() for g, s in zip(grads, second) if g is not None),
                      ember.tensor(0.0, dtype=ember.float64))
    if directional.grad_fn is None:
        reverse = 0.0
    else:
        seconds = ember.autograd.grad(directional, leaves, allow_unused=True)
        reverse = sum((g * f).sum().item() for g, f in zip(seconds, first) if g is not None)
    np.testing.assert_allclose(forward.item(), reverse, rtol=1e-8, atol=1e-10, err_msg=str(case))
