"""Autocast's op coverage against PyTorch's: every op case of tests/ops/op_db.py, a list of nn.functional calls
and of modules run under autocast("cpu") in ember and in PyTorch on the same inputs (float32, bfloat16, float16,
mixed and float64 tensors; bfloat16 and float16 regions), and the result dtypes (or the exception types) must
be the same. Inputs where the two libraries already differ without autocast are left out (a divergence of the op
itself, not of autocast)."""
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from op_db import OP_CASES  # noqa: E402
from ops_helpers import TOLERANCES, ember_input, flat_tensors, to_array, torch_input  # noqa: E402
from amp_cases import MODULE_CASES, NN_CASES  # noqa: E402

COMBOS = ("float32", "bfloat16", "float16", "mix", "mix2", "float64")
REGIONS = ("bfloat16", "float16")

# PyTorch raises inside these composites when float16 tensors meet a bfloat16 region (or the reverse): an inner
# cat, stack or mm of theirs prioritizes the two half types ("Unexpected floating ScalarType in
# at::autocast::prioritize"), or (pinv of a product) the product comes out in the region's dtype, which its pinv
# has no kernel for. ember's versions of them are single primitives and run.
_HALF_CLASH = "PyTorch's composite raises on the other half dtype inside the region; ember's op runs"
KNOWN = {(case, region, other): _HALF_CLASH
         for case in ("roll", "roll-dims", "roll-flat", "linalg.matrix_exp", "linalg.matrix_exp-large", "matrix_exp",
                      "matrix_exp-method", "combinations", "combinations-replacement", "combinations-r1",
                      "combinations-too_long", "isin-number_element")
         for region, other in zip(REGIONS, REGIONS[::-1])}
KNOWN.update({("linalg.pinv-deficient", region, "float32"): "PyTorch's pinv has no kernel for the region's dtype "
              "that x @ x.mT comes out in; ember's computes it" for region in REGIONS})


def _dtypes(combo, n):
    if combo == "mix":
        return ["bfloat16"] + ["float32"] * (n - 1)
    if combo == "mix2":
        return ["float32"] + ["bfloat16"] * (n - 1)
    return [combo] * n


def _signature(call):
    """Result dtypes (a tuple), or the exception's type name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = call()
        except Exception as error:
            return type(error).__name__
    tensors = flat_tensors(out)
    return tuple(str(t.dtype).rsplit(".", 1)[-1] for t in tensors) if tensors else type(out).__name__


def _under(m, region, call):
    with m.autocast("cpu", dtype=getattr(m, region)):
        return _signature(call)


def _mismatches(torch, call, arrays, combos, regions, convert):
    """{(region, combo): (torch's signature, ember's)} where autocast makes the two libraries differ."""
    found = {}
    for combo in combos:
        if combo.startswith("mix") and len(arrays) < 2:
            continue
        dtypes = _dtypes(combo, len(arrays))

        def inputs(m):
            return [convert(m, a).to(getattr(m, d)) for a, d in zip(arrays, dtypes)]
        if _signature(lambda: call(torch, *inputs(torch))) != _signature(lambda: call(ember, *inputs(ember))):
            continue                                 # the op itself differs here: not autocast's business
        for region in regions:
            want = _under(torch, region, lambda: call(torch, *inputs(torch)))
            got = _under(ember, region, lambda: call(ember, *inputs(ember)))
            if want != got:
                found[(region, combo)] = (want, got)
    return found


def _convert(m, array):
    return ember_input(array.copy()) if m is ember else torch_input(pytest.importorskip("torch"), array.copy())


FLOAT_CASES = [c for c in OP_CASES if "float32" in c.dtypes]


@pytest.mark.parametrize("case", FLOAT_CASES, ids=str)
def test_op_dtypes_under_autocast_match_torch(torch, case):
    arrays = case.arrays(case.samples()[0], "float32")
    found = _mismatches(torch, case.fn, arrays, COMBOS, REGIONS, _convert)
    known = {(r, c) for (name, r, c) in KNOWN if name == str(case)}
    assert set(found) == known, f"{case}: autocast result dtypes differ from PyTorch's: {found}"


@pytest.mark.parametrize("name, fn, shapes", NN_CASES, ids=[c[0] for c in NN_CASES])
def test_functional_dtypes_under_autocast_match_torch(torch, name, fn, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-2, 2, s).astype(np.float32) for s in shapes]

    def call(m, *inputs):
        return fn(m, m.nn.functional, *inputs)
    found = _mismatches(torch, call, arrays, COMBOS[:5], REGIONS, lambda m, a: m.tensor(a))
    assert not found, f"{name}: autocast result dtypes differ from PyTorch's: {found}"


VALUE_SKIPS = {
    "max_unpool3d": "the maxima of a 4x4x4 input may tie after the bfloat16 cast: indices differ by ties",
    "bilinear": "PyTorch's _trilinear multiplies in bfloat16 inside (its bmm) and returns float32; ember's "
                "bilinear is one float32 primitive (same dtype, values 1-2% apart)",
    "mha_forward": "ember's bfloat16 softmax and products round at every step, PyTorch's CPU attention kernel "
                   "accumulates in float32: values about 10% apart after three products",
}


@pytest.mark.parametrize("name, fn, shapes", NN_CASES, ids=[c[0] for c in NN_CASES])
def test_functional_values_under_autocast_match_torch(torch, name, fn, shapes):
    """float32 inputs in a bfloat16 region: the values agree to the precision of the result's dtype."""
    if name in VALUE_SKIPS:
        pytest.skip(VALUE_SKIPS[name])
    rng = np.random.default_rng(1)
    arrays = [rng.uniform(-2, 2, s).astype(np.float32) for s in shapes]
    with torch.autocast("cpu"):
        want = flat_tensors(fn(torch, torch.nn.functional, *[torch.tensor(a) for a in arrays]))
    with ember.autocast("cpu"):
        got = flat_tensors(fn(ember, ember.nn.functional, *[ember.tensor(a) for a in arrays]))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert str(g.dtype).rsplit(".", 1)[-1] == str(w.dtype).rsplit(".", 1)[-1]
        rtol, atol = TOLERANCES.get(str(w.dtype).rsplit(".", 1)[-1], (0, 0))
        # a bfloat16 result may hold one rounding more or less than PyTorch's (3 bits of an 8-bit mantissa)
        scale = 4 if rtol else 1
        np.testing.assert_allclose(to_array(g), to_array(w), rtol=rtol * scale, atol=atol * scale, err_msg=name)


@pytest.mark.parametrize("name, make, shape, n_inputs", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_module_dtypes_under_autocast_match_torch(torch, name, make, shape, n_inputs, mode, dtype):
    torch.manual_seed(0)
    t_module = getattr(make(torch), mode)()
    e_module = getattr(make(ember), mode)()
    e_module.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t_module.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tx, ex = torch.tensor(x).to(getattr(torch, dtype)), ember.tensor(x).to(getattr(ember, dtype))
    want = _under(torch, "bfloat16", lambda: t_module(*[tx] * n_inputs))
    got = _under(ember, "bfloat16", lambda: e_module(*[ex] * n_inputs))
    assert got == want
