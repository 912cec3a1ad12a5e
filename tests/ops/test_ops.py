"""Generic checks run on every OpCase in op_db: forward vs PyTorch (values and dtype, every dtype,
0-d/empty/broadcast/non-contiguous inputs), gradients vs finite differences and vs PyTorch's
backward, second derivatives, error parity, and a coverage test."""
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.autograd import gradgradcheck
from ember.ops import _registry
from ember.ops._registry import METHODS, PUBLIC
from op_db import C, ERROR_CASES, OP_CASES, TESTED_ELSEWHERE
from ops_helpers import (assert_same, check_gradients, differentiable_outputs, differentiable_result, ember_input,
                         torch_input, weighted_loss, weights_like)

REPO = Path(__file__).resolve().parents[2]

FORWARD = [pytest.param(case, dtype, id=f"{case}-{dtype}", marks=case.marks("forward"))
           for case in OP_CASES for dtype in case.dtypes]
GRAD_CASES = [c for c in OP_CASES if c.grad]


def params(cases, test):
    """The cases as pytest params of the generic test `test`, marked xfail where a case diverges there."""
    return [pytest.param(c, id=str(c), marks=c.marks(test)) for c in cases]


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


@pytest.mark.parametrize("case", params([c for c in OP_CASES if c.noncontig], "noncontiguous"))
@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_noncontiguous_matches_torch(torch, case, layout):
    dtype = "float64" if "float64" in case.dtypes else case.dtypes[0]
    for sample in case.samples():
        arrays = case.arrays(sample, dtype, layout)
        if case.torch_strided_fails:      # PyTorch's kernel refuses these views: its answer on the same values
            try:
                case.fn(torch, *[torch_input(torch, a) for a in arrays])
            except RuntimeError:
                got = case.fn(ember, *[ember_input(a) for a in arrays])
                want = case.fn(torch, *[torch_input(torch, a.copy()) for a in arrays])
                assert_same(got, want, case.rtol, case.atol, path=f"{case} on {layout} {sample}")
                continue
        got, want, _, _ = _run_both(torch, case, arrays)
        if want is not None:
            assert_same(got, want, case.rtol, case.atol, path=f"{case} on {layout} {sample}")


def _grad_inputs(case, sample, layout="contiguous"):
    return [ember_input(a, True) for a in case.arrays(sample, "float64", layout)]


@pytest.mark.parametrize("case", params(GRAD_CASES, "gradient"))
def test_gradient_matches_finite_differences(case):
    for n, sample in enumerate(case.gradient_samples()):
        check_gradients(lambda *xs: case.fn(ember, *xs), _grad_inputs(case, sample))
        if n == 0 and case.noncontig:
            check_gradients(lambda *xs: case.fn(ember, *xs), _grad_inputs(case, sample, "transposed"))


@pytest.mark.parametrize("case", params(GRAD_CASES, "backward"))
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
        except RuntimeError:
            if not case.torch_backward_fails:
                raise
            continue                    # a known PyTorch failure: finite differences still check ember

        e_grads = ember.autograd.grad(weighted_loss(e_out, weights_like(e_out, ember)), e_in, allow_unused=True)
        for k, (e, t) in enumerate(zip(e_grads, t_grads)):
            if t is None:
                assert e is None or not np.any(e.numpy()), f"input {k}: torch gives no gradient"
                continue
            e = np.zeros(tuple(t.shape)) if e is None else e.numpy()
            t = t.numpy(force=True) if not t._is_zerotensor() else np.zeros(tuple(t.shape))
            np.testing.assert_allclose(e, t, rtol=1e-7, atol=1e-9, err_msg=f"{case} on {sample} input {k}")


@pytest.mark.parametrize("case", params([c for c in GRAD_CASES if not c.composite], "grad_fn"))
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


@pytest.mark.parametrize("case", params([c for c in OP_CASES if c.gradgrad], "gradgrad"))
def test_gradgrad(case):
    inputs = _grad_inputs(case, case.gradient_samples()[0])
    assert gradgradcheck(differentiable_result(lambda *xs: case.fn(ember, *xs)), tuple(inputs))


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


# --- coverage: every op ember exports has an OpCase or a named test file ----------------------------------

def case_target(name, public=PUBLIC, methods=METHODS):
    """The function an OpCase name stands for: ember.<name> or Tensor.<name>, ember.linalg.<x> or
    ember.special.<x> for "linalg.<x>" / "special.<x>", and the operator Tensor.__<name>__ ("getitem", "iadd")."""
    if "." in name:
        namespace, _, attr = name.partition(".")
        return getattr(getattr(ember, namespace, None), attr, None)
    return public.get(name) or methods.get(name) or getattr(ember.Tensor, f"__{name}__", None)


def exported_ops(public, methods, namespaces=("special", "linalg", "fft")):
    """name -> function of every op ember exports: each function or Tensor method registered with @export
    whose function is defined under ember/ops/ (whatever the module: families split and move), and each
    public function of the ember.special, ember.linalg and ember.fft namespaces ("special.<x>", "fft.<x>")."""
    found = {}
    for table in (methods, public):
        for name, fn in table.items():
            if not name.startswith("_") and inspect.isroutine(fn) \
                    and getattr(fn, "__module__", "").startswith("ember.ops."):
                found[name] = fn
    for namespace in namespaces:
        module = getattr(ember, namespace)
        for name in getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]:
            fn = getattr(module, name)
            if inspect.isroutine(fn):
                found[f"{namespace}.{name}"] = fn
    return found


def case_functions(cases, public=PUBLIC, methods=METHODS):
    """The functions the cases call (aliases of one function share it)."""
    return {case_target(case.name, public, methods) for case in cases} - {None}


def uncovered_ops(public, methods, cases, elsewhere):
    """Exported ops with neither an OpCase (one for the same function object covers its aliases) nor an entry
    in `elsewhere`; an in-place variant <name>_ is covered by its out-of-place op (they share its code)."""
    covered = case_functions(cases, public, methods)
    exported = exported_ops(public, methods)

    def is_covered(name):
        fn = exported.get(name) or public.get(name) or methods.get(name)
        return name in elsewhere or (fn is not None and fn in covered)

    return sorted(name for name in exported
                  if not is_covered(name) and not (name.endswith("_") and is_covered(name[:-1])))


def test_every_exported_op_has_a_case():
    missing = uncovered_ops(PUBLIC, METHODS, OP_CASES, TESTED_ELSEWHERE)
    assert not missing, (f"ops without an OpCase in tests/ops/op_db.py (or cases_*.py), nor an entry in "
                         f"TESTED_ELSEWHERE naming the test file that covers them: {missing}")


def test_a_new_export_without_a_case_fails_the_coverage_test(monkeypatch):
    """@export of a new op in a module no one listed, and a new ember.special function, are both reported."""
    public, methods = dict(PUBLIC), dict(METHODS)
    monkeypatch.setattr(_registry, "PUBLIC", public)
    monkeypatch.setattr(_registry, "METHODS", methods)
    monkeypatch.setattr(ember.Tensor, "brand_new_op", None, raising=False)     # removed again afterwards
    monkeypatch.setattr(ember.Tensor, "brand_new_op_", None, raising=False)

    def brand_new_op(input):
        return input
    brand_new_op.__module__ = "ember.ops.brand_new_family"
    _registry.export(brand_new_op, inplace=True)
    assert "brand_new_op" in public and "brand_new_op_" in methods
    assert uncovered_ops(public, methods, OP_CASES, TESTED_ELSEWHERE) == ["brand_new_op", "brand_new_op_"]
    assert uncovered_ops(public, methods, OP_CASES, {**TESTED_ELSEWHERE, "brand_new_op": "tests/x.py"}) == []
    cases = OP_CASES + [C("brand_new_op", lambda m, x: m.brand_new_op(x))]
    assert uncovered_ops(public, methods, cases, TESTED_ELSEWHERE) == []

    monkeypatch.setattr(ember.special, "brand_new", lambda x: x, raising=False)
    monkeypatch.setattr(ember.special, "__all__", [*ember.special.__all__, "brand_new"])
    assert uncovered_ops(PUBLIC, METHODS, OP_CASES, TESTED_ELSEWHERE) == ["special.brand_new"]


@pytest.mark.parametrize("name, path", sorted(TESTED_ELSEWHERE.items()))
def test_ops_tested_elsewhere_name_a_test_file_that_uses_them(name, path):
    file = REPO / path
    assert file.is_file() and file.name.startswith("test_"), f"{name}: {path} is not a test file"
    assert re.search(rf"\b{re.escape(name.rpartition('.')[2])}\b", file.read_text()), f"{path} never uses {name}"
    assert name in exported_ops(PUBLIC, METHODS), f"{name} is not an exported op: drop its entry"
    assert exported_ops(PUBLIC, METHODS)[name] not in case_functions(OP_CASES), f"{name} has an OpCase: drop its entry"


def test_case_names_resolve():
    for case in OP_CASES:
        assert case_target(case.name) is not None, f"{case.name} is not an ember op"


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
