"""Part of ember.nn.functional: linear, bilinear, embedding, embedding_bag, one_hot (re-exported by basic.py).

Their primitives (Linear, Bilinear, Embedding) live in ember/ops/linear.py."""
import math

from ... import _dtype as _dt
from ..._tensor import _make
from ...amp._dispatch import AUTOCAST, autocast_run
from ...autograd.grad_mode import no_grad
from ...ops import creation
from ...ops.arithmetic import _TYPE_META
from ...ops.linear import Bilinear, Embedding, linear as _linear

__all__ = ["linear", "bilinear", "embedding", "embedding_bag", "one_hot"]


# --- linear ------------------------------------------------------------------------------------------

def linear(input, weight, bias=None):
    """input @ weight.T + bias."""
    if "linear" in AUTOCAST:
        return autocast_run("linear", linear, input, weight, bias)
    if input.ndim == 0 or weight.ndim not in (1, 2):
        return _linear_general(input, weight, bias)
    in_features = weight.shape[-1]
    if input.shape[-1] != in_features:
        rows = math.prod(input.shape[:-1]) if input.ndim > 1 else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{in_features}x{weight.shape[0] if weight.ndim == 2 else 1}) (linear: input "
                           f"{tuple(input.shape)} and weight {tuple(weight.shape)}: expected input[..., "
                           f"{in_features}] for in_features={in_features}, got {input.shape[-1]})")
    if input.dtype is not weight.dtype and weight.ndim == 2:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_TYPE_META[input.dtype.name]} != "
                           f"{_TYPE_META[weight.dtype.name]}")
    if bias is not None and bias.dtype is not input.dtype and weight.ndim == 2:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_dt.scalar_type_name(bias.dtype)} and "
                           f"{_dt.scalar_type_name(input.dtype)}")
    if weight.ndim == 1 or input.dtype is not weight.dtype or (bias is not None and (
            bias.dtype is not input.dtype or bias.ndim > 1)):
        return _linear_general(input, weight, bias)
    return _linear(input, weight, bias)


def _linear_general(input, weight, bias):
    out = input.matmul(weight.t() if weight.ndim == 2 else weight)
    return out if bias is None else out + bias


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]."""
    if "bilinear" in AUTOCAST:
        return autocast_run("bilinear", bilinear, input1, input2, weight, bias)
    tensors = {"input1": input1, "input2": input2, "weight": weight} | ({"bias": bias} if bias is not None else {})
    if any(t.dtype is not input1.dtype for t in tensors.values()):
        raise RuntimeError("All tensors must have the same dtype, got " + ", ".join(
            f"{name}: {_TYPE_META[t.dtype.name]}" for name, t in tensors.items()))
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {tuple(input1.shape[:-1])} and "
                           f"{tuple(input2.shape[:-1])}")
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input sizes {tuple(input1.shape)} and {tuple(input2.shape)} do not match "
                           f"weight {tuple(weight.shape)}")
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.reshape(-1, input2.shape[-1])
    out = Bilinear.apply(x1, x2, weight)
    if bias is not None:
        out = out + bias
    return out.reshape(tuple(lead) + (weight.shape[0],))


# --- embedding ---------------------------------------------------------------------------------------

def _check_indices(input, num_rows, what="embedding"):
    if input.dtype not in (_dt.int64, _dt.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for {what})")
    a = input._array
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < -num_rows or hi >= num_rows or lo < 0:
            bad = hi if hi >= num_rows else lo
            raise IndexError(f"index out of range in self ({what}: index {bad} is out of range for {what} with "
                             f"{num_rows} rows, valid indices are 0..{num_rows - 1})")


def _padding_idx(padding_idx, num_rows):
    if padding_idx is None:
        return None
    if padding_idx > 0 and padding_idx >= num_rows:
        raise AssertionError("Padding_idx must be within num_embeddings")
    if padding_idx < 0:
        if padding_idx < -num_rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx += num_rows
    return padding_idx


def _embedding_renorm(weight, input, max_norm, norm_type):
    """Scale the referenced rows of weight (in place) so their norm is at most max_norm."""
    xp = weight._backend().xp
    with no_grad():
        rows = xp.unique(input._array.reshape(-1))
        sub = weight._array[rows]
        norms = xp.linalg.norm(sub.astype(xp.float64), ord=norm_type, axis=1) if norm_type != 2 else \
            xp.sqrt((sub.astype(xp.float64) ** 2).sum(1))
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(sub.dtype)
            weight._array[rows[over]] = sub[over] * scale[:, None]
            weight._bump_version()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the integer tensor input."""
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num_rows = weight.shape[0]
    padding_idx = _padding_idx(padding_idx, num_rows)
    _check_indices(input, num_rows)
    if max_norm is not None:
        _embedding_renorm(weight, input, max_norm, norm_type)
    return Embedding.apply(weight, input, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sum, mean or max of embedding rows per bag (bags are rows of a 2-D input or offsets into a 1-D one)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    num_rows = weight.shape[0]
    padding_idx = _padding_idx(padding_idx, num_rows)
    xp = weight._backend().xp
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type " + type(offsets).__name__)
        bags, length = input.shape
        flat = input.reshape(-1)
        bag_of = xp.repeat(xp.arange(bags), length)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets._array.astype(xp.int64)
        flat = input
        n = input.shape[0]
        if include_last_offset:
            bags = starts.shape[0] - 1
            starts = starts[:-1]
        else:
            bags = starts.shape[0]
        bag_of = xp.searchsorted(starts, xp.arange(n), side="right") - 1
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    _check_indices(flat, num_rows, "embedding_bag")
    if max_norm is not None:
        _embedding_renorm(weight, flat, max_norm, norm_type)
    keep = xp.ones(flat.shape[0], dtype=bool) if padding_idx is None else flat._array != padding_idx
    rows = embedding(flat, weight, scale_grad_by_freq=scale_grad_by_freq)
    dim = weight.shape[1]
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    if padding_idx is not None:
        rows = rows * _make(keep[:, None].astype(rows._array.dtype), rows.device)
    bag_index = _make(xp.asarray(bag_of, dtype=xp.int64), weight.device)
    if mode == "max":
        # include_self=False: empty bags keep the zero fill (PyTorch returns zeros for them)
        expanded = bag_index.unsqueeze(1).expand(-1, dim)
        if padding_idx is not None:
            kept = _make(xp.flatnonzero(keep), weight.device)
            rows, expanded = rows.index_select(0, kept), expanded.index_select(0, kept)
        zeros = creation.zeros((bags, dim), dtype=weight.dtype, device=weight.device)
        return zeros.scatter_reduce(0, expanded, rows, "amax", include_self=False)
    out = creation.zeros((bags, dim), dtype=weight.dtype, device=weight.device).index_add(0, bag_index, rows)
    if mode == "mean":
        counts = xp.bincount(bag_of[keep], minlength=bags).astype(weight._array.dtype)
        out = out / _make(xp.maximum(counts, 1)[:, None], weight.device)
    return out


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a trailing class dimension."""
    if tensor.dtype is not _dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._array
    xp = tensor._backend().xp
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size and (a.min() < 0):
        raise RuntimeError("Class values must be non-negative.")
    if a.size and a.max() >= num_classes:
        raise RuntimeError(f"Class values must be smaller than num_classes (got class {int(a.max())} with "
                           f"num_classes={num_classes}).")
    out = (a[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return _make(out, tensor.device)
