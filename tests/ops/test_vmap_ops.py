"""vmap on every op of op_db: vmap(op) over a batch of three samples equals the op run on each sample and stacked
(values and dtypes), and the ops that still run element by element (no batching rule: the loop fallback) are
exactly the ones listed in LOOPING, so a new rule or a lost one shows here."""
import warnings

import numpy as np
import pytest

import ember
from ember._vmap import _FALLEN_BACK
from op_db import OP_CASES
from ops_helpers import ember_input, flat_tensors

BATCH = 3
# views defined by storage offsets and strides: an element's as_strided reads the storage of the whole batch
STORAGE_VIEWS = {"as_strided"}


def _samples(case):
    for sample in case.samples():
        if all(int(np.prod(s)) > 0 for s in sample):
            yield sample


def _batched_arrays(case, sample, dtype):
    return [np.stack(parts) for parts in zip(*[case.arrays(sample, dtype, seed=k) for k in range(BATCH)])]


def _run(case):
    dtype = "float64" if "float64" in case.dtypes else case.dtypes[0]
    for sample in _samples(case):
        arrays = _batched_arrays(case, sample, dtype)
        try:
            want = [case.fn(ember, *[ember_input(a[k].copy()) for a in arrays]) for k in range(BATCH)]
        except Exception:
            return                                     # the op refuses these samples: nothing to batch
        if not all(flat_tensors(w) for w in want):
            return                                     # a non-tensor result (a Python number): nothing to batch
        if len({tuple(tuple(t.shape) for t in flat_tensors(w)) for w in want}) > 1:
            return                                     # shapes that depend on the data: PyTorch's vmap refuses too
        if case.name in STORAGE_VIEWS:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                got = ember.func.vmap(lambda *xs: case.fn(ember, *xs))(*[ember_input(a.copy()) for a in arrays])
            except RuntimeError as error:
                if "randomness error mode" in str(error):
                    return                             # a random op: vmap's default randomness="error" refuses
                raise
        got = flat_tensors(got)
        want = [flat_tensors(w) for w in want]
        assert len(got) == len(want[0]), f"{case}: {len(got)} outputs, per sample {len(want[0])}"
        for k, g in enumerate(got):
            stacked = ember.stack([w[k] for w in want])
            assert g.dtype == stacked.dtype, f"{case} output {k}: {g.dtype} vs {stacked.dtype}"
            np.testing.assert_allclose(g.detach().numpy(), stacked.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       equal_nan=True, err_msg=f"{case} on {sample} output {k}")


CASES = [c for c in OP_CASES if c.grad]
_SEEN = {"cases": 0, "looped": set()}

# The ops of op_db that vmap still runs element by element (no batching rule; each one warns once). Every
# other op of the table runs once on the whole batch. Remove an entry with the rule that batches it.
LOOPING = {
    "cov",              # with batched weights (aweights): each element its own weighting
    "quantile",         # with a batched q: each element wants other quantiles
}


@pytest.mark.parametrize("case", [pytest.param(c, id=str(c)) for c in CASES])
def test_vmap_equals_the_loop(case):
    before = set(_FALLEN_BACK)
    _run(case)
    _SEEN["cases"] += 1
    _SEEN["looped"] |= set(_FALLEN_BACK) - before


def test_the_ops_that_still_loop_are_listed():
    if _SEEN["cases"] != len(CASES):
        pytest.skip("runs after the whole table (here a subset ran)")
    looped = {name.split("::", 1)[-1] for name in _SEEN["looped"]}
    assert looped == set(LOOPING), (f"now batched: {sorted(set(LOOPING) - looped)}; "
                                    f"now looping: {sorted(looped - set(LOOPING))}")
