"""nn.utils.prune: masks (random ones under the same seed too), state_dict keys, forward and gradients,
iterative and global pruning, remove, and error messages, against PyTorch and hand-computed values."""
import copy
import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import prune


def _np(t):
    return t.detach().cpu().numpy()


def _prune_mod(lib):
    if lib is ember:
        return prune
    import torch.nn.utils.prune as tprune
    return tprune


def _both(torch, fn):
    """fn(lib, P) run for ember and PyTorch from the same seed."""
    out = []
    for lib in (ember, torch):
        lib.manual_seed(0)
        out.append(fn(lib, _prune_mod(lib)))
    return out


def _assert_same(a, b):
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif hasattr(a, "shape"):
        x, y = np.asarray(_np(a)), np.asarray(_np(b))
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_random_masks_equal_torch_under_seed(torch, seed):
    def run(lib, P):
        lib.manual_seed(seed)
        lin, conv = lib.nn.Linear(7, 5), lib.nn.Conv2d(4, 6, 3)
        P.random_unstructured(lin, "weight", amount=0.4)
        P.random_unstructured(lin, "weight", amount=5)            # composes: only unpruned entries
        P.random_structured(lin, "weight", amount=2, dim=0)
        P.random_unstructured(lin, "bias", amount=1)
        P.random_structured(conv, "weight", amount=0.5, dim=1)
        P.random_structured(conv, "weight", amount=2, dim=-1)
        P.random_unstructured(conv, "weight", amount=0.25)
        return [lin.weight_mask, lin.bias_mask, conv.weight_mask, lin.weight, conv.weight,
                lib.rand(3)]                                      # and the stream stays in step
    e, t = _both(torch, run)
    _assert_same(e, t)
    assert set(np.unique(_np(e[0]))) == {0.0, 1.0}


def test_random_unstructured_counts():
    """Without the oracle: each call prunes exactly its amount of the still-unpruned entries."""
    lin = nn.Linear(10, 10)
    prune.random_unstructured(lin, "weight", amount=0.3)
    assert _np(lin.weight_mask).sum() == 70
    prune.random_unstructured(lin, "weight", amount=0.5)      # half of the 70 left
    assert _np(lin.weight_mask).sum() == 35
    prune.random_structured(lin, "weight", amount=3, dim=1)
    mask = _np(lin.weight_mask)
    assert (mask.sum(0) == 0).sum() >= 3
    assert set(np.unique(mask)) <= {0.0, 1.0}


@pytest.mark.parametrize("n", [1, 2, 3.5, math.inf, -math.inf, "fro", "nuc"])
def test_ln_structured_equals_torch(torch, n):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((6, 4, 3)).astype(np.float32)

    def run(lib, P):
        m = lib.nn.Conv1d(4, 6, 3)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(w))
        dim = 0 if n != "nuc" else 2                   # nuc needs exactly two other dims
        P.ln_structured(m, "weight", amount=0.34, n=n, dim=dim)
        P.ln_structured(m, "weight", amount=1, n=n, dim=dim)
        return [m.weight_mask, m.weight]
    _assert_same(*_both(torch, run))


def test_l1_unstructured_and_importance_scores_equal_torch(torch):
    rng = np.random.default_rng(4)
    w = rng.standard_normal((5, 6)).astype(np.float32)
    scores = rng.standard_normal((5, 6)).astype(np.float32)

    def run(lib, P):
        m = lib.nn.Linear(6, 5)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(w))
        P.l1_unstructured(m, "weight", amount=0.2, importance_scores=lib.tensor(scores))
        P.l1_unstructured(m, "weight", amount=4)
        P.ln_structured(m, "weight", amount=1, n=2, dim=0, importance_scores=lib.tensor(scores))
        P.l1_unstructured(m, "bias", amount=0.0)
        return [m.weight_mask, m.bias_mask, m.weight, type(m._forward_pre_hooks[next(iter(m._forward_pre_hooks))])
                .__name__]
    _assert_same(*_both(torch, run))


def test_l1_hand_values():
    lin = nn.Linear(4, 1, bias=False)
    with ember.no_grad():
        lin.weight.copy_(ember.tensor([[1.0, -5.0, 2.0, 0.5]]))
    prune.l1_unstructured(lin, "weight", amount=2)
    np.testing.assert_array_equal(_np(lin.weight_mask), [[0.0, 1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(_np(lin.weight), [[0.0, -5.0, 2.0, 0.0]])
    prune.l1_unstructured(lin, "weight", amount=0.5)       # half of the 2 left: 2.0 goes
    np.testing.assert_array_equal(_np(lin.weight_mask), [[0.0, 1.0, 0.0, 0.0]])
    assert _np(prune.L1Unstructured(amount=1).prune(ember.tensor([3.0, -1.0, 2.0]))).tolist() == [3.0, 0.0, 2.0]
    assert _np(prune.L1Unstructured(amount=1).prune(ember.tensor([3.0, -1.0, 2.0]),
                                                    importance_scores=ember.tensor([0.0, 5.0, 1.0]))
               ).tolist() == [0.0, -1.0, 2.0]


def test_reparametrization_and_state_dict(torch):
    def run(lib, P):
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
        P.l1_unstructured(m[0], "weight", amount=0.5)
        P.random_unstructured(m[2], "bias", amount=1)
        sd = m.state_dict()
        return [list(sd), [sd[k] for k in sd], [n for n, _ in m.named_parameters()],
                [n for n, _ in m.named_buffers()], type(m[0].weight).__name__, m[0].weight.requires_grad,
                P.is_pruned(m), P.is_pruned(m[1])]
    e, t = _both(torch, run)
    _assert_same(e, t)
    assert e[0] == ["0.bias", "0.weight_orig", "0.weight_mask", "2.weight", "2.bias_orig", "2.bias_mask"]
    assert e[4] == "Tensor" and e[6] and not e[7]


def test_state_dict_from_torch_loads_into_pruned_ember(torch):
    import torch.nn.utils.prune as tprune
    torch.manual_seed(3)
    tm = torch.nn.Linear(4, 3)
    tprune.random_unstructured(tm, "weight", amount=0.5)
    em = nn.Linear(4, 3)
    prune.identity(em, "weight")
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(_np(em(ember.tensor(x))), _np(tm(torch.tensor(x))), rtol=1e-6)
    np.testing.assert_array_equal(_np(em.weight), _np(tm.weight))


def test_forward_and_gradients_equal_torch(torch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)

    def run(lib, P):
        m = lib.nn.Sequential(lib.nn.Conv2d(2, 4, 3), lib.nn.Flatten(), lib.nn.Linear(64, 3))
        P.ln_structured(m[0], "weight", amount=2, n=1, dim=0)
        P.l1_unstructured(m[2], "weight", amount=0.6)
        out = m(lib.tensor(x))
        out.square().sum().backward()
        return [out, m[0].weight_orig.grad, m[2].weight_orig.grad, m[2].bias.grad,
                m[0].weight_mask.grad is None, m[2].weight_mask.requires_grad]
    e, t = _both(torch, run)
    for a, b in zip(e[:4], t[:4]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-4, atol=1e-5)
    assert e[4:] == t[4:] == [True, False]


def test_gradient_through_mask_hand_values():
    """Without the oracle: d(sum(mask * w_orig))/d w_orig is the mask, and training never revives pruned
    weights."""
    lin = nn.Linear(3, 2, bias=False)
    prune.custom_from_mask(lin, "weight", mask=ember.tensor([[1, 0, 1], [0, 0, 1]]))
    lin(ember.ones(1, 3)).sum().backward()
    np.testing.assert_array_equal(_np(lin.weight_orig.grad), [[1, 0, 1], [0, 0, 1]])
    opt = ember.optim.SGD(lin.parameters(), lr=0.5)
    opt.step()
    lin(ember.ones(1, 3))
    assert _np(lin.weight)[0, 1] == 0 and _np(lin.weight)[1, 0] == 0
    assert [n for n, _ in lin.named_parameters()] == ["weight_orig"]


def test_remove_equals_torch(torch):
    def run(lib, P):
        m = lib.nn.Linear(5, 3)
        P.random_unstructured(m, "weight", amount=0.4)
        P.l1_unstructured(m, "weight", amount=2)
        P.l1_unstructured(m, "bias", amount=1)
        orig = m.weight_orig
        P.remove(m, "weight")
        sd = m.state_dict()
        out = [list(sd), sd["weight"], type(m.weight).__name__, m.weight is orig, m.weight.requires_grad,
               len(m._forward_pre_hooks), P.is_pruned(m)]
        P.remove(m, "bias")
        out += [list(m.state_dict()), P.is_pruned(m)]
        return out
    e, t = _both(torch, run)
    _assert_same(e, t)
    assert e[0] == ["bias_orig", "weight", "bias_mask"] and e[2] == "Parameter" and e[3]
    assert (_np(e[1]) == 0).sum() == 8 and e[-2] == ["weight", "bias"] and not e[-1]


def test_global_unstructured_equals_torch(torch):
    def run(lib, P):
        net = lib.nn.Sequential(lib.nn.Linear(6, 4), lib.nn.Linear(4, 3), lib.nn.Conv1d(2, 3, 2))
        params = [(net[0], "weight"), (net[1], "weight"), (net[2], "weight"), (net[0], "bias")]
        P.global_unstructured(params, pruning_method=P.L1Unstructured, amount=0.4)
        P.global_unstructured(params, pruning_method=P.L1Unstructured, amount=7)
        scores = {(net[1], "weight"): lib.ones(3, 4)}
        P.global_unstructured(params, pruning_method=P.RandomUnstructured, importance_scores=scores, amount=3)
        masks = [net[0].weight_mask, net[1].weight_mask, net[2].weight_mask, net[0].bias_mask]
        return masks + [sum(int(m.sum()) for m in masks), type(net[0]._forward_pre_hooks[
            next(iter(net[0]._forward_pre_hooks))]).__name__]
    e, t = _both(torch, run)
    _assert_same(e, t)
    total = 24 + 12 + 12 + 4
    assert e[4] == total - round(0.4 * total) - 7 - 3 and e[5] == "PruningContainer"


def test_global_unstructured_hand_values():
    a, b = nn.Linear(2, 1, bias=False), nn.Linear(3, 1, bias=False)
    with ember.no_grad():
        a.weight.copy_(ember.tensor([[0.1, -3.0]]))
        b.weight.copy_(ember.tensor([[2.0, -0.2, 0.05]]))
    prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured, amount=3)
    np.testing.assert_array_equal(_np(a.weight_mask), [[0.0, 1.0]])
    np.testing.assert_array_equal(_np(b.weight_mask), [[1.0, 0.0, 0.0]])
    assert isinstance(next(iter(a._forward_pre_hooks.values())), prune.CustomFromMask)


def test_custom_from_mask_and_identity_equal_torch(torch):
    def run(lib, P):
        m = lib.nn.Linear(3, 3)
        P.identity(m, "weight")
        P.custom_from_mask(m, "bias", mask=lib.tensor([0, 1, 0]))
        P.custom_from_mask(m, "bias", mask=lib.tensor([True, False, True]))
        P.custom_from_mask(m, "weight", mask=lib.eye(3))
        return [m.weight_mask, m.bias_mask, m.bias, m.weight, list(m.state_dict()),
                len(m._forward_pre_hooks[list(m._forward_pre_hooks)[-1]])]
    e, t = _both(torch, run)
    _assert_same(e, t)
    np.testing.assert_array_equal(_np(e[1]), [0.0, 0.0, 0.0])


def test_pruning_container_api(torch):
    for lib in (ember, torch):
        P = _prune_mod(lib)
        m = lib.nn.Linear(4, 4)
        P.l1_unstructured(m, "weight", amount=2)
        P.random_structured(m, "weight", amount=1, dim=0)
        P.l1_unstructured(m, "weight", amount=1)
        hook = next(h for h in m._forward_pre_hooks.values())
        assert isinstance(hook, P.PruningContainer) and len(hook) == 3
        assert [type(h).__name__ for h in hook] == ["L1Unstructured", "RandomStructured", "L1Unstructured"]
        assert hook[1].dim == 0 and hook._tensor_name == "weight"
        with pytest.raises(ValueError, match=r"Can only add pruning methods acting on the parameter named "
                                             r"'weight' to PruningContainer .* Found 'bias'"):
            other = P.Identity()
            other._tensor_name = "bias"
            hook.add_pruning_method(other)
        with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
            hook.add_pruning_method(3)
        with pytest.raises(TypeError, match="Can't instantiate abstract class BasePruningMethod"):
            P.BasePruningMethod()

        class NoDim(P.BasePruningMethod):
            PRUNING_TYPE = "structured"

            def compute_mask(self, t, default_mask):
                return default_mask

        class Odd(NoDim):
            PRUNING_TYPE = "odd"
        for cls, exc, msg in ((NoDim, AttributeError, "need to have the attribute `dim` defined"),
                              (Odd, ValueError, "Unrecognized PRUNING_TYPE odd")):
            pruned = lib.nn.Linear(2, 2)
            P.identity(pruned, "weight")
            with pytest.raises(exc, match=msg):
                cls.apply(pruned, "weight")
            # as in PyTorch, a failed later pruning keeps the reparametrization but has dropped the hook
            assert "weight_orig" in dict(pruned.named_parameters()) and not P.is_pruned(pruned)
        # the custom method's own apply prunes the tensor on its own
        n = lib.nn.Linear(2, 2)
        NoDim.apply(n, "weight")
        assert isinstance(next(iter(n._forward_pre_hooks.values())), NoDim)


def test_errors_match_torch(torch):
    for lib in (ember, torch):
        P = _prune_mod(lib)
        m = lib.nn.Linear(3, 2)
        with pytest.raises(TypeError, match="Invalid type for amount: a. Must be int or float."):
            P.l1_unstructured(m, "weight", amount="a")
        for amount in (-1, 1.5, -0.1):
            with pytest.raises(ValueError, match=f"amount={amount} should either be a float in the range \\[0, 1\\] "
                                                 "or a non-negative integer"):
                P.random_unstructured(m, "weight", amount=amount)
        with pytest.raises(ValueError, match="amount=7 should be smaller than the number of parameters to prune=6"):
            P.l1_unstructured(m, "weight", amount=7)
        # a failed first pruning leaves the module as it was
        assert [n for n, _ in m.named_parameters()] == ["bias", "weight"] and not P.is_pruned(m)
        with pytest.raises(ValueError, match=r"Structured pruning can only be applied to multidimensional tensors. "
                                             r"Found tensor of shape .*\[2\]\) with 1 dims"):
            P.random_structured(m, "bias", amount=1, dim=0)
        with pytest.raises(IndexError, match=r"Invalid index 2 for tensor of size .*\[2, 3\]\)"):
            P.ln_structured(m, "weight", amount=1, n=2, dim=2)
        with pytest.raises(AssertionError, match=r"importance_scores should have the same shape as parameter weight "
                                                 r"of Linear\(in_features=3, out_features=2, bias=True\), got"):
            P.l1_unstructured(m, "weight", amount=1, importance_scores=lib.ones(3))
        with pytest.raises(ValueError, match=r"Parameter 'weight' of module Linear\(in_features=3, out_features=2, "
                                             r"bias=True\) has to be pruned before pruning can be removed"):
            P.remove(m, "weight")
        with pytest.raises(AssertionError, match="default_mask shape .* must match self.mask shape"):
            P.custom_from_mask(m, "bias", mask=lib.ones(3))
        with pytest.raises(TypeError, match="global_unstructured\\(\\): parameters is not an Iterable"):
            P.global_unstructured(5, P.L1Unstructured, amount=1)
        with pytest.raises(TypeError, match="global_unstructured\\(\\): importance_scores must be of type dict"):
            P.global_unstructured([(m, "weight")], P.L1Unstructured, importance_scores=[1], amount=1)
        with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                                            "Found method .*RandomStructured.* of type structured"):
            P.global_unstructured([(m, "weight")], P.RandomStructured, amount=1)
        with pytest.raises(AssertionError, match="importance_scores should have the same shape as tensor t"):
            P.L1Unstructured(1).prune(lib.ones(3), importance_scores=lib.ones(2))
        with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
            P.ln_structured(lib.nn.Conv2d(1, 2, 2), "weight", amount=1, n="nuc", dim=0)


def test_rounding_of_fractional_amounts(torch):
    """A fraction is rounded half to even (Python's round), as PyTorch does: 0.5 of 5 prunes 2, of 7 prunes 4."""
    for lib in (ember, torch):
        P = _prune_mod(lib)
        for size, expected in ((5, 2), (7, 4), (3, 2)):
            m = lib.nn.Linear(size, 1, bias=False)
            P.l1_unstructured(m, "weight", amount=0.5)
            assert int((m.weight_mask == 0).sum()) == expected


def test_deepcopy_and_hook_recompute(torch):
    for lib in (ember, torch):
        lin = lib.nn.Linear(4, 2)
        _prune_mod(lib).l1_unstructured(lin, "weight", amount=3)
        # module.weight is a non-leaf tensor: deepcopy refuses it, in PyTorch too
        with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
            copy.deepcopy(lin)
    lin = nn.Linear(4, 2)
    prune.l1_unstructured(lin, "weight", amount=3)
    with ember.no_grad():
        lin.weight_orig.fill_(2.0)
    assert _np(lin.weight).max() != 2.0
    lin(ember.ones(1, 4))                              # the pre-hook recomputes weight from weight_orig
    np.testing.assert_array_equal(_np(lin.weight), 2.0 * _np(lin.weight_mask))
    import torch.nn.utils.prune as tprune
    assert all(callable(getattr(tprune, name)) for name in prune.__all__)


def test_gradcheck_through_pruned_weight():
    """float64 finite differences through mask * weight_orig (the pruned units get zero gradient)."""
    lin = nn.Linear(3, 2).double()
    prune.l1_unstructured(lin, "weight", amount=2)
    x = ember.randn(4, 3, dtype=ember.float64)

    def f(w_orig):
        return ember.nn.functional.linear(x, lin.weight_mask * w_orig, lin.bias)
    w = lin.weight_orig.detach().clone().requires_grad_(True)
    assert ember.autograd.gradcheck(f, (w,))
    lin(x).sum().backward()
    grad = _np(lin.weight_orig.grad)
    assert (grad[_np(lin.weight_mask) == 0] == 0).all() and (grad[_np(lin.weight_mask) == 1] != 0).all()


def test_tied_scores_prune_the_requested_count():
    """With equal magnitudes the count is exact; which tied units go is the order topk gives (PyTorch leaves
    the order of ties unspecified)."""
    bn = nn.BatchNorm1d(6)                             # weight all ones
    prune.l1_unstructured(bn, "weight", amount=4)
    assert _np(bn.weight_mask).sum() == 2
    prune.ln_structured(nn.Conv1d(2, 4, 1), "weight", amount=2, n=1, dim=0)
