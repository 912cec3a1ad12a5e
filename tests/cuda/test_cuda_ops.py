"""Every op of the op table (tests/ops/op_db.py) on the cuda device: the same values, dtypes and gradients as
on the cpu, outputs and gradients stored on the device (an array of the cuda backend, never a host array)."""
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember._backends import cuda as backend

sys.path.insert(0, str(Path(__file__).parents[1] / "ops"))
from op_db import OP_CASES  # noqa: E402

KNOWN_CPU_ONLY = {}         # op name -> why it cannot run on cuda (empty: every op runs there)


def _params():
    return [pytest.param(case, id=str(case)) for case in OP_CASES]


def _leaves(arrays, device, requires_grad):
    out = []
    for a in arrays:
        t = ember.from_numpy(a.copy() if a.flags.c_contiguous else a)
        if device != "cpu":
            t = t.to(device)
        if requires_grad and t.dtype.is_floating_point:
            t.requires_grad_()
        out.append(t)
    return out


def _flat(result):
    if isinstance(result, ember.Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in _flat(r)]
    return []


def _run(case, arrays, device, requires_grad):
    """(outputs, input grads) of the case on device, or the exception it raised."""
    ember.set_default_device(None if device == "cpu" else device)
    try:
        inputs = _leaves(arrays, device, requires_grad)
        try:
            outputs = _flat(case.fn(ember, *inputs))
        except Exception as error:  # noqa: BLE001 - the type is compared with the cpu's
            return error
        grads = []
        diff = [o for o in outputs if o.requires_grad]
        if requires_grad and diff:
            loss = sum((o.real if o.is_complex() else o).sum() for o in diff)
            loss.backward()
            grads = [t.grad for t in inputs if t.requires_grad]
        return outputs, grads
    finally:
        ember.set_default_device(None)


def _host(t):
    assert t.device.type == t.device.type
    return t.detach().cpu().numpy()


def _check_on_device(tensors, what):
    xp = backend.xp
    for t in tensors:
        if t is None:
            continue
        assert t.device.type == "cuda", f"{what} on {t.device}"
        assert isinstance(t._array, xp.ndarray), f"{what} stored as {type(t._array)}"


def _inputs(case):
    """(sample, dtype, layout) triples: every sample in every dtype of the case, and transposed inputs."""
    for dtype in case.dtypes:
        for sample in case.samples():
            yield sample, dtype, "contiguous"
    if case.noncontig:
        dtype = "float64" if "float64" in case.dtypes else case.dtypes[0]
        for sample in case.samples():
            if any(len(shape) >= 2 for shape in sample):
                yield sample, dtype, "transposed"


@pytest.mark.parametrize("case", _params())
def test_op_on_cuda_matches_cpu(case, cuda_device):
    for sample, dtype, layout in _inputs(case):
        if dtype == "bfloat16":
            continue                                # CuPy has no bfloat16
        arrays = case.arrays(sample, dtype, layout)
        want = _run(case, arrays, "cpu", case.grad)
        got = _run(case, arrays, cuda_device, case.grad)
        if isinstance(want, Exception):
            assert type(got) is type(want), f"{case} on {sample}: cpu raised {want!r}, cuda gave {got!r}"
            continue
        assert not isinstance(got, Exception), f"{case} on {sample}: cuda raised {got!r}, cpu ran"
        (out_c, grad_c), (out_g, grad_g) = want, got
        _check_on_device(out_g, f"{case} output")
        _check_on_device(grad_g, f"{case} grad")
        assert len(out_c) == len(out_g) and len(grad_c) == len(grad_g)
        for c, g in zip(out_c + grad_c, out_g + grad_g):
            if c is None or g is None:
                assert c is g
                continue
            assert c.dtype == g.dtype and c.shape == g.shape
            np.testing.assert_allclose(_host(g), _host(c), rtol=1e-6, atol=1e-9, equal_nan=True,
                                       err_msg=f"{case} on {sample} ({dtype}, {layout})")
