"""docs/RELIABILITY.md rows ERR-1, ERR-2 (tensor parts), ERR-3, NUM-2 and NUM-4 (tensor parts): PyTorch's
exception types, messages that name both operands, nothing modified by a refused op; stable and
well-defined values at the numerically awkward points."""
import math

import numpy as np
import pytest

import ember


def _raises(error, fn, *fragments):
    with pytest.raises(error) as info:
        fn()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"
    return str(info.value)


# --- ERR-1: shapes in broadcasting -------------------------------------------------------------------------

def test_err1_broadcast_names_both_shapes(torch):
    _raises(RuntimeError, lambda: ember.ones(2, 3) + ember.ones(2, 4), "(2, 3)", "(2, 4)")
    _raises(RuntimeError, lambda: ember.ones(5, 1, 3) * ember.ones(4, 2), "(5, 1, 3)", "(4, 2)")
    with pytest.raises(RuntimeError):
        torch.ones(2, 3) + torch.ones(2, 4)


def test_err1_inplace_broadcast_onto_smaller_self(torch):
    x = ember.ones(3)
    message = _raises(RuntimeError, lambda: x.add_(ember.ones(2, 3)))
    assert "3" in message and "2, 3" in message
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version == 0
    with pytest.raises(RuntimeError):
        torch.ones(3).add_(torch.ones(2, 3))
    y = ember.ones(3, requires_grad=True) * 1           # the autograd path refuses it too
    with pytest.raises(RuntimeError):
        y.mul_(ember.ones(2, 3))
    assert y._version == 0


# --- ERR-2: tensor shape errors with both shapes / tensor index / a hint ---------------------------------

def test_err2_matmul_names_both_shapes():
    _raises(RuntimeError, lambda: ember.ones(2, 3) @ ember.ones(4, 5), "(2, 3)", "(4, 5)")
    _raises(RuntimeError, lambda: ember.ones(7, 2, 3) @ ember.ones(3, 3, 5), "(7, 2, 3)", "(3, 3, 5)")
    _raises(RuntimeError, lambda: ember.ones(3) @ ember.ones(4), "3", "4")
    _raises(RuntimeError, lambda: ember.mm(ember.ones(2, 3), ember.ones(4, 2)), "(2, 3)", "(4, 2)")


def test_err2_cat_names_the_tensor_in_the_list():
    message = _raises(RuntimeError, lambda: ember.cat([ember.ones(2, 3), ember.ones(2, 3), ember.ones(2, 4)]),
                      "tensor number 2", "(2, 4)")
    assert "(2, 3)" in message
    _raises(RuntimeError, lambda: ember.stack([ember.ones(2), ember.ones(3)]), "entry 1")


def test_err2_reshape_and_view():
    _raises(RuntimeError, lambda: ember.ones(2, 3).reshape(4), "[4]", "6")
    _raises(RuntimeError, lambda: ember.ones(2, 3).t().view(6), "reshape")
    _raises(RuntimeError, lambda: ember.ones(2, 3).view(-1, 4), "6")


def test_err5_indexing_names_value_and_range():
    _raises(IndexError, lambda: ember.ones(3)[5], "5", "size 3")
    _raises(IndexError, lambda: ember.ones(3, 4)[:, 9], "9", "dimension 1", "size 4")
    _raises(IndexError, lambda: ember.ones(3)[ember.tensor([1, 7])], "7")
    _raises(IndexError, lambda: ember.ones(3).index_select(0, ember.tensor([3])), "3")
    _raises(RuntimeError, lambda: ember.ones(2, 3).gather(1, ember.tensor([[4]])), "4")


# --- ERR-3: dtypes and devices ---------------------------------------------------------------------------

def test_err3_dtypes(torch):
    _raises(RuntimeError, lambda: ember.ones(2, 3) @ ember.ones(3, 2, dtype=ember.float64), "float32", "float64")
    with pytest.raises(RuntimeError):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64)
    x = ember.tensor([1, 2, 3])
    _raises(RuntimeError, lambda: x.add_(0.5), "Float", "Long")
    _raises(RuntimeError, lambda: x.mul_(ember.ones(3)), "Float", "Long")
    assert x.tolist() == [1, 2, 3] and x._version == 0
    _raises(RuntimeError, lambda: ember.ones(2, dtype=ember.bool) - ember.ones(2, dtype=ember.bool), "logical_xor")
    _raises(RuntimeError, lambda: ember.ones(2, dtype=ember.bool) - 1, "~")
    _raises(RuntimeError, lambda: -ember.ones(2, dtype=ember.bool), "~")
    _raises(RuntimeError, lambda: ember.ones(2).dot(ember.ones(2, dtype=ember.float64)), "Float", "Double")


def test_err3_devices():
    message = _raises(RuntimeError, lambda: ember.ones(2) + ember.ones(2, device="meta"), "cpu", "meta")
    assert "same device" in message
    if not ember.cuda.is_available():
        _raises(AssertionError, lambda: ember.ones(2).to("cuda"), "CUDA", "CuPy")   # PyTorch's type
        _raises(AssertionError, lambda: ember.zeros(2, device="cuda:0"), "CUDA")


# --- nothing changes when an op is refused ------------------------------------------------------------------

REFUSED = [
    ("add_ broadcast", lambda x: x.add_(ember.ones(5, 2, 3))),
    ("sub_ dtype", lambda x: x.long().sub_(0.5) if False else x.to(ember.int64).sub_(0.5)),
    ("setitem shape", lambda x: x.__setitem__(0, ember.ones(4))),
    ("setitem index", lambda x: x.__setitem__((0, 7), 1.0)),
    ("setitem mask", lambda x: x.__setitem__(ember.tensor([True, False, True]), 1.0)),
    ("index_put_ range", lambda x: x.index_put_((ember.tensor([9]),), ember.tensor(1.0))),
    ("index_copy_ range", lambda x: x.index_copy_(1, ember.tensor([3]), ember.ones(2, 1))),
    ("scatter_ range", lambda x: x.scatter_(0, ember.tensor([[5, 0, 0]]), 1.0)),
    ("scatter_add_ range", lambda x: x.scatter_add_(1, ember.tensor([[9]]), ember.ones(1, 1))),
    ("masked_fill_ dtype", lambda x: x.masked_fill_(ember.ones(2, 3), 1.0)),
    ("copy_ shape", lambda x: x.copy_(ember.ones(3, 2))),
    ("clamp_ none", lambda x: x.clamp_()),
    ("matmul_ shape", lambda x: x.__imatmul__(ember.ones(2, 2))),
    ("div_ int", lambda x: x.div_(ember.ones(2, 3, device="meta"))),
]


@pytest.mark.parametrize("name, op", REFUSED, ids=[n for n, _ in REFUSED])
def test_refused_ops_change_nothing(name, op):
    x = ember.arange(6.0).reshape(2, 3)
    before, version = x.clone(), x._version
    with pytest.raises((RuntimeError, IndexError)):
        op(x)
    assert ember.equal(x, before) and x._version == version


def test_refused_op_on_view_leaves_base_unchanged():
    base = ember.zeros(3, 4)
    view = base[1]
    with pytest.raises(RuntimeError):
        view.add_(ember.ones(2, 4))
    with pytest.raises(IndexError):
        view[9] = 1.0
    assert base.abs().sum().item() == 0 and base._version == 0


# --- NUM-2: logsumexp ---------------------------------------------------------------------------------------

def _lse(values, requires_grad=False):
    x = ember.tensor(values, requires_grad=requires_grad)
    return x, ember.logsumexp(x, 0)


def test_num2_logsumexp():
    assert _lse([-1000.0, -1000.0])[1].item() == pytest.approx(-999.306824, abs=1e-4)
    out = _lse([-math.inf, -math.inf])[1]
    assert out.item() == -math.inf
    assert _lse([math.inf, 1.0])[1].item() == math.inf
    x, out = _lse([88.8, 89.0, 1e4], requires_grad=True)
    assert out.item() == pytest.approx(10000.0)
    out.backward()
    assert x.grad.tolist() == pytest.approx([0.0, 0.0, 1.0])
    with np.errstate(all="raise"):                     # no overflow/invalid warnings on the way
        x, out = _lse([-math.inf, -math.inf], requires_grad=True)
    assert not math.isnan(out.item())
    x, out = _lse([1000.0, 1000.0], requires_grad=True)
    out.backward()
    assert out.item() == pytest.approx(1000.0 + math.log(2)) and x.grad.tolist() == pytest.approx([0.5, 0.5], abs=1e-4)


def test_num2_logsumexp_matches_torch(torch):
    for values in ([-1000.0, -1000.0], [-math.inf, -math.inf], [math.inf, 1.0], [88.8, 89.0, 1e4], [0.0], [1e30, -1e30]):
        assert np.allclose(ember.logsumexp(ember.tensor(values), 0).item(),
                           torch.logsumexp(torch.tensor(values), 0).item(), equal_nan=True)


# --- NUM-4: subgradients ------------------------------------------------------------------------------------

def _grad(fn, values):
    x = ember.tensor(values, requires_grad=True)
    fn(x).backward()
    return x.grad.tolist()


def test_num4_subgradients(torch):
    assert _grad(lambda x: x.norm(), [0.0, 0.0]) == [0.0, 0.0]
    assert _grad(lambda x: ember.linalg.vector_norm(x), [0.0, 0.0, 0.0]) == [0.0, 0.0, 0.0]
    assert _grad(lambda x: x.max(), [1.0, 3.0, 3.0]) == [0.0, 0.5, 0.5]
    assert _grad(lambda x: x.amax(), [2.0, 2.0]) == [0.5, 0.5]
    assert _grad(lambda x: x.min(), [1.0, 1.0, 3.0]) == [0.5, 0.5, 0.0]
    assert _grad(lambda x: x.abs().sum(), [0.0, -2.0]) == [0.0, -1.0]
    assert _grad(lambda x: x.clamp(min=0.0).sum(), [-1.0, 2.0]) == [0.0, 1.0]
    assert _grad(lambda x: x.clamp(-1.0, 1.0).sum(), [-3.0, 0.5, 3.0]) == [0.0, 1.0, 0.0]
    assert _grad(lambda x: ember.maximum(x, ember.zeros(2)).sum(), [0.0, 1.0]) == [0.5, 1.0]
    assert _grad(lambda x: x.relu().sum(), [0.0, 1.0]) == [0.0, 1.0]
    for fn in (lambda m, x: x.norm(), lambda m, x: x.max(), lambda m, x: x.abs().sum(), lambda m, x: x.amax()):
        e = ember.tensor([0.0, 2.0, 2.0], requires_grad=True)
        t = torch.tensor([0.0, 2.0, 2.0], requires_grad=True)
        fn(ember, e).backward()
        fn(torch, t).backward()
        assert e.grad.tolist() == t.grad.tolist()


def test_num4_sqrt_and_norm_at_zero_have_no_nan():
    x = ember.zeros(3, requires_grad=True)
    ember.linalg.vector_norm(x, dim=0).backward()
    assert not any(math.isnan(v) for v in x.grad.tolist())


def test_inf_and_nan_arrive_silently_as_in_torch():
    # Note [silent floating point]: the filter ember installs at import silences NumPy's floating-point
    # RuntimeWarnings from ember's own code. A fresh interpreter shows it (pytest resets filters added
    # while it collects tests); -W always::RuntimeWarning shows whatever the filter lets through.
    import subprocess
    import sys
    program = """
import numpy as np, ember
x = ember.tensor([1.0, 0.0, -1.0], requires_grad=True)
y = x / 0
z = ember.tensor([1000.0]).exp() * 0
(x.log() + x.sqrt()).sum().backward()
ember.tensor([3.0], dtype=ember.float16) * 1e5
assert ember.isinf(y[0]) and ember.isnan(y[1]) and ember.isnan(z[0])
print("ember done", flush=True)
np.array([1.0]) / 0                        # the user's own NumPy code keeps its warnings
"""
    out = subprocess.run([sys.executable, "-W", "always::RuntimeWarning", "-c", program], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ember done" in out.stdout
    warned = [line for line in out.stderr.splitlines() if "RuntimeWarning" in line]
    user_line = next(i for i, line in enumerate(program.splitlines(), 1) if line.startswith("np.array"))
    assert len(warned) == 1 and f"<string>:{user_line}:" in warned[0], out.stderr
