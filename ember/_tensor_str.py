"""Tensor printing with PyTorch's layout rules, and set_printoptions."""
import math

import numpy as np

from . import _dtype as _dt
from .sparse._csr import SparseCompressedArray as _Compressed

__all__ = ["set_printoptions", "get_printoptions"]


class _Options:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """Set how tensors print (same options and profiles as PyTorch)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"Unknown profile {profile!r}; expected one of {sorted(_PROFILES)}")
        _Options.precision, _Options.threshold, _Options.edgeitems, _Options.linewidth = _PROFILES[profile]
    if precision is not None:
        _Options.precision = precision
    if threshold is not None:
        _Options.threshold = threshold
    if edgeitems is not None:
        _Options.edgeitems = edgeitems
    if linewidth is not None:
        _Options.linewidth = linewidth
    _Options.sci_mode = sci_mode


def get_printoptions():
    return {"precision": _Options.precision, "threshold": _Options.threshold, "edgeitems": _Options.edgeitems,
            "linewidth": _Options.linewidth, "sci_mode": _Options.sci_mode}


class _Formatter:
    """Chooses integer-like, fixed or scientific notation from the finite non-zero values, then pads."""

    def __init__(self, values, is_float):
        self.is_float = is_float
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        p = _Options.precision
        if not is_float:
            for v in values.tolist():
                self.width = max(self.width, len(str(v)))
            return
        finite = values[np.isfinite(values) & (values != 0)]
        if not finite.size:
            return
        magnitudes = np.abs(finite.astype(np.float64))
        lo, hi = magnitudes.min(), magnitudes.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        # the option, when set, decides before the widths are measured (so they fit the chosen notation)
        if _Options.sci_mode is not None:
            self.sci_mode = bool(_Options.sci_mode)
        else:
            self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        values = finite.tolist()
        if self.sci_mode:
            self.width = max(len(f"{v:.{p}e}") for v in values)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in values)
        else:
            self.width = max(len(f"{v:.{p}f}") for v in values)

    def format(self, value):
        p = _Options.precision
        if not self.is_float:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{p}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if not (math.isinf(value) or math.isnan(value)):
                text += "."
        else:
            text = f"{value:.{p}f}"
        return " " * (self.width - len(text)) + text


def _summarized(array):
    """The edge items of every dim, which is all the formatter looks at for big tensors."""
    e = _Options.edgeitems
    if array.ndim == 0:
        return array
    if array.shape[0] > 2 * e:
        array = np.concatenate([array[:e], array[-e:]])
    return np.stack([_summarized(x) for x in array]) if array.ndim > 1 and array.shape[0] else array


def _format_value(v, f1, f2):
    if f2 is None:
        return f1.format(v)
    real = f1.format(v.real)
    imag = (f2.format(v.imag) + "j").lstrip()
    return real + imag if imag[0] in "+-" else real + "+" + imag


def _vector(array, indent, summarize, f1, f2):
    width = f1.width + 2 + (f2.width + 1 if f2 is not None else 0)
    per_line = max(1, int(math.floor((_Options.linewidth - indent) / width)))
    e = _Options.edgeitems
    values = array.tolist()
    if summarize and not e:
        data = ["..."]
    elif summarize and len(values) > 2 * e:
        data = [_format_value(v, f1, f2) for v in values[:e]] + [" ..."] + \
               [_format_value(v, f1, f2) for v in values[-e:]]
    else:
        data = [_format_value(v, f1, f2) for v in values]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _body(array, indent, summarize, f1, f2):
    if array.ndim == 0:
        return _format_value(array.item(), f1, f2)
    if array.ndim == 1:
        return _vector(array, indent, summarize, f1, f2)
    e = _Options.edgeitems
    n = array.shape[0]
    if summarize and n > 2 * e:
        parts = [_body(array[i], indent + 1, summarize, f1, f2) for i in range(e)] + ["..."] + \
                [_body(array[i], indent + 1, summarize, f1, f2) for i in range(n - e, n)]
    else:
        parts = [_body(array[i], indent + 1, summarize, f1, f2) for i in range(n)]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _host_values(t):
    array = t._backend().to_numpy(t._array)
    if t.dtype is _dt.bfloat16 or t.dtype is _dt.float16:
        array = array.astype(np.float32)
    return array


def tensor_body(t, indent):
    """The bracketed values of a tensor as PyTorch lays them out."""
    array = _host_values(t)
    summarize = array.size > _Options.threshold
    sample = _summarized(array) if summarize else array
    if t.dtype.is_complex:
        f1 = _Formatter(sample.real.reshape(-1), True)
        f2 = _Formatter(sample.imag.reshape(-1), True)
    else:
        f1 = _Formatter(sample.reshape(-1), t.dtype.is_floating_point)
        f2 = None
    return _body(array, indent, summarize, f1, f2)


def _add_suffixes(text, suffixes, indent, force_newline=False):
    out = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last_line + len(suffix) + 2 > _Options.linewidth:
            out.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
            force_newline = False
        else:
            out.append(", " + suffix)
            last_line += len(suffix) + 2
    out.append(")")
    return "".join(out)


def _part(t, indent):
    """The body of a sparse tensor's indices or values, with the size when it is empty (PyTorch's layout)."""
    return tensor_body(t, indent) if t.numel() else f"[], size={tuple(t.shape)}"


def tensor_repr(t, prefix="tensor("):
    indent = len(prefix)
    suffixes = []
    dtype = t.dtype
    default = _dt.get_default_dtype()
    default_dtype = dtype in (default, default.to_complex(), _dt.int64, _dt.bool_)
    if t._device.type != "cpu":
        suffixes.append(f"device='{t._device}'")
    sparse = t.is_sparse
    if sparse:                                      # indices and values, then size, nnz, dtype and layout
        suffixes.append(f"size={tuple(t.shape)}")
        suffixes.append(f"nnz={t._nnz()}")
        if not default_dtype:
            suffixes.append(f"dtype={dtype}")
        head, tail = "indices=tensor(", "values=tensor("
        body = (head + _part(t._indices(), indent + len(head)) + "),\n" + " " * indent + tail +
                _part(t._values(), indent + len(tail)) + ")")
        suffixes.append(f"layout={t.layout}")
    elif t._array.__class__ is _Compressed:        # CSR/CSC: both index arrays and the values, then as above
        from ._tensor import _make
        a = t._array
        suffixes.append(f"size={tuple(t.shape)}")
        suffixes.append(f"nnz={a.nnz}")
        if not default_dtype:
            suffixes.append(f"dtype={dtype}")
        names = ("crow_indices", "col_indices") if a.kind == "csr" else ("ccol_indices", "row_indices")
        parts = zip((*names, "values"), (a.compressed, a.plain, a.values))
        body = (",\n" + " " * indent).join(f"{name}=tensor(" + _part(_make(part), indent + len(name) + 8) + ")"
                                           for name, part in parts)
        suffixes.append(f"layout={t.layout}")
    elif t._device.type == "meta":
        suffixes.append(f"size={tuple(t.shape)}")
        if dtype is not default:
            suffixes.append(f"dtype={dtype}")
        body = "..."
    elif t._array.size == 0:
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if dtype is not default:
            suffixes.append(f"dtype={dtype}")
        body = "[]"
    else:
        if not _Options.edgeitems:                  # the body shows no values, so PyTorch states the size
            suffixes.append(f"size={tuple(t.shape)}")
        if not default_dtype:
            suffixes.append(f"dtype={dtype}")
        body = tensor_body(t, indent)
    try:
        grad_fn = t.grad_fn
        name = type(grad_fn).__name__
    except RuntimeError:                            # a view PyTorch refuses to regenerate: it shows it so too
        grad_fn, name = True, "Invalid"
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent, force_newline=sparse)
