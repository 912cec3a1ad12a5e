"""Each op saves for backward exactly what PyTorch saves (issue 12).

PyTorch's backward node of an op keeps some of its inputs and/or outputs (grad_fn._saved_*); modifying one
of those in place after the op makes backward raise "one of the variables needed for gradient computation
has been modified by an inplace operation", and modifying anything else is allowed. ember must raise in
exactly the same cases: saving less lets wrong gradients through, saving more refuses valid programs.

For every differentiable case of the op database (op_db.py, cases_*.py) this modifies, under no_grad and
after the op, each input and then each output in turn, runs backward, and compares the outcome with
PyTorch's: with every input requiring grad, and (multi-input cases) with one input at a time requiring
grad, since PyTorch saves only what the gradients it has to compute use.
"""
import warnings

import numpy as np
import pytest

import ember
from op_db import OP_CASES

_CASES = []
_seen = set()
for _case in OP_CASES:
    if _case.grad and str(_case) not in _seen and _case.gradient_samples():
        _seen.add(str(_case))
        _CASES.append(_case)


def _outcome(m, case, arrays, grad_mask, where, k):
    """'ok', 'modified' or another error, after modifying input/output k; None when there is no such one."""
    inputs = []
    for a, needs in zip(arrays, grad_mask):
        x = m.tensor(a.copy(), dtype=m.float64, requires_grad=needs)
        inputs.append(x * 1 if needs else x)       # a non-leaf: modifying it in place is allowed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = case.fn(m, *inputs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(o, m.Tensor)]
    loss_terms = [o for o in outs if o.requires_grad]
    targets = inputs if where == "input" else outs
    if k >= len(targets) or not loss_terms:
        return None
    try:
        with m.no_grad():
            t = targets[k]
            if t.dtype == m.bool:
                t.logical_not_()
            else:
                t.add_(1)
        sum(o.sum() for o in loss_terms).backward()
    except RuntimeError as e:
        return "modified" if "modified by an inplace operation" in str(e) else f"error: {str(e)[:80]}"
    return "ok"


def _torch_backward_works(torch, case, arrays, grad_mask):
    """PyTorch's own backward runs without any modification (vander's raises in 2.13: nothing to compare)."""
    inputs = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=n) for a, n in zip(arrays, grad_mask)]
    inputs = [x * 1 if n else x for x, n in zip(inputs, grad_mask)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = case.fn(torch, *inputs)
        outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
                if isinstance(o, torch.Tensor) and o.requires_grad]
        if outs:
            sum(o.sum() for o in outs).backward()
    except Exception:
        return False
    return True


def _grad_masks(n):
    masks = [(True,) * n]
    if n > 1:
        masks += [tuple(i == j for j in range(n)) for i in range(n)]
    return masks


def _divergences(torch, case):
    arrays = case.arrays(case.gradient_samples()[0], "float64")
    found = []
    for mask in _grad_masks(len(arrays)):
        if not _torch_backward_works(torch, case, arrays, mask):
            continue
        for where in ("input", "output"):
            k = 0
            while True:
                want = _outcome(torch, case, arrays, mask, where, k)
                if want is None:
                    break
                got = _outcome(ember, case, arrays, mask, where, k)
                if got != want:
                    found.append(f"requires_grad={mask} modify {where} {k}: ember {got}, torch {want}")
                k += 1
    return found


@pytest.mark.parametrize("case", _CASES, ids=str)
def test_saves_what_pytorch_saves(torch, case):
    found = _divergences(torch, case)
    assert not found, f"{case}:\n" + "\n".join(found)


# --- without torch: the rule on a few ops, with PyTorch's outcome written down ---------------------------

def _raises_modified(fn):
    try:
        fn()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
        return True
    return False


def _modify_then_backward(m, make, modify):
    x = m.tensor([[0.3, -1.2, 2.0], [0.7, 1.5, -0.4]], dtype=m.float64, requires_grad=True) * 1
    out = make(m, x)
    with m.no_grad():
        (x if modify == "input" else out).add_(1)
    return lambda: out.sum().backward()


EXPECTED = [  # (name, op, what is modified, PyTorch raises)
    ("max_pool1d output (saves indices)", lambda m, x: m.nn.functional.max_pool1d(x[None], 2), "output", False),
    ("max_pool1d input", lambda m, x: m.nn.functional.max_pool1d(x[None], 2), "input", True),
    ("conv1d input", lambda m, x: m.conv1d(x[None], m.ones(1, 2, 2, dtype=m.float64)), "input", True),
    ("remainder by a scalar input", lambda m, x: x % 1.5, "input", False),
    ("svd input (saves U, S, Vh)", lambda m, x: m.linalg.svd(x)[1], "input", False),
    ("svdvals output", lambda m, x: m.linalg.svdvals(x), "output", True),
    ("logaddexp input", lambda m, x: m.logaddexp(x, x.detach()), "input", True),
    ("erfinv output (saves the input)", lambda m, x: m.erfinv(x / 3), "output", False),
    ("sgn output", lambda m, x: m.sgn(x), "output", True),
    ("norm 1 output", lambda m, x: m.norm(x, 1), "output", True),
    ("kron input", lambda m, x: m.kron(x, x.detach()), "input", False),
]


@pytest.mark.parametrize("name, make, modify, raises", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_saved_values_without_torch(name, make, modify, raises):
    assert _raises_modified(_modify_then_backward(ember, make, modify)) is raises
    try:
        import torch
    except ImportError:
        return
    assert _raises_modified(_modify_then_backward(torch, make, modify)) is raises     # the expectation holds


def test_saved_index_output_is_version_checked():
    # max(dim) saves its indices: modifying them in place is caught, modifying the values is not
    x = ember.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    values, indices = x.max(1)
    with ember.no_grad():
        values.add_(1)
    values.sum().backward()
    values, indices = x.max(1)
    with ember.no_grad():
        indices.zero_()
    assert _raises_modified(lambda: values.sum().backward())
