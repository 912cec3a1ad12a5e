"""Primitives for recurrent layers: whole LSTM, GRU and RNN layers (Note [fused LSTM layer]), and for the
per-step path (packed sequences, projections, the cells, create_graph) the per-step split of a sequence and
fused LSTM / GRU gate math.

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


# --- a whole LSTM, GRU or RNN layer (one direction) in one node ----------------------------------------------
# Note [fused LSTM layer]: nn.LSTM runs each layer and direction of an unpacked float32/float64 sequence as one
# LSTMLayer node, PyTorch's mkldnn_rnn_layer (the per-step path above records ~5 nodes a step, and the char-LSTM
# benchmark spent ~8 ms a training step on their Python). What a step costs is a few small ufuncs besides its
# GEMM, so the layout serves them: states are column-major (hidden, batch), each step's blocks contiguous
# (NumPy runs a ufunc on a strided (16, 96) slice ~2x slower than on a contiguous one). Forward, a step is one GEMM
# [W_ih | W_hh | b_ih + b_hh] @ [x_t; h; 1] (the input projection rides along: no separate add), whose tanh is
# written straight into the step's gate block [o; i; f; g; c_prev]; sigmoid(z) = (tanh(z/2) + 1) / 2 with the
# 1/2 folded into the weight rows of o, i, f (exact), so one tanh covers every gate and two scalar ufuncs make
# the three sigmoids; [i; f] * [g; c_prev] is one ufunc, and c_t lands in the next step's c_prev slot, h_t in the
# next step's input column. Backward is BPTT on arrays: the gate derivatives that do not recur are formed for
# every step at once, the loop keeps the recurrent part (one GEMM and five ufuncs a step), and the weight and
# input gradients are one GEMM each over all steps. With create_graph (Note [plain backward]) backward
# recomputes the layer from its saved inputs with the per-step cells above and differentiates that on tensors,
# so double backward works as before. GRULayer and RNNLayer apply the same ideas (their docstrings say how).

class LSTMLayer(Op):
    """One LSTM layer, one direction, over a time-major (steps, batch, input) sequence (any strides):
    (output (steps, batch, hidden), h_n, c_n). `batch_major` lays the output's memory out as (batch, steps,
    hidden), so that its transpose (batch_first) is contiguous."""
    node_name = "MkldnnRnnLayerBackward0"          # PyTorch's CPU LSTM layer

    @staticmethod
    def forward(ctx, input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, batch_major):
        xp, backend = ctx.xp, ctx.backend
        hidden, features = w_hh.shape[1], w_ih.shape[1]
        steps, batch = input.shape[:2]
        dtype = input.dtype
        # one GEMM a step: [W_ih | W_hh | b_ih + b_hh] @ [x_t; h; 1], the gates in the order o, i, f, g
        weight = _gates_oifg(xp, _joined_weight(xp, w_ih, w_hh, b_ih, b_hh))
        weight[:3 * hidden] *= 0.5                  # i, f, o compute tanh(z / 2): sigmoid(z) = (tanh(z / 2) + 1) / 2
        # gates[p] = [o; i; f; g; c_prev] (column-major, p the step's place in processing order)
        stack = _input_stack(xp, input, h0, weight.shape[1], reverse)
        gates = _scratch(xp, (steps + 1, 5 * hidden, batch), input)
        gates[0, 4 * hidden:] = c0.T
        tanh_c = _scratch(xp, (steps, hidden, batch), input)
        pair = xp.empty((2 * hidden, batch), dtype=dtype)
        ig, fc = pair[:hidden], pair[hidden:]
        multiply, tanh, add = xp.multiply, xp.tanh, xp.add
        now = gates[:steps]                        # each step's views, made by iteration (half a slice's cost)
        for inputs, z, sig, i_f, g_c, o, c_next, tc, h_next in zip(
                stack[:steps], now[:, :4 * hidden], now[:, :3 * hidden], now[:, hidden:3 * hidden],
                now[:, 3 * hidden:], now[:, :hidden], gates[1:, 4 * hidden:], tanh_c,
                stack[1:, features:features + hidden]):
            tanh(backend.matmul(weight, inputs), out=z)
            sig *= 0.5
            sig += 0.5
            multiply(i_f, g_c, out=pair)           # [i * g; f * c_prev]
            multiply(o, tanh(add(ig, fc, out=c_next), out=tc), out=h_next)
        ctx.save_for_backward(input, h0, c0, w_ih, w_hh, b_ih, b_hh)
        c_n = gates[steps, 4 * hidden:].T.copy()     # copies: the buffers go back to the pool (batch 1: no view)
        if any(ctx.needs_input_grad):
            ctx.gates, ctx.tanh_c = gates, tanh_c
        output, h_n = _sequence_output(ctx, stack, (stack, gates, tanh_c), features, hidden, reverse, batch_major)
        return output, h_n, c_n

    @staticmethod
    def backward(ctx, grad_output, grad_h, grad_c):
        input, h0, c0, w_ih, w_hh, b_ih, b_hh = ctx.saved_tensors
        if _State.grad_enabled:
            return _layer_recorded(ctx, lambda *inputs: _lstm_layer_composed(*inputs, ctx.reverse),
                                   (input, h0, c0, w_ih, w_hh, b_ih, b_hh), (grad_output, grad_h, grad_c))
        xp, backend = ctx.xp, ctx.backend
        gates, tanh_c = ctx.gates, ctx.tanh_c
        steps, hidden, batch = tanh_c.shape
        multiply, subtract = xp.multiply, xp.subtract
        # what does not recur, for every step at once: d[o; i; f; g] = [dh k_o; dc k_i; dc k_f; dc k_g] with
        # dc = dc_next + dh k_c, where k_o = tanh(c) o (1 - o), k_i = g i (1 - i), k_f = c_prev f (1 - f),
        # k_g = i (1 - g^2), k_c = o (1 - tanh(c)^2); k = [k_c; k_o; k_i; k_f; k_g] as the gradient's blocks
        act = gates[:steps]
        o, i, f = act[:, :hidden], act[:, hidden:2 * hidden], act[:, 2 * hidden:3 * hidden]
        g, c_prev = act[:, 3 * hidden:4 * hidden], act[:, 4 * hidden:]
        k = _scratch(xp, (steps, 5 * hidden, batch), tanh_c)
        sig = k[:, hidden:4 * hidden]
        subtract(1, act[:, :3 * hidden], out=sig)
        sig *= act[:, :3 * hidden]
        k[:, hidden:2 * hidden] *= tanh_c
        k[:, 2 * hidden:3 * hidden] *= g
        k[:, 3 * hidden:4 * hidden] *= c_prev
        for block, factor, other in ((k[:, 4 * hidden:], g, i), (k[:, :hidden], tanh_c, o)):
            multiply(factor, factor, out=block)
            subtract(1, block, out=block)
            block *= other
        g_out = _time_major_grad(ctx, grad_output)
        w_hh_t = xp.ascontiguousarray(_gates_oifg(xp, w_hh._array).T)
        dh = grad_h._array.T
        dc = grad_c._array.T.copy()                # updated in place below
        # each step's k becomes its gradient in place, [dc_part; d o; d i; d f; d g] (one big buffer fewer)
        k5 = k.reshape(steps, 5, hidden, batch)
        for g_t, d_c_o, dc_part, d_ifg, f_t, d_gates in zip(
                g_out[::-1], k5[::-1, :2], k[::-1, :hidden], k5[::-1, 2:], f[::-1], k[::-1, hidden:]):
            dh = dh + g_t
            multiply(dh, d_c_o, out=d_c_o)         # [dh k_c; dh k_o]
            dc += dc_part
            multiply(dc, d_ifg, out=d_ifg)
            dc *= f_t
            dh = backend.matmul(w_hh_t, d_gates)
        grad_input, grad_weight = _input_and_weight_grads(ctx, k[:, hidden:], lambda w: _gates_oifg(xp, w), w_ih,
                                                          (k, g_out))
        needs, device = ctx.needs_input_grad, grad_h._device
        return (grad_input, _make(xp.ascontiguousarray(dh.T), device) if needs[1] else None,
                _make(xp.ascontiguousarray(dc.T), device) if needs[2] else None,
                *_split_weight_grad(ctx, grad_weight if grad_weight is None else _gates_ifgo(xp, grad_weight),
                                    input.shape[2], hidden, device))


class RNNLayer(Op):
    """One Elman RNN layer (tanh, or relu), one direction, over a time-major sequence: (output, h_n), laid out as
    LSTMLayer's. With no gates to slice, its steps stay row-major (batch, hidden): the input projection of every
    step is one GEMM (with both biases, as the per-step path adds them), then a GEMM, an add and the activation a
    step; backward's GEMMs need no transposes."""

    @staticmethod
    def forward(ctx, input, h0, w_ih, w_hh, b_ih, b_hh, relu, reverse, batch_major):
        xp, backend = ctx.xp, ctx.backend
        steps, batch, features = input.shape
        hidden = w_hh.shape[1]
        pre = backend.matmul(input.reshape(steps * batch, features), w_ih.T)
        if b_ih is not None:
            pre += b_ih + b_hh
        pre = pre.reshape(steps, batch, hidden)
        if batch_major:
            output = xp.empty((batch, steps, hidden), dtype=input.dtype).transpose(1, 0, 2)
        else:
            output = xp.empty((steps, batch, hidden), dtype=input.dtype)
        w_hh_t = xp.ascontiguousarray(w_hh.T)      # OpenBLAS is slower on a transposed view (Note [fused LSTM layer])
        activation = xp.maximum if relu else xp.tanh
        h = h0
        for z_in, h_next in zip(pre[::-1], output[::-1]) if reverse else zip(pre, output):
            z = backend.matmul(h, w_hh_t)
            z += z_in
            h = activation(z, 0, out=h_next) if relu else activation(z, out=h_next)
        ctx.save_for_backward(input, h0, w_ih, w_hh, b_ih, b_hh, output)
        if any(ctx.needs_input_grad):
            ctx.relu, ctx.reverse = relu, reverse
        return output, h.copy()

    @staticmethod
    def backward(ctx, grad_output, grad_h):
        input, h0, w_ih, w_hh, b_ih, b_hh, output = ctx.saved_tensors
        if _State.grad_enabled:
            return _layer_recorded(ctx, lambda *inputs: _rnn_layer_composed(*inputs, ctx.relu, ctx.reverse),
                                   (input, h0, w_ih, w_hh, b_ih, b_hh), (grad_output, grad_h))
        xp, backend, reverse = ctx.xp, ctx.backend, ctx.reverse
        h_seq, h0, w_hh = output._array, h0._array, w_hh._array
        steps, batch, hidden = h_seq.shape
        d = _scratch(xp, h_seq.shape, h_seq)     # the activation's derivative, then d pre-activation
        if ctx.relu:
            xp.greater(h_seq, 0, out=d)            # relu'(0) = 0, as PyTorch
        else:
            xp.multiply(h_seq, h_seq, out=d)
            xp.subtract(1, d, out=d)
        dh = grad_h._array
        for g_t, d_t in zip(grad_output._array, d) if reverse else zip(grad_output._array[::-1], d[::-1]):
            dh = dh + g_t
            xp.multiply(dh, d_t, out=d_t)
            dh = backend.matmul(d_t, w_hh)
        rows = d.reshape(steps * batch, hidden)
        needs, device = ctx.needs_input_grad, grad_h._device
        grad_input = grad_w_ih = grad_w_hh = grad_bias = None
        if needs[0]:
            grad_input = _make(backend.matmul(rows, w_ih._array).reshape(input.shape), device)
        if needs[2]:
            x = input._array
            grad_w_ih = _make(backend.matmul(rows.T, x.reshape(steps * batch, x.shape[2])), device)
        if needs[3]:
            h_prev = xp.concatenate((h_seq[1:], h0[None]) if reverse else (h0[None], h_seq[:-1]))
            grad_w_hh = _make(backend.matmul(rows.T, h_prev.reshape(steps * batch, hidden)), device)
        if needs[4] or needs[5]:                   # (neither without biases)
            grad_bias = _make(rows.sum(0), device)
        _release(xp, (d,))
        return (grad_input, _make(dh, device) if needs[1] else None, grad_w_ih, grad_w_hh,
                grad_bias if needs[4] else None, (grad_bias.clone() if needs[4] else grad_bias) if needs[5] else None)


class GRULayer(Op):
    """One GRU layer, one direction, as LSTMLayer: (output, h_n). n = tanh(W_in x + b_in + r (W_hn h + b_hn)) keeps
    W_hn h + b_hn apart, so the step's GEMM has four row blocks [r; z; n_h; n_x] over [x_t; h; 1] (n_h without
    x, n_x without h); r and z are sigmoids through tanh as LSTMLayer's gates. Backward: every gate gradient of a
    step is dh times a factor known after forward, so the loop is one broadcast product, a GEMM and two adds."""

    @staticmethod
    def forward(ctx, input, h0, w_ih, w_hh, b_ih, b_hh, reverse, batch_major):
        xp, backend = ctx.xp, ctx.backend
        hidden, features = w_hh.shape[1], w_ih.shape[1]
        steps, batch = input.shape[:2]
        dtype = input.dtype
        weight = xp.zeros((4 * hidden, features + hidden + (b_ih is not None)), dtype=dtype)
        weight[:2 * hidden, :features] = w_ih[:2 * hidden]
        weight[3 * hidden:, :features] = w_ih[2 * hidden:]
        weight[:2 * hidden, features:features + hidden] = w_hh[:2 * hidden]
        weight[2 * hidden:3 * hidden, features:features + hidden] = w_hh[2 * hidden:]
        if b_ih is not None:
            weight[:2 * hidden, -1] = b_ih[:2 * hidden] + b_hh[:2 * hidden]
            weight[2 * hidden:3 * hidden, -1] = b_hh[2 * hidden:]
            weight[3 * hidden:, -1] = b_ih[2 * hidden:]
        weight[:2 * hidden] *= 0.5                  # r, z: sigmoid(z) = (tanh(z / 2) + 1) / 2
        stack = _input_stack(xp, input, h0, weight.shape[1], reverse)
        gates = _scratch(xp, (steps, 4 * hidden, batch), input)           # [r; z; n_h; n] a step
        blend = xp.empty((hidden, batch), dtype=dtype)
        multiply, tanh = xp.multiply, xp.tanh
        for inputs, rz, r, z, n_h, n, h, h_next in zip(
                stack[:steps], gates[:, :2 * hidden], gates[:, :hidden], gates[:, hidden:2 * hidden],
                gates[:, 2 * hidden:3 * hidden], gates[:, 3 * hidden:], stack[:steps, features:features + hidden],
                stack[1:, features:features + hidden]):
            m = backend.matmul(weight, inputs)
            tanh(m[:2 * hidden], out=rz)
            rz *= 0.5
            rz += 0.5
            n_h[...] = m[2 * hidden:3 * hidden]
            multiply(r, n_h, out=blend)
            blend += m[3 * hidden:]
            tanh(blend, out=n)
            xp.subtract(h, n, out=blend)           # h' = n + z (h - n)
            blend *= z
            xp.add(n, blend, out=h_next)
        ctx.save_for_backward(input, h0, w_ih, w_hh, b_ih, b_hh)
        if any(ctx.needs_input_grad):
            ctx.gates = gates
        return _sequence_output(ctx, stack, (stack, gates), features, hidden, reverse, batch_major)

    @staticmethod
    def backward(ctx, grad_output, grad_h):
        input, h0, w_ih, w_hh, b_ih, b_hh = ctx.saved_tensors
        if _State.grad_enabled:
            return _layer_recorded(ctx, lambda *inputs: _gru_layer_composed(*inputs, ctx.reverse),
                                   (input, h0, w_ih, w_hh, b_ih, b_hh), (grad_output, grad_h))
        xp, backend = ctx.xp, ctx.backend
        gates, stack = ctx.gates, ctx.stack
        steps, _, batch = gates.shape
        features, hidden = input.shape[2], w_hh.shape[1]
        multiply, subtract = xp.multiply, xp.subtract
        r, z = gates[:, :hidden], gates[:, hidden:2 * hidden]
        n_h, n = gates[:, 2 * hidden:3 * hidden], gates[:, 3 * hidden:]
        # d[r; z; n_h; n_x; h_direct] = dh k with k_n_x = (1 - z)(1 - n^2), k_n_h = k_n_x r,
        # k_r = k_n_h n_h (1 - r), k_z = (h_prev - n) z (1 - z), k_h_direct = z
        k = _scratch(xp, (steps, 5 * hidden, batch), gates)
        k_r, k_z, k_nh = k[:, :hidden], k[:, hidden:2 * hidden], k[:, 2 * hidden:3 * hidden]
        k_nx = k[:, 3 * hidden:4 * hidden]
        multiply(n, n, out=k_nx)
        subtract(1, k_nx, out=k_nx)
        subtract(1, z, out=k_z)
        k_nx *= k_z
        multiply(k_nx, r, out=k_nh)
        subtract(1, r, out=k_r)
        k_r *= k_nh
        k_r *= n_h
        subtract(stack[:steps, features:features + hidden], n, out=k_z)
        k_z *= z
        k_h = k[:, 4 * hidden:]
        subtract(1, z, out=k_h)
        k_z *= k_h
        k_h[...] = z
        g_out = _time_major_grad(ctx, grad_output)
        w_h = xp.ascontiguousarray(w_hh._array.T)       # (hidden, 3 hidden): rows r, z, n as d's first three
        dh = grad_h._array.T
        k5 = k.reshape(steps, 5, hidden, batch)
        for g_t, d, d_rz_nh, d_direct in zip(g_out[::-1], k5[::-1], k[::-1, :3 * hidden], k[::-1, 4 * hidden:]):
            dh = dh + g_t
            multiply(dh, d, out=d)
            dh = backend.matmul(w_h, d_rz_nh)
            dh += d_direct
        grad_input, grad_weight = _input_and_weight_grads(ctx, k[:, :4 * hidden], lambda w: _gru_input_rows(xp, w),
                                                          w_ih, (k, g_out))
        needs, device = ctx.needs_input_grad, grad_h._device
        grads = [None] * 4
        if grad_weight is not None:                # rows [r; z; n_h; n_x]: W_ih's are r, z, n_x, W_hh's r, z, n_h
            x_rows = xp.concatenate((grad_weight[:2 * hidden], grad_weight[3 * hidden:]))
            h_rows = grad_weight[:3 * hidden]
            parts = (x_rows[:, :features], h_rows[:, features:features + hidden], x_rows[:, -1], h_rows[:, -1])
            grads = [_make(xp.ascontiguousarray(part), device) if need else None
                     for part, need in zip(parts, needs[2:])]
        return (grad_input, _make(xp.ascontiguousarray(dh.T), device) if needs[1] else None, *grads)


def _gru_input_rows(xp, w_ih):
    """W_ih (rows r, z, n) laid out as GRULayer's gate rows [r; z; n_h; n_x] (zeros for n_h)."""
    hidden = w_ih.shape[0] // 3
    return xp.concatenate((w_ih[:2 * hidden], xp.zeros_like(w_ih[:hidden]), w_ih[2 * hidden:]))


# --- the layers' helpers --------------------------------------------------------------------------------------------

def _joined_weight(xp, w_ih, w_hh, b_ih, b_hh):
    """[W_ih | W_hh | b_ih + b_hh]: the weight of the one GEMM a step, [x_t; h; 1] its right operand."""
    return xp.concatenate((w_ih, w_hh) if b_ih is None else (w_ih, w_hh, (b_ih + b_hh)[:, None]), 1)


def _input_stack(xp, input, h0, width, reverse):
    """stack[p] = [x_t; h_prev; 1] (width rows, column-major: (features, batch) blocks), p the step's place in
    processing order (the reverse direction runs time backwards); the steps write h_t into stack[p + 1]."""
    steps, batch, features = input.shape
    stack = _scratch(xp, (steps + 1, width, batch), input)
    stack[:steps, :features] = (input[::-1] if reverse else input).transpose(0, 2, 1)
    stack[0, features:features + h0.shape[1]] = h0.T
    if width > features + h0.shape[1]:
        stack[:, -1] = 1
    return stack


def _sequence_output(ctx, stack, arrays, features, hidden, reverse, batch_major):
    """(output, h_n) from the stack; `arrays` are kept for backward when recorded (Note [LSTM scratch]), else
    handed back."""
    xp = ctx.xp
    steps, _, batch = stack.shape
    steps -= 1
    h_seq = stack[1:, features:features + hidden]
    h_seq = h_seq[::-1] if reverse else h_seq
    if batch_major:
        output = xp.empty((batch, steps, hidden), dtype=stack.dtype)
        output[...] = h_seq.transpose(2, 0, 1)
        output = output.transpose(1, 0, 2)
    else:
        output = h_seq.transpose(0, 2, 1).copy()   # copies: the stack goes back to the pool (batch 1: no view)
    h_n = stack[steps, features:features + hidden].T.copy()
    if any(ctx.needs_input_grad):                  # recorded (the shared no-grad ctx keeps nothing)
        ctx.stack, ctx.reverse, ctx.lease = stack, reverse, _Lease(xp, arrays)
    else:
        _release(xp, arrays)
    return output, h_n


def _time_major_grad(ctx, grad_output):
    """The output's gradient as (steps, hidden, batch) blocks in processing order."""
    array = grad_output._array
    g_out = _scratch(ctx.xp, (array.shape[0], array.shape[2], array.shape[1]), array)
    g_out[...] = (array[::-1] if ctx.reverse else array).transpose(0, 2, 1)
    return g_out


def _input_and_weight_grads(ctx, grad_gates, arrange, w_ih, scratch):
    """The input's gradient and the joined weight's (rows in the op's gate order), each one GEMM over all steps,
    from the pre-activation gradients (steps, gates, batch) in processing order; hands `scratch` back."""
    xp, backend, needs, reverse = ctx.xp, ctx.backend, ctx.needs_input_grad, ctx.reverse
    steps, rows, batch = grad_gates.shape
    d_gates = _scratch(xp, (rows, steps, batch), grad_gates)        # rows (time, batch) in time order
    d_gates[...] = (grad_gates[::-1] if reverse else grad_gates).transpose(1, 0, 2)
    scratch = [*scratch, d_gates]
    d_gates = d_gates.reshape(rows, steps * batch)
    grad_input = grad_weight = None
    if needs[0]:
        weight = w_ih._array if arrange is None else arrange(w_ih._array)
        grad_input = _make(backend.matmul(d_gates.T, weight).reshape(steps, batch, -1), w_ih._device)
    if any(needs[-4:]):
        stack = ctx.stack
        inputs = _scratch(xp, (stack.shape[1], steps, batch), stack)   # moved as d_gates: blocks of batch
        inputs[...] = (stack[steps - 1::-1] if reverse else stack[:steps]).transpose(1, 0, 2)
        scratch.append(inputs)
        grad_weight = backend.matmul(d_gates, inputs.reshape(-1, steps * batch).T)
    _release(xp, scratch)
    return grad_input, grad_weight


def _split_weight_grad(ctx, grad_weight, features, hidden, device):
    """The joined weight's gradient (rows in PyTorch's gate order) as those of W_ih, W_hh, b_ih and b_hh, the
    op's last four inputs."""
    needs = ctx.needs_input_grad[-4:]
    if grad_weight is None:
        return None, None, None, None
    xp = ctx.xp
    grad_w_ih = _make(xp.ascontiguousarray(grad_weight[:, :features]), device) if needs[0] else None
    grad_w_hh = _make(xp.ascontiguousarray(grad_weight[:, features:features + hidden]), device) if needs[1] else None
    grad_bias = None
    if needs[2] or needs[3]:                       # (neither without biases)
        grad_bias = _make(xp.ascontiguousarray(grad_weight[:, -1]), device)
    return (grad_w_ih, grad_w_hh, grad_bias if needs[2] else None,
            (grad_bias.clone() if needs[2] else grad_bias) if needs[3] else None)


# Note [LSTM scratch]: LSTMLayer's big arrays are kept for the next call: a fresh array of ~1 MB comes from mmap,
# and first touching its pages (page faults, zeroing) cost the char-LSTM benchmark ~360 faults a training step
# (~0.3-1 ms, more on a busy machine). backward's temporaries return when it ends; what forward keeps for
# backward returns when the graph holding it goes (the node's _Lease), never earlier, so retain_graph and a
# second backward are safe. Taking an array pops it, so two threads never share one; a few shapes are kept.
_SCRATCH = {}
_SCRATCH_BYTES = 1 << 25                  # what the pool may hold: 32 MiB


def _scratch(xp, shape, like):
    """An array of `shape` with the dtype and device of the array `like` (a GPU's arrays stay on it)."""
    free = _SCRATCH.get((xp, getattr(like, "device", None), shape, like.dtype))
    if free:
        try:
            return free.pop()
        except IndexError:                         # another thread took it meanwhile
            pass
    return xp.empty(shape, dtype=like.dtype)


def _release(xp, arrays):
    held = sum(a.nbytes for free in _SCRATCH.values() for a in free)
    if held > _SCRATCH_BYTES or len(_SCRATCH) > 16:
        _SCRATCH.clear()
    for array in arrays:
        # NumPy backs arrays from 4 MiB on with huge pages (few faults), so only smaller ones are kept
        if array.nbytes <= 1 << 22:
            free = _SCRATCH.setdefault((xp, getattr(array, "device", None), array.shape, array.dtype), [])
            if len(free) < 4:
                free.append(array)


class _Lease:
    """Arrays a node holds for its backward, handed back to the scratch pool when the node goes."""
    __slots__ = ("xp", "arrays")

    def __init__(self, xp, arrays):
        self.xp, self.arrays = xp, arrays

    def __del__(self):
        if _release is not None:                   # (None when the interpreter is shutting down)
            _release(self.xp, self.arrays)


def _gates_oifg(xp, weight):
    """Rows in PyTorch's gate order i, f, g, o moved to o, i, f, g (the sigmoid gates o, i, f contiguous)."""
    hidden = weight.shape[0] // 4
    return xp.concatenate((weight[3 * hidden:], weight[:3 * hidden]))


def _gates_ifgo(xp, weight):
    """_gates_oifg undone."""
    hidden = weight.shape[0] // 4
    return xp.concatenate((weight[hidden:], weight[:hidden]))

def lstm_layer(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False, batch_major=False):
    """LSTMLayer on tensors: (output, h_n, c_n) of one layer and direction over a time-major sequence (Note
    [fused LSTM layer])."""
    return LSTMLayer.apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse, batch_major=batch_major)


def rnn_layer(input, h0, w_ih, w_hh, b_ih, b_hh, relu=False, reverse=False, batch_major=False):
    """RNNLayer on tensors: (output, h_n), as lstm_layer."""
    return RNNLayer.apply(input, h0, w_ih, w_hh, b_ih, b_hh, relu=relu, reverse=reverse, batch_major=batch_major)


def gru_layer(input, h0, w_ih, w_hh, b_ih, b_hh, reverse=False, batch_major=False):
    """GRULayer on tensors: (output, h_n), as lstm_layer."""
    return GRULayer.apply(input, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse, batch_major=batch_major)


def _step_inputs(input, w_ih, bias):
    """Each step's input projection (one matmul for the sequence, split once) and the step order."""
    from .linear import linear
    steps, batch = input.shape[:2]
    pieces = split_rows(linear(input.reshape(steps * batch, input.shape[2]), w_ih, bias), [batch] * steps)
    return pieces, steps, batch


def _lstm_layer_composed(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """The layer as per-step LSTMCell nodes (differentiable twice): LSTMLayer's create_graph backward."""
    from .linear import linear
    pieces, steps, batch = _step_inputs(input, w_ih, None if b_ih is None else b_ih + b_hh)
    outputs = [None] * steps
    h, c = h0, c0
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        h, c = LSTMCell.apply(pieces[t], linear(h, w_hh, None), c)
        outputs[t] = h
    return cat(outputs, 0).reshape(steps, batch, h.shape[-1]), h, c


def _rnn_layer_composed(input, h0, w_ih, w_hh, b_ih, b_hh, relu, reverse):
    """RNNLayer with per-step differentiable ops: its create_graph backward."""
    from .linear import linear
    pieces, steps, batch = _step_inputs(input, w_ih, b_ih)
    outputs = [None] * steps
    h = h0
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        pre = pieces[t] + linear(h, w_hh, b_hh)
        h = pre.relu() if relu else tanh(pre)
        outputs[t] = h
    return cat(outputs, 0).reshape(steps, batch, h.shape[-1]), h


def _layer_recorded(ctx, composed, inputs, grads):
    """A fused layer's backward under create_graph: the layer recomputed from its saved inputs with
    differentiable ops (`composed`), then differentiated with the graph kept, so the gradients have history
    (double backward)."""
    from ..autograd import grad as _grad
    needs = ctx.needs_input_grad
    wanted = [k for k in range(len(inputs)) if needs[k]]
    found = _grad(composed(*inputs), [inputs[k] for k in wanted], grads, create_graph=True, allow_unused=True)
    result = [None] * len(inputs)
    for k, value in zip(wanted, found):
        result[k] = value
    return tuple(result)


def _gru_layer_composed(input, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    """GRULayer as per-step GRUCell nodes (differentiable twice): its create_graph backward."""
    from .linear import linear
    pieces, steps, batch = _step_inputs(input, w_ih, b_ih)
    outputs = [None] * steps
    h = h0
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        h = GRUCell.apply(pieces[t], linear(h, w_hh, b_hh), h)
        outputs[t] = h
    return cat(outputs, 0).reshape(steps, batch, h.shape[-1]), h
