"""Generic checks run on every OpCase in op_db: forward vs PyTorch (values and dtype, every dtype,
0-d/empty/broadcast/non-contiguous inputs), gradients vs finite differences and vs PyTorch's
backward, second derivatives, error parity, and a coverage test."""
import re

import numpy as np
import pytest

import ember
from ember.ops._registry import METHODS, PUBLIC
from op_db import ERROR_CASES, FLOAT, OP_CASES
from ops_helpers import (assert_same, check_gradients, differentiable_outputs, ember_gradcheck, ember_input,
                         torch_input, weighted_loss, weights_like)

# Ops ember composes from other primitives (STYLE.md principle 1), so their grad_fn is the last
# primitive's node rather than a dedicated one; values and gradients are still checked above.
COMPOSITES = {
    # composites whose last node is one PyTorch names otherwise (StackBackward0, MulBackward1, SqueezeBackward4)
    "combinations", "trapezoid", "trapz", "cumulative_trapezoid", "quantile", "nanquantile",
    "conv_transpose1d", "conv_transpose3d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d",
    "adaptive_max_pool1d", "addcmul", "hypot", "var_mean", "std_mean", "norm", "vector_norm", "linalg.norm",
    "linalg.matrix_norm", "median-dim", "median-keepdim", "sort", "msort", "topk", "kthvalue", "vdot",
    "inner", "mv", "addmm", "addmv", "addr", "baddbmm", "addbmm", "einsum", "tensordot", "trace", "repeat",
    "tile", "repeat_interleave", "diag", "diag_embed", "block_diag", "masked_select", "take", "setitem",
    "copy_", "addmm_", "aminmax", "nanmean", "nansum", "roll", "softmax", "log_softmax", "cumsum", "matmul",
    "div-int_scalar", "div-rdiv", "max-keepdim", "getitem-empty_tuple",
}

FORWARD = [pytest.param(case, dtype, id=f"{case}-{dtype}") for case in OP_CASES for dtype in case.dtypes]
GRAD_CASES = [c for c in OP_CASES if c.grad]
GRAD_PARAMS = [pytest.param(c, id=str(c), marks=[pytest.mark.xfail(reason=c.xfail)] if c.xfail else [])
               for c in GRAD_CASES]


def _run_both(torch, case, arrays, requires_grad=False):
    """(ember result, torch result, ember inputs, torch inputs); a torch error must be an ember error too."""
    e_in = [ember_input(a.copy() if a.flags.c_contiguous else a, requires_grad) for a in arrays]
    t_in = [torch_input(torch, a.copy() if a.flags.c_contiguous else a, requires_grad) for a in arrays]
    try:
        want = case.fn(torch, *t_in)
    except Exception as torch_error:
        with pytest.raises(type(torch_error)):
            case.fn(ember, *e_in)
        return None, None, e_in, t_in
    got = case.fn(ember, *e_in)
    return got, want, e_in, t_in


@pytest.mark.parametrize("case, dtype", FORWARD)
def test_forward_matches_torch(torch, case, dtype):
    for sample in case.samples():
        got, want, _, _ = _run_both(torch, case, case.arrays(sample, dtype))
        if want is not None:
            assert_same(got, want, case.rtol, case.atol, path=f"{case} on {sample} {dtype}")


@pytest.mark.parametrize("case", [c for c in OP_CASES if c.noncontig], ids=str)
@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_noncontiguous_matches_torch(torch, case, layout):
    dtype = "float64" if "float64" in case.dtypes else case.dtypes[0]
    for sample in case.samples():
        arrays = case.arrays(sample, dtype, layout)
        try:                              # torch itself refuses some strided inputs (e.g. kron's views)
            case.fn(torch, *[torch_input(torch, a) for a in arrays])
        except RuntimeError:
            continue
        got, want, _, _ = _run_both(torch, case, arrays)
        if want is not None:
            assert_same(got, want, case.rtol, case.atol, path=f"{case} on {layout} {sample}")


def _grad_inputs(case, sample, layout="contiguous"):
    return [ember_input(a, True) for a in case.arrays(sample, "float64", layout)]


@pytest.mark.parametrize("case", GRAD_PARAMS)
def test_gradient_matches_finite_differences(case):
    for n, sample in enumerate(case.gradient_samples()):
        check_gradients(lambda *xs: case.fn(ember, *xs), _grad_inputs(case, sample))
        if n == 0 and case.noncontig:
            check_gradients(lambda *xs: case.fn(ember, *xs), _grad_inputs(case, sample, "transposed"))


@pytest.mark.parametrize("case", GRAD_PARAMS)
def test_backward_matches_torch(torch, case):
    for sample in case.samples():
        arrays = case.arrays(sample, "float64")
        got, want, e_in, t_in = _run_both(torch, case, arrays, requires_grad=True)
        if want is None:
            continue
        t_out = differentiable_outputs(want)
        e_out = differentiable_outputs(got)
        assert len(e_out) == len(t_out), f"{len(e_out)} differentiable outputs, torch has {len(t_out)}"
        if not t_out:
            continue
        try:
            t_grads = torch.autograd.grad(weighted_loss(t_out, weights_like(t_out, torch)), t_in, allow_unused=True)
        except RuntimeError:            # torch's own backward fails for a few valid inputs (scatter with a
            continue                    # src larger than index); finite differences still check ember

        e_grads = ember.autograd.grad(weighted_loss(e_out, weights_like(e_out, ember)), e_in, allow_unused=True)
        for k, (e, t) in enumerate(zip(e_grads, t_grads)):
            if t is None:
                assert e is None or not np.any(e.numpy()), f"input {k}: torch gives no gradient"
                continue
            e = np.zeros(tuple(t.shape)) if e is None else e.numpy()
            t = t.numpy(force=True) if not t._is_zerotensor() else np.zeros(tuple(t.shape))
            np.testing.assert_allclose(e, t, rtol=1e-7, atol=1e-9, err_msg=f"{case} on {sample} input {k}")


@pytest.mark.parametrize("case", [c for c in GRAD_CASES if c.name not in COMPOSITES and str(c) not in COMPOSITES],
                         ids=str)
def test_grad_fn_name_matches_torch(torch, case):
    """Primitives carry PyTorch's grad_fn names (shown in repr as grad_fn=<...>)."""
    for sample in case.samples():
        got, want, _, _ = _run_both(torch, case, case.arrays(sample, "float64"), requires_grad=True)
        if want is None:
            continue
        for e, t in zip(differentiable_outputs(got), differentiable_outputs(want)):
            if t.grad_fn is None:
                continue
            name = t.grad_fn.name().replace("torch::autograd::", "")
            assert type(e.grad_fn).__name__ == name, f"{case} on {sample}: {type(e.grad_fn).__name__} != {name}"




@pytest.mark.parametrize("case", [c for c in OP_CASES if c.gradgrad], ids=str)
def test_gradgrad(case):
    sample = case.gradient_samples()[0]
    inputs = _grad_inputs(case, sample)
    gradgradcheck = ember_gradcheck("gradgradcheck")
    if gradgradcheck is not None:
        def float_outputs(*xs):
            outs = differentiable_outputs(case.fn(ember, *xs))
            return tuple(outs) if len(outs) != 1 else outs[0]
        assert gradgradcheck(float_outputs, tuple(inputs))
        return

    def first_grads(*xs):
        outs = differentiable_outputs(case.fn(ember, *xs))
        weights = weights_like(outs, ember)
        grads = ember.autograd.grad(weighted_loss(outs, weights), xs, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)
    check_gradients(first_grads, inputs, atol=1e-4)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.name)
def test_error_type_and_message(case):
    with pytest.raises(case.error) as info:
        case.fn(ember)
    if case.match:
        assert re.search(case.match, str(info.value)), f"message {str(info.value)!r} lacks {case.match!r}"


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.name)
def test_error_type_matches_torch(torch, case):
    expected = case.torch_error or case.error
    if isinstance(expected, str):                  # a torch name ("linalg.LinAlgError"): torch may be absent
        owner = torch                              # when the cases are built
        for part in expected.split("."):
            owner = getattr(owner, part)
        expected = owner
    with pytest.raises(expected):
        case.fn(torch)


# Public names that need no OpCase here: creation and sampling have their own tests; these are
# covered elsewhere or are pure aliases of a covered function object.
NOT_OPS = {"tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like",
           "ones_like", "empty_like", "full_like", "arange", "range_", "linspace", "logspace", "eye",
           "tril_indices", "triu_indices", "scalar_tensor", "complex", "polar", "rand", "randn", "randint",
           "randperm", "normal", "bernoulli", "multinomial", "rand_like", "randn_like", "randint_like"}


def _covered_functions():
    functions = set()
    for case in OP_CASES:
        name = case.name
        fn = PUBLIC.get(name) or METHODS.get(name)
        if fn is not None:
            functions.add(fn)
    return functions


# The op families this database covers (nn's families, ops/conv.py etc., are tested under tests/nn).
FAMILIES = {f"ember.ops.{m}" for m in ("pointwise", "reduction", "shape", "indexing", "linalg", "sorting", "conv",
                                         "pooling", "special_functions")}


def test_every_exported_op_has_a_case():
    covered = _covered_functions()
    missing = sorted(name for name, fn in PUBLIC.items()
                     if getattr(fn, "__module__", None) in FAMILIES and name not in NOT_OPS and fn not in covered
                     and not name.startswith("_"))
    assert not missing, f"ops without an OpCase in tests/ops/op_db.py: {missing}"


def test_every_inplace_method_is_exercised():
    """In-place methods need a case unless their out-of-place op has one (they share its code)."""
    covered = _covered_functions()
    names = {case.name for case in OP_CASES}
    missing = []
    for name in METHODS:
        if not name.endswith("_") or name.startswith("_") or name in names:
            continue
        base = PUBLIC.get(name[:-1]) or METHODS.get(name[:-1])
        if base is not None and getattr(base, "__module__", None) not in FAMILIES:
            continue
        if base is None or base not in covered:
            missing.append(name)
    allowed = {"uniform_", "normal_", "bernoulli_", "random_", "cauchy_", "exponential_", "geometric_",
               "log_normal_", "fill_", "zero_", "copy_"}
    assert not sorted(set(missing) - allowed), sorted(set(missing) - allowed)


def test_case_names_resolve():
    for case in OP_CASES:
        if case.name in ("getitem", "setitem", "iadd", "isub", "imul", "itruediv") or "." in case.name:
            continue
        assert case.name in PUBLIC or case.name in METHODS, f"{case.name} is not an ember op"
    assert set(FLOAT) <= {"float32", "float64"}


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "complex64"])
def test_cumulative_ops_round_like_torch(torch, name, dtype):
    # PyTorch's CPU kernels accumulate float32 in float64 (half in float32): bit-equal results here too
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 500)) * (0.5 if name == "cumsum" else 1.02)
    if dtype == "complex64":
        x = x + 1j * rng.standard_normal((20, 500))
    x = x.astype(dtype)
    for dim in (0, 1):
        ours = getattr(ember.tensor(x), name)(dim).numpy()
        theirs = getattr(torch.tensor(x), name)(dim).numpy()
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_and_std_round_like_torch(torch, name):
    # both work in float64 and round once at the end (std takes its root before rounding)
    x = (np.random.default_rng(1).standard_normal((50, 300)) * 3).astype(np.float32)
    for dim in (0, 1, None):
        np.testing.assert_array_equal(getattr(ember.tensor(x), name)(dim).numpy(),
                                      getattr(torch.tensor(x), name)(dim).numpy())


def test_zero_dim_index_in_scatter_and_gather_like_torch(torch):
    # the Transforms tutorial's one-hot target: zeros(10).scatter_(0, tensor(y), value=1)
    def program(m):
        return (m.zeros(10, dtype=m.float).scatter_(0, m.tensor(3), value=1),
                m.zeros(5).scatter_reduce(0, m.tensor(2), m.tensor(4.0), "sum"),
                m.zeros(()).scatter_(0, m.tensor(0), value=1), m.tensor(5.0).gather(0, m.tensor([0, 0])),
                m.arange(6.0).gather(0, m.tensor(4)))
    for ours, theirs in zip(program(ember), program(torch)):
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
