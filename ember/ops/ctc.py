"""The CTC loss primitive: CtcLoss runs the forward (alpha) and backward (beta) recursions in log space,
vectorised over the batch and the extended label positions; Python loops run over time steps only. The argument
handling (lengths, target layouts, reduction) is nn.functional.ctc_loss's, in nn/_functional/ctc.py."""
from .._backends import errstate
from .._tensor import _make
from ..autograd.function import Op


def _lse3(xp, a, b, c):
    m = xp.maximum(xp.maximum(a, b), c)
    safe = xp.where(xp.isfinite(m), m, 0)
    with errstate(divide="ignore"):
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
        with errstate(divide="ignore"):
            lcab = xp.log(xp.einsum("tnl,nlc->tnc", xp.exp(ab - m), onehot)) + m
        # PyTorch's gradient: exp(lp) - exp(lcab + nll - lp), equal to the true one after log_softmax
        with errstate(over="ignore", invalid="ignore"):
            g = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        g = xp.where((xp.arange(T)[:, None] < input_lengths[None, :])[:, :, None], g, 0)
        g = xp.where(xp.isfinite(nll)[None, :, None], g, 0) if ctx.zero_infinity else g
        return _make(g.astype(lp.dtype, copy=False), grad._device) * grad.reshape(1, N, 1), None, None, None
