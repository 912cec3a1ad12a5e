"""ember.testing.assert_close: PyTorch's closeness assertion for tensors, scalars and nested containers.

Tolerances default by dtype as in PyTorch (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7 both; the half
types looser; integers and bool exact), and a failure names the mismatch count, the greatest absolute and
relative differences and where they occur.
"""
import collections.abc
import math
import numbers

import numpy as np

from ._tensor import Tensor

__all__ = ["assert_close", "assert_allclose"]

_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    if (rtol is None) != (atol is None):
        missing = "rtol" if rtol is None else "atol"
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}.")
    _compare(actual, expected, (), dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                                        check_dtype=check_dtype, check_stride=check_stride, msg=msg))


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """The deprecated spelling: no dtype check, NaNs equal by default."""
    if not isinstance(actual, Tensor):
        actual = _as_tensor(actual)
    if not isinstance(expected, Tensor):
        expected = _as_tensor(expected, like=actual)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False, msg=msg or None)


def _as_tensor(value, like=None):
    from .ops.creation import tensor
    return tensor(value, dtype=like.dtype if like is not None else None)


def _fail(message, path, options):
    if path:
        message += "\n\nThe failure occurred for item " + "".join(f"[{p!r}]" for p in path)
    custom = options["msg"]
    if callable(custom):
        message = custom(message)
    elif custom is not None:
        message = custom
    raise AssertionError(message)


def _compare(actual, expected, path, options):
    if isinstance(actual, Tensor) or isinstance(expected, Tensor):
        return _compare_tensors(actual, expected, path, options)
    if isinstance(actual, (bool, numbers.Number)) and isinstance(expected, (bool, numbers.Number)):
        return _compare_scalars(actual, expected, path, options)
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            _fail(f"The keys of the mappings do not match:\nMissing keys in the actual mapping: {sorted(missing)}\n"
                  f"Additional keys in the actual mapping: {sorted(extra)}", path, options)
        for key in expected:
            _compare(actual[key], expected[key], path + (key,), options)
        return
    sequence = collections.abc.Sequence
    if isinstance(actual, sequence) and isinstance(expected, sequence) and not isinstance(actual, str):
        if len(actual) != len(expected):
            _fail(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", path, options)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + (i,), options)
        return
    if actual != expected:
        _fail(f"Values are not equal: {actual!r} != {expected!r}", path, options)


def _compare_scalars(actual, expected, path, options):
    if type(actual) is not type(expected) and options["check_dtype"]:
        _fail(f"The values for attribute 'type' do not match: {type(actual)} != {type(expected)}.", path, options)
    rtol, atol = options["rtol"], options["atol"]
    if rtol is None:
        rtol, atol = _TOLERANCES["float64"] if isinstance(expected, (float, complex)) else (0.0, 0.0)
    if (options["equal_nan"] and _isnan(actual) and _isnan(expected)) or actual == expected:
        return
    diff = abs(actual - expected)
    if diff <= atol + rtol * abs(expected):
        return
    rel = diff / abs(expected) if expected != 0 else math.inf
    _fail(_scalar_message(actual, expected, diff, rel, rtol, atol), path, options)


def _scalar_message(actual, expected, diff, rel, rtol, atol):
    if rtol == 0 and atol == 0:
        return (f"Scalars are not equal!\n\nExpected {expected} but got {actual}.\nAbsolute difference: {diff}\n"
                f"Relative difference: {rel}")
    return (f"Scalars are not close!\n\nExpected {expected} but got {actual}.\nAbsolute difference: {diff} (up to "
            f"{atol} allowed)\nRelative difference: {rel} (up to {rtol} allowed)")


def _isnan(x):
    return isinstance(x, (float, complex)) and x != x


def _compare_tensors(actual, expected, path, options):
    if not isinstance(actual, Tensor) or not isinstance(expected, Tensor):
        if options["check_dtype"]:
            _fail(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.",
                  path, options)
        actual = actual if isinstance(actual, Tensor) else _as_tensor(actual, like=expected)
        expected = expected if isinstance(expected, Tensor) else _as_tensor(expected, like=actual)
    for attr, ours, theirs in (("shape", actual.shape, expected.shape),
                               ("device", actual.device, expected.device) if options["check_device"] else (None,) * 3,
                               ("dtype", actual.dtype, expected.dtype) if options["check_dtype"] else (None,) * 3,
                               ("stride()", actual.stride(), expected.stride()) if options["check_stride"]
                               else (None,) * 3):
        if attr is not None and ours != theirs:
            _fail(f"The values for attribute '{attr}' do not match: {ours} != {theirs}.", path, options)
    a = actual.detach().cpu().numpy(force=True)
    e = expected.detach().cpu().numpy(force=True)
    if a.dtype != e.dtype:
        common = np.result_type(a, e)
        a, e = a.astype(common), e.astype(common)
    rtol, atol = options["rtol"], options["atol"]
    if rtol is None:
        r1, a1 = _TOLERANCES.get(actual.dtype.name, (0.0, 0.0))
        r2, a2 = _TOLERANCES.get(expected.dtype.name, (0.0, 0.0))
        rtol, atol = max(r1, r2), max(a1, a2)
    shown = a, e
    if a.dtype == bool:                            # differences of bools count as 0/1 integers
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(a - e)                   # in the tensors' dtype, as PyTorch reports them
        close = (a == e) | (abs_diff <= atol + rtol * np.abs(e))
        if options["equal_nan"] and a.dtype.kind in "fc":
            close |= np.isnan(a) & np.isnan(e)
        if close.all():
            return
        if a.dtype.kind in "iu":                   # integer tensors: the relative difference in float32
            rel_diff = abs_diff.astype(np.float32) / np.abs(e).astype(np.float32)
        else:
            rel_diff = abs_diff / np.abs(e)
    if not a.ndim:
        _fail(_scalar_message(_number(shown[0]), _number(shown[1]), _number(abs_diff), _number(rel_diff), rtol,
                              atol), path, options)
    mismatched = int((~close).sum())
    total = close.size
    abs_at = _where_greatest(abs_diff, ~close)
    rel_at = _where_greatest(rel_diff, ~close)
    exact = rtol == 0 and atol == 0
    lines = [f"Tensor-likes are not {'equal' if exact else 'close'}!", "", f"Mismatched elements: {mismatched} / "
             f"{total} ({100 * mismatched / total:.1f}%)"]
    allowed = ("", "") if exact else (f" (up to {atol} allowed)", f" (up to {rtol} allowed)")
    lines += [f"Greatest absolute difference: {_number(abs_diff[abs_at])} at index {abs_at}{allowed[0]}",
              f"Greatest relative difference: {_number(rel_diff[rel_at])} at index {rel_at}{allowed[1]}"]
    _fail("\n".join(lines), path, options)


def _where_greatest(values, mask):
    """The index of the greatest value among the masked ones (NaN counts as greatest, as in PyTorch)."""
    masked = np.where(mask, values, -np.inf)
    nan = np.isnan(masked)
    flat = int(np.argmax(nan)) if nan.any() else int(np.argmax(masked))
    return tuple(int(i) for i in np.unravel_index(flat, values.shape)) if values.ndim else ()


def _number(value):
    """An array element as the Python number PyTorch's .item() would give."""
    return np.asarray(value).item()
