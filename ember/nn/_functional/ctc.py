"""CTC loss: nn.functional.ctc_loss's argument handling and reduction; the recursions and the gradient are the
CtcLoss primitive's, in ember/ops/ctc.py."""
import numpy as np

from ... import _dtype as _dt
from ..._tensor import Tensor, _make
from ...ops.comparison import where
from ...ops.ctc import CtcLoss

__all__ = ["ctc_loss"]


def _lengths(value, n, name):
    """The lengths as a host int64 array (PyTorch reads them on the host too, whatever their device)."""
    if isinstance(value, Tensor):
        arr = value._backend().to_numpy(value._array).reshape(-1).astype(np.int64)
    else:
        arr = np.asarray(value, dtype=np.int64).reshape(-1)
    if arr.shape[0] != n:
        raise RuntimeError(f"ctc_loss: expected {name} to have {n} entries (one per batch element), got {arr.shape[0]}")
    return arr


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss (PyTorch's semantics and gradient)."""
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if targets.ndim == 1:
            targets = targets.unsqueeze(0)
    if log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: expected log_probs of shape (T, N, C) or (T, C), got {tuple(log_probs.shape)}")
    T, N, C = log_probs.shape
    xp = log_probs._backend().xp
    in_len = _lengths(input_lengths, N, "input_lengths")
    tgt_len = _lengths(target_lengths, N, "target_lengths")
    if (in_len > T).any() or (in_len < 1).any():
        raise RuntimeError(f"ctc_loss: input_lengths must be in [1, {T}] (the time dimension of log_probs), got "
                           f"{in_len.tolist()}")
    tgt = targets._array if isinstance(targets, Tensor) else xp.asarray(targets)
    if tgt.ndim == 1:                                        # concatenated targets
        if tgt.shape[0] != tgt_len.sum():
            raise RuntimeError(f"ctc_loss: 1-D targets must hold sum(target_lengths) = {int(tgt_len.sum())} labels, "
                               f"got {tgt.shape[0]}")
        offsets = np.concatenate(([0], np.cumsum(tgt_len)[:-1]))
        smax = int(tgt_len.max()) if N else 0
        padded = xp.full((N, max(smax, 1)), blank, dtype=xp.int64)
        for n in range(N):                                    # one slice per batch element
            padded[n, :tgt_len[n]] = tgt[offsets[n]:offsets[n] + tgt_len[n]]
        tgt = padded
    elif tgt.ndim == 2:
        if tgt.shape[0] != N:
            raise RuntimeError(f"ctc_loss: targets batch size {tgt.shape[0]} does not match log_probs batch size {N}")
        if (tgt_len > tgt.shape[1]).any():
            raise RuntimeError(f"ctc_loss: target_lengths {tgt_len.tolist()} exceed the targets' length {tgt.shape[1]}")
    smax = max(int(tgt_len.max()) if N else 0, 1)
    tgt = tgt[:, :smax].astype(xp.int64)
    if tgt.size and ((tgt < 0) | (tgt >= C)).any():
        raise IndexError(f"ctc_loss: target labels must be in [0, {C - 1}]")
    ext = xp.full((N, 2 * smax + 1), blank, dtype=xp.int64)
    ext[:, 1::2] = tgt
    if log_probs.dtype.category < _dt.FLOAT:
        raise RuntimeError("ctc_loss: log_probs must be floating point")
    nll = CtcLoss.apply(log_probs, ext, xp.asarray(in_len), xp.asarray(2 * tgt_len + 1), blank=blank,
                        zero_infinity=zero_infinity)
    if zero_infinity:
        nll = where(_make(xp.isfinite(nll._array), nll.device), nll, 0.0)
    if reduction == "none":
        return nll.squeeze(0) if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    divisor = _make(xp.asarray(np.maximum(tgt_len, 1).astype(log_probs._array.dtype)), log_probs.device)
    return (nll / divisor).mean()
