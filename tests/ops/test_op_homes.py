"""Where primitives live: every autograd primitive (an Op subclass) is defined under ember/ops/ and the nn
functions import it from there; the sqrt with gradient 0 at 0 exists once, shared by the 2-norm and cdist."""
import importlib
import importlib.util
import math
import pkgutil

import numpy as np

import ember
from ember.autograd.function import Op
from ember.ops.norms import SafeSqrt, VectorNorm

# Op subclasses outside ember/ops: engine machinery, not primitives, and the module hooks' identity node
# (nn/modules/_hooks.py, which its own issue reworks).
NOT_PRIMITIVES = {("ember.autograd.function", "_DelayedError"), ("ember.nn.modules._hooks", "_HookIdentity")}


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_primitive_lives_under_ember_ops():
    for info in pkgutil.walk_packages(ember.__path__, "ember."):
        if info.name.startswith("ember.utils.tensorboard") and importlib.util.find_spec("tensorboard") is None:
            continue                                            # needs the optional tensorboard package
        if not info.name.startswith("ember.examples"):          # importing ember.examples runs the demo
            importlib.import_module(info.name)
    stray = {(c.__module__, c.__qualname__) for c in _subclasses(Op)
             if c.__module__.startswith("ember.") and not c.__module__.startswith("ember.ops.")}
    assert not stray - NOT_PRIMITIVES, f"Op subclasses outside ember/ops: {sorted(stray - NOT_PRIMITIVES)}"
    from ember.ops import ctc, linear
    assert {"Linear", "Bilinear", "Embedding", "EmbeddingGrad"} <= set(vars(linear)) and "CtcLoss" in vars(ctc)


def _cdist_and_norm(lib):
    x1 = lib.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=lib.float64, requires_grad=True)
    x2 = lib.tensor([[0.0, 0.0], [3.0, 1.0], [1.0, 2.0]], dtype=lib.float64)
    d = lib.cdist(x1, x2, compute_mode="use_mm_for_euclid_dist")
    upstream = lib.ones_like(d)
    upstream[0, 0] = math.nan                                  # a NaN gradient at a zero distance
    (grad_d,) = lib.autograd.grad(d, x1, upstream)
    n = lib.linalg.vector_norm(x1, dim=1)                      # row 0 has norm 0
    (grad_n,) = lib.autograd.grad(n, x1, lib.tensor([math.nan, 1.0], dtype=lib.float64))
    return d, grad_d.numpy(), grad_n.numpy()


def test_safe_sqrt_serves_cdist_and_the_2_norm_is_one_node():
    d, grad_d, grad_n = _cdist_and_norm(ember)
    assert type(d.grad_fn)._op is SafeSqrt and d.grad_fn.name() == "SqrtBackward0"
    n = ember.linalg.vector_norm(ember.ones(2, requires_grad=True))
    # the 2-norm is PyTorch's one node (issue 15), not a SafeSqrt over a sum of squares
    assert type(n.grad_fn)._op is VectorNorm and n.grad_fn.name() == "LinalgVectorNormBackward0"
    # cdist: a zero distance contributes 0 (even its NaN is selected out), the others (x1_i - x2_j) / d_ij
    s10, s5 = math.sqrt(10), math.sqrt(5)
    np.testing.assert_allclose(grad_d, [[-3 / s10 - 1 / s5, -1 / s10 - 2 / s5], [-1 / s5, 3 / s5]], rtol=1e-12)
    # the 2-norm: a NaN gradient at a zero norm leaks (grad * 0), as through PyTorch's norms
    assert np.isnan(grad_n[0]).all()
    np.testing.assert_allclose(grad_n[1], [1 / s5, 2 / s5], rtol=1e-12)


def test_safe_sqrt_matches_torch(torch):
    d, grad_d, grad_n = _cdist_and_norm(ember)
    td, tgrad_d, tgrad_n = _cdist_and_norm(torch)
    np.testing.assert_allclose(d.detach().numpy(), td.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad_d, tgrad_d, rtol=1e-12)
    np.testing.assert_allclose(grad_n, tgrad_n, rtol=1e-12)
