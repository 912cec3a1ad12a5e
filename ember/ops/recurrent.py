"""Primitives for recurrent layers: the per-step split of a sequence and fused LSTM / GRU gate math.

These are primitives rather than compositions of generic ops for a measured speed gain: an LSTM step
written with generic ops is ~15 nodes, and slicing each step out of the sequence makes every step's
backward scatter into a sequence-sized zero tensor. Here a sequence is split once (backward: one
concatenation) and each step's gate nonlinearities are one node. A plain backward
(Note [plain backward]) is array math on what forward kept; with create_graph the cells recompute
their gates from the saved inputs with differentiable ops and write the same formulas on tensors, so
double backward through LSTM and GRU works as in PyTorch.
"""
from .._tensor import _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State
from .joining import cat
from .unary import sigmoid, tanh

__all__ = []


def _sigmoid(xp, x):
    # 1/(1+e^-x) as (1 + tanh(x/2)) / 2: one transcendental, no overflow, no branch on the sign
    out = xp.tanh(x * 0.5)
    out *= 0.5
    out += 0.5
    return out


class SplitRows(Op):
    """Consecutive row blocks of `input` (dim 0) of the given sizes; the gradient is their concatenation."""
    node_name = "SplitWithSizesBackward0"

    @staticmethod
    def forward(ctx, input, sizes):
        ctx.shape = input.shape
        pieces, start = [], 0
        for size in sizes:
            pieces.append(input[start:start + size])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        return cat(list(grads), 0)


def split_rows(input, sizes):
    """The tuple of row blocks; a single block is the input itself."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) == 1:
        return (input,)
    return SplitRows.apply(input, sizes=sizes)


class LSTMCell(Op):
    """(x_gates + h_gates, c) -> (h', c'): gates in PyTorch's order i, f, g, o along the last dim."""
    node_name = "LstmCellBackward0"

    @staticmethod
    def forward(ctx, x_gates, h_gates, c):
        xp = ctx.xp
        hidden = c.shape[-1]
        act = x_gates + h_gates
        act[..., :2 * hidden] = _sigmoid(xp, act[..., :2 * hidden])
        act[..., 2 * hidden:3 * hidden] = xp.tanh(act[..., 2 * hidden:3 * hidden])
        act[..., 3 * hidden:] = _sigmoid(xp, act[..., 3 * hidden:])
        i, f, g, o = (act[..., k * hidden:(k + 1) * hidden] for k in range(4))
        c_next = f * c + i * g
        tanh_c = xp.tanh(c_next)
        ctx.act, ctx.tanh_c = act, tanh_c
        ctx.save_for_backward(x_gates, h_gates, c)
        return o * tanh_c, c_next

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        x_gates, h_gates, c = ctx.saved_tensors
        if _State.grad_enabled:
            return _lstm_backward_recorded(x_gates, h_gates, c, grad_h, grad_c)
        xp, act, tanh_c = ctx.xp, ctx.act, ctx.tanh_c
        hidden = tanh_c.shape[-1]
        i, f, g, o = (act[..., k * hidden:(k + 1) * hidden] for k in range(4))
        gh = grad_h._array
        dc = grad_c._array + gh * o * (1 - tanh_c * tanh_c)
        grad_gates = xp.empty_like(act)
        grad_gates[..., :hidden] = dc * g * i * (1 - i)
        grad_gates[..., hidden:2 * hidden] = dc * c._array * f * (1 - f)
        grad_gates[..., 2 * hidden:3 * hidden] = dc * i * (1 - g * g)
        grad_gates[..., 3 * hidden:] = gh * tanh_c * o * (1 - o)
        device = grad_h.device
        needs = ctx.needs_input_grad
        # both gate inputs get the same gradient; the second is a copy so two .grad never alias
        return (_make(grad_gates, device) if needs[0] else None,
                _make(grad_gates.copy() if needs[0] else grad_gates, device) if needs[1] else None,
                _make(dc * f, device) if needs[2] else None)


class GRUCell(Op):
    """(x_gates, h_gates, h) -> h': gates r, z, n; n = tanh(x_n + r * h_n), h' = (1 - z) n + z h."""
    node_name = "GruCellBackward0"

    @staticmethod
    def forward(ctx, x_gates, h_gates, h):
        xp = ctx.xp
        hidden = h.shape[-1]
        rz = _sigmoid(xp, x_gates[..., :2 * hidden] + h_gates[..., :2 * hidden])
        r, z = rz[..., :hidden], rz[..., hidden:]
        h_n = h_gates[..., 2 * hidden:]
        n = xp.tanh(x_gates[..., 2 * hidden:] + r * h_n)
        ctx.rz, ctx.n, ctx.h_n = rz, n, h_n
        ctx.save_for_backward(x_gates, h_gates, h)
        return n + z * (h - n)

    @staticmethod
    def backward(ctx, grad):
        x_gates, h_gates, h = ctx.saved_tensors
        if _State.grad_enabled:
            return _gru_backward_recorded(x_gates, h_gates, h, grad)
        xp, rz, n, h_n = ctx.xp, ctx.rz, ctx.n, ctx.h_n
        hidden = n.shape[-1]
        r, z = rz[..., :hidden], rz[..., hidden:]
        g = grad._array
        dn = g * (1 - z) * (1 - n * n)
        grad_x = xp.empty(n.shape[:-1] + (3 * hidden,), dtype=n.dtype)
        grad_x[..., :hidden] = dn * h_n * r * (1 - r)
        grad_x[..., hidden:2 * hidden] = g * (h._array - n) * z * (1 - z)
        grad_x[..., 2 * hidden:] = dn
        grad_h_gates = grad_x.copy()
        grad_h_gates[..., 2 * hidden:] *= r
        device = grad.device
        needs = ctx.needs_input_grad
        return (_make(grad_x, device) if needs[0] else None, _make(grad_h_gates, device) if needs[1] else None,
                _make(g * z, device) if needs[2] else None)


def _lstm_backward_recorded(x_gates, h_gates, c, grad_h, grad_c):
    """LSTMCell.backward on tensors (create_graph): the gates recomputed, then the array formulas."""
    hidden = c.shape[-1]
    act = x_gates + h_gates
    i, f = sigmoid(act[..., :hidden]), sigmoid(act[..., hidden:2 * hidden])
    g, o = tanh(act[..., 2 * hidden:3 * hidden]), sigmoid(act[..., 3 * hidden:])
    tanh_c = tanh(f * c + i * g)
    dc = grad_c + grad_h * o * (1 - tanh_c * tanh_c)
    grad_gates = cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                      grad_h * tanh_c * o * (1 - o)], -1)
    return grad_gates, grad_gates * 1, dc * f          # * 1: the two gate inputs never share one tensor


def _gru_backward_recorded(x_gates, h_gates, h, grad):
    """GRUCell.backward on tensors (create_graph): the gates recomputed, then the array formulas."""
    hidden = h.shape[-1]
    rz = sigmoid(x_gates[..., :2 * hidden] + h_gates[..., :2 * hidden])
    r, z = rz[..., :hidden], rz[..., hidden:]
    h_n = h_gates[..., 2 * hidden:]
    n = tanh(x_gates[..., 2 * hidden:] + r * h_n)
    dn = grad * (1 - z) * (1 - n * n)
    d_r = dn * h_n * r * (1 - r)
    d_z = grad * (h - n) * z * (1 - z)
    return cat([d_r, d_z, dn], -1), cat([d_r, d_z, dn * r], -1), grad * z
