"""CTC loss: forward (alpha) and backward (beta) recursions in log space, vectorised over the batch
and the extended label positions; Python loops run over time steps only."""
from ... import _dtype as _dt
from ..._tensor import Tensor, _make
from ...autograd.function import Op
from ...ops.pointwise import where

__all__ = ["ctc_loss"]


def _lse3(xp, a, b, c):
    m = xp.maximum(xp.maximum(a, b), c)
    safe = xp.where(xp.isfinite(m), m, 0)
    with xp.errstate(divide="ignore"):
        return xp.log(xp.exp(a - safe) + xp.exp(b - safe) + xp.exp(c - safe)) + safe


def _shift(xp, a, k, fill):
    """a shifted right by k along the last axis (positions s take a[s - k])."""
    out = xp.full(a.shape, fill, dtype=a.dtype)
    out[..., k:] = a[..., :a.shape[-1] - k]
    return out


def _shift_left(xp, a, k, fill):
    out = xp.full(a.shape, fill, dtype=a.dtype)
    out[..., :a.shape[-1] - k] = a[..., k:]
    return out


class CtcLoss(Op):
    """Per-sample negative log likelihood of the targets under all CTC alignments (log_probs (T, N, C))."""
    node_name = "CtcLossBackward0"

    @staticmethod
    def forward(ctx, log_probs, ext, input_lengths, label_lengths, blank, zero_infinity):
        xp = ctx.xp
        T, N, _ = log_probs.shape
        L = ext.shape[1]
        neg = -xp.inf
        batch = xp.arange(N)[:, None]
        emit = log_probs[:, batch, ext]                                         # (T, N, L)
        # s may come from s - 2 when it is a label that differs from the label two back
        skip = (ext != blank) & (ext != _shift(xp, ext, 2, blank))
        skip[:, :2] = False
        valid = xp.arange(L)[None, :] < label_lengths[:, None]                  # (N, L)
        alpha = xp.full((T, N, L), neg, dtype=log_probs.dtype)
        alpha[0, :, 0] = emit[0, :, 0]
        alpha[0, :, 1] = xp.where(label_lengths > 1, emit[0, :, 1], neg)
        for t in range(1, T):
            prev = alpha[t - 1]
            two = xp.where(skip, _shift(xp, prev, 2, neg), neg)
            alpha[t] = xp.where(valid, _lse3(xp, prev, _shift(xp, prev, 1, neg), two) + emit[t], neg)
        last = input_lengths - 1
        end = alpha[last, xp.arange(N)]                                          # (N, L)
        a1 = end[xp.arange(N), label_lengths - 1]
        a2 = xp.where(label_lengths > 1, end[xp.arange(N), xp.maximum(label_lengths - 2, 0)], neg)
        nll = -xp.logaddexp(a1, a2)
        ctx.zero_infinity = zero_infinity
        ctx.state = (alpha, emit, skip, valid, ext, input_lengths, label_lengths, nll, log_probs.shape)
        ctx.save_for_backward(log_probs)
        return nll.astype(log_probs.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        alpha, emit, skip, valid, ext, input_lengths, label_lengths, nll, shape = ctx.state
        (log_probs,) = ctx.saved_tensors
        xp = ctx.xp
        lp = log_probs._array
        T, N, C = shape
        L = ext.shape[1]
        neg = -xp.inf
        beta = xp.full((T, N, L), neg, dtype=lp.dtype)
        rows = xp.arange(N)
        skip_next = _shift_left(xp, skip, 2, False)                                 # s + 2 may skip back to s
        for t in range(T - 1, -1, -1):
            starts = input_lengths - 1 == t
            init = xp.full((N, L), neg, dtype=lp.dtype)
            init[rows, label_lengths - 1] = emit[t, rows, label_lengths - 1]
            second = xp.maximum(label_lengths - 2, 0)
            init[rows, second] = xp.where(label_lengths > 1, emit[t, rows, second], init[rows, second])
            if t < T - 1:
                nxt = beta[t + 1]
                two = xp.where(skip_next, _shift_left(xp, nxt, 2, neg), neg)
                rec = _lse3(xp, nxt, _shift_left(xp, nxt, 1, neg), two) + emit[t]
            else:
                rec = xp.full((N, L), neg, dtype=lp.dtype)
            inside = (t < input_lengths - 1)[:, None]
            beta[t] = xp.where(starts[:, None], init, xp.where(inside & valid, rec, neg))
        # log of the occupancy of each class at each step: logsumexp of alpha + beta over positions of that class
        ab = alpha + beta
        m = ab.max(axis=2, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        onehot = (ext[:, :, None] == xp.arange(C)[None, None, :]).astype(lp.dtype)   # (N, L, C)
        with xp.errstate(divide="ignore"):
            lcab = xp.log(xp.einsum("tnl,nlc->tnc", xp.exp(ab - m), onehot)) + m
        # PyTorch's gradient: exp(lp) - exp(lcab + nll - lp), equal to the true one after log_softmax
        with xp.errstate(over="ignore", invalid="ignore"):
            g = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        g = xp.where((xp.arange(T)[:, None] < input_lengths[None, :])[:, :, None], g, 0)
        g = xp.where(xp.isfinite(nll)[None, :, None], g, 0) if ctx.zero_infinity else g
        return _make(g.astype(lp.dtype, copy=False), grad._device) * grad.reshape(1, N, 1), None, None, None


def _lengths(value, n, name):
    if isinstance(value, Tensor):
        arr = value._array.reshape(-1).astype("int64")
    else:
        import numpy as np
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
        offsets = xp.concatenate(([0], xp.cumsum(tgt_len)[:-1]))
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
    nll = CtcLoss.apply(log_probs, ext, in_len, 2 * tgt_len + 1, blank=blank, zero_infinity=zero_infinity)
    if zero_infinity:
        nll = where(_make(xp.isfinite(nll._array), nll.device), nll, 0.0)
    if reduction == "none":
        return nll.squeeze(0) if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    divisor = _make(xp.maximum(tgt_len, 1).astype(log_probs._array.dtype), log_probs.device)
    return (nll / divisor).mean()
