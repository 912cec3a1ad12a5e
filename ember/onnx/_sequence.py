"""Converters for sequence models: RNN / LSTM / GRU (ONNX's RNN, LSTM and GRU nodes, one per layer),
scaled_dot_product_attention and multi_head_attention_forward (MatMul / Softmax nodes; nn.MultiheadAttention
and the Transformer layers reach the latter through their traced forward).

Every size these converters write is either static (head counts, head and hidden sizes) or read from the
values at run time (Shape nodes, 0 / -1 in Reshape), so batch and sequence length may be dynamic.
"""
import math

import numpy

from .._tensor import Tensor
from ..nn.modules.rnn import GRU, LSTM, RNN
from ._tracer import UnsupportedOp, converts, converts_module
from ._symbolic import axes_const, dim_of, np_dtype, rank, value


def _where(default):
    """The module the op being converted runs in (for messages)."""
    from ..profiler._instrument import _State
    return _State.tracer.where() if _State.tracer is not None else default


# -- RNN / LSTM / GRU -------------------------------------------------------------------------------------------

# the position of each ONNX gate in PyTorch's stacked weights: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _reordered(g, weight, order, hidden):
    """PyTorch's stacked gate weight (or bias) with its gate blocks in ONNX's order."""
    name = value(g, weight)
    if order == sorted(order):
        return name
    parts = g.node("Split", [name, g.ints([hidden] * len(order))], outputs=len(order), axis=0)
    return g.node("Concat", [parts[i] for i in order], axis=0)


def _stacked(g, names):
    """One direction's value, or both stacked on a new leading axis (ONNX's num_directions)."""
    parts = [g.node("Unsqueeze", [n, axes_const(g, [0])]) for n in names]
    return parts[0] if len(parts) == 1 else g.node("Concat", parts, axis=0)


def _layer_states(g, name, layer, directions, num_layers):
    """Rows [layer * directions, (layer + 1) * directions) of an initial state (num_layers * directions, B, H)."""
    if name is None or num_layers == 1:
        return name or ""
    return g.node("Slice", [name, g.ints([layer * directions]), g.ints([(layer + 1) * directions]),
                            axes_const(g, [0])])


@converts_module(RNN, LSTM, GRU)
def _recurrent(g, module, args, kwargs, output):
    kind = type(module).__name__
    where = _where(kind)
    input = args[0] if args else kwargs.get("input")
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    if not isinstance(input, Tensor):
        raise UnsupportedOp(f"ember.onnx.export: {kind} over a {type(input).__name__} (in {where}): ONNX's "
                            f"{kind} node takes a padded tensor; pass the padded batch instead of a PackedSequence")
    if module.proj_size:
        raise UnsupportedOp(f"ember.onnx.export: LSTM with proj_size={module.proj_size} (in {where}): ONNX's LSTM "
                            "node has no projection of the hidden state")
    if module.training and module.dropout and module.num_layers > 1:
        raise UnsupportedOp(f"ember.onnx.export: {kind} with dropout between layers in training mode (in "
                            f"{where}); export in eval mode")
    mode, hidden, layers = module.mode, module.hidden_size, module.num_layers
    directions = 2 if module.bidirectional else 1
    order = _GATE_ORDER[mode]
    unbatched = rank(input) == 2
    h0 = c0 = None
    if hx is not None:
        h0, c0 = (hx[0], hx[1]) if mode == "LSTM" else (hx, None)

    def batched_state(state):
        if state is None:
            return None
        name = value(g, state)
        return g.node("Unsqueeze", [name, axes_const(g, [1])]) if unbatched else name

    x = value(g, input)
    if unbatched:
        x = g.node("Unsqueeze", [x, axes_const(g, [1])])                       # (T, I) -> (T, 1, I)
    elif module.batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])                            # (B, T, I) -> (T, B, I)
    h_all, c_all = batched_state(h0), batched_state(c0)
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    attributes = {"hidden_size": hidden, "direction": "bidirectional" if directions == 2 else "forward"}
    if op == "RNN":
        attributes["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * directions
    elif op == "GRU":
        attributes["linear_before_reset"] = 1
    h_n, c_n = [], []
    for layer in range(layers):
        w, r, b = [], [], []
        for direction in range(directions):
            w_ih, w_hh, b_ih, b_hh, _ = module._weights(layer, direction)
            w.append(_reordered(g, w_ih, order, hidden))
            r.append(_reordered(g, w_hh, order, hidden))
            if b_ih is not None:
                b.append(g.node("Concat", [_reordered(g, b_ih, order, hidden), _reordered(g, b_hh, order, hidden)],
                                axis=0))
        inputs = [x, _stacked(g, w), _stacked(g, r), _stacked(g, b) if b else "", "",
                  _layer_states(g, h_all, layer, directions, layers)]
        if op == "LSTM":
            inputs.append(_layer_states(g, c_all, layer, directions, layers))
        while inputs[-1] == "":
            inputs.pop()
        outs = g.node(op, inputs, outputs=3 if op == "LSTM" else 2, **attributes)
        y = outs[0]                                                             # (T, D, B, H)
        h_n.append(outs[1])
        if op == "LSTM":
            c_n.append(outs[2])
        if directions == 1:
            x = g.node("Squeeze", [y, axes_const(g, [1])])
        else:                                                                   # (T, B, D, H) -> (T, B, D * H)
            x = g.node("Reshape", [g.node("Transpose", [y], perm=[0, 2, 1, 3]), g.ints([0, 0, -1])])
    out = x
    if unbatched:
        out = g.node("Squeeze", [out, axes_const(g, [1])])
    elif module.batch_first:
        out = g.node("Transpose", [out], perm=[1, 0, 2])

    def final(states):
        name = states[0] if len(states) == 1 else g.node("Concat", states, axis=0)
        return g.node("Squeeze", [name, axes_const(g, [1])]) if unbatched else name

    result, hidden_out = output
    g.bind(result, out)
    if mode == "LSTM":
        g.bind(hidden_out[0], final(h_n))
        g.bind(hidden_out[1], final(c_n))
    else:
        g.bind(hidden_out, final(h_n))


# -- attention ---------------------------------------------------------------------------------------------------

def _additive_mask(g, mask, dtype, keep_true):
    """A boolean mask as 0 / -inf in `dtype` (keep_true: True marks what may be attended); a float mask cast."""
    name = value(g, mask)
    if np_dtype(mask) != numpy.bool_:
        return value(g, mask, dtype)
    zero, minus_inf = g.scalar(0, dtype), g.scalar(-numpy.inf, dtype)
    return g.node("Where", [name] + ([zero, minus_inf] if keep_true else [minus_inf, zero]))


def _reduce(g, op, name, axis, keepdims):
    """A reduction over one axis (its axes an input from opset 18, an attribute before)."""
    if g.opset >= 18:
        return g.node(op, [name, axes_const(g, [axis])], keepdims=keepdims)
    return g.node(op, [name], axes=[axis], keepdims=keepdims)


def _safe_softmax(g, scores, masked, dtype):
    """Softmax over the last axis; with a mask, rows whose every score is -inf give zeros instead of NaN (as
    ember's and PyTorch's attention do)."""
    if not masked:
        return g.node("Softmax", [scores], axis=-1)
    dead = g.node("IsInf", [_reduce(g, "ReduceMax", scores, -1, 1)], detect_positive=0)
    zero = g.scalar(0, dtype)
    weights = g.node("Softmax", [g.node("Where", [dead, zero, scores])], axis=-1)
    return g.node("Where", [dead, zero, weights])


def _swap_last(g, name, n):
    perm = list(range(n))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return g.node("Transpose", [name], perm=perm)


def _repeat_heads(g, name, n, groups, heads, head_dim):
    """(..., Hk, S, E) -> (..., Hk * groups, S, E), each head repeated `groups` times in place (repeat_interleave)."""
    grown = g.node("Unsqueeze", [name, axes_const(g, [n - 2])])                 # (..., Hk, 1, S, E)
    grown = g.node("Expand", [grown, g.ints([1] * (n - 2) + [groups, 1, 1])])
    return g.node("Reshape", [grown, g.ints([0] * (n - 3) + [heads, -1, head_dim])])


@converts("aten::scaled_dot_product_attention")
def _scaled_dot_product_attention(g, call):
    b = call.bound()
    query, key, val = b["query"], b["key"], b["value"]
    mask, dropout_p, is_causal, scale = b["attn_mask"], b["dropout_p"], b["is_causal"], b["scale"]
    if dropout_p:
        raise UnsupportedOp(f"ember.onnx.export: scaled_dot_product_attention with dropout_p={dropout_p} (in "
                            f"{call.module}) drops attention weights at random; pass dropout_p=0.0 when not "
                            "training (e.g. dropout_p=self.dropout if self.training else 0.0)")
    dtype = np_dtype(call.out)
    n = rank(query)
    q, k, v = value(g, query), value(g, key), value(g, val)
    q_shape, k_shape = query._array.shape, key._array.shape          # head counts and sizes: static ints
    if b["enable_gqa"] and n >= 3 and k_shape[-3] != q_shape[-3]:
        groups, heads = q_shape[-3] // k_shape[-3], q_shape[-3]
        k = _repeat_heads(g, k, n, groups, heads, k_shape[-1])
        v = _repeat_heads(g, v, n, groups, heads, val._array.shape[-1])
    scale = 1.0 / math.sqrt(q_shape[-1]) if scale is None else float(scale)
    scores = g.node("MatMul", [g.node("Mul", [q, g.scalar(scale, dtype)]), _swap_last(g, k, rank(key))])
    if is_causal:                        # -inf above the diagonal of an (L, S) matrix built from the real sizes
        from onnx import numpy_helper
        sizes = g.node("Concat", [g.node("Shape", [q], start=-2, end=-1), g.node("Shape", [k], start=-2, end=-1)],
                       axis=0)
        full = g.node("ConstantOfShape", [sizes], value=numpy_helper.from_array(numpy.array([-numpy.inf], dtype)))
        scores = g.node("Add", [scores, g.node("Trilu", [full, g.scalar(1, numpy.int64)], upper=1)])
    elif mask is not None:
        scores = g.node("Add", [scores, _additive_mask(g, mask, dtype, keep_true=True)])
    weights = _safe_softmax(g, scores, mask is not None and not is_causal, dtype)
    g.bind(call.out, g.node("MatMul", [weights, v]))


def _project(g, x, weight, bias):
    """x @ weight^T + bias (value names; bias may be None)."""
    out = g.node("MatMul", [x, g.node("Transpose", [weight], perm=[1, 0])])
    return g.node("Add", [out, bias]) if bias is not None else out


def _third(g, name, i, embed):
    """Rows [i * embed, (i + 1) * embed) of a stacked in-projection weight or bias (None stays None)."""
    if name is None:
        return None
    return g.node("Slice", [name, g.ints([i * embed]), g.ints([(i + 1) * embed]), axes_const(g, [0])])


@converts("aten::multi_head_attention_forward")
def _multi_head_attention(g, call):
    b = call.bound()
    query, key, val = b["query"], b["key"], b["value"]
    embed, heads = int(b["embed_dim_to_check"]), int(b["num_heads"])
    head_dim = embed // heads
    if b["training"] and b["dropout_p"]:
        raise UnsupportedOp(f"ember.onnx.export: multi-head attention with dropout in training mode (in "
                            f"{call.module}); export in eval mode")
    dtype = np_dtype(call.out[0])
    unbatched = rank(query) == 2
    q, k, v = value(g, query), value(g, key), value(g, val)
    padding = b["key_padding_mask"]
    if unbatched:                                                       # (L, E) -> (L, 1, E)
        q, k, v = (g.node("Unsqueeze", [t, axes_const(g, [1])]) for t in (q, k, v))
    # in-projection, as ember computes it: one matmul when query, key and value are one tensor
    b_in = value(g, b["in_proj_bias"]) if b["in_proj_bias"] is not None else None
    if b["use_separate_proj_weight"]:
        q, k, v = (_project(g, t, value(g, b[f"{c}_proj_weight"]), _third(g, b_in, i, embed))
                   for i, (c, t) in enumerate(zip("qkv", (q, k, v))))
    elif query is key and key is val:
        q, k, v = g.node("Split", [_project(g, q, value(g, b["in_proj_weight"]), b_in), g.ints([embed] * 3)],
                         outputs=3, axis=-1)
    else:
        w_in = value(g, b["in_proj_weight"])
        q, k, v = (_project(g, t, _third(g, w_in, i, embed), _third(g, b_in, i, embed))
                   for i, t in enumerate((q, k, v)))
    # masks, additive, broadcasting against scores of shape (N, H, L, S)
    mask = None
    if b["attn_mask"] is not None:
        attn_mask = b["attn_mask"]
        mask = _additive_mask(g, attn_mask, dtype, keep_true=False)
        if rank(attn_mask) == 3:                                        # (N * H, L, S) -> (N, H, L, S)
            mask = g.node("Reshape", [mask, g.ints([-1, heads, dim_of(g, attn_mask, 1), dim_of(g, attn_mask, 2)])])
        else:                                                           # (L, S) -> (1, 1, L, S)
            mask = g.node("Unsqueeze", [mask, axes_const(g, [0, 1])])
    if padding is not None:                                             # (N, S) -> (N, 1, 1, S)
        padding = _additive_mask(g, padding, dtype, keep_true=False)
        padding = g.node("Unsqueeze", [padding, axes_const(g, [0, 1, 2] if unbatched else [1, 2])])
    if b["bias_k"] is not None and b["bias_v"] is not None:            # one more key and value: the biases
        batch = g.node("Shape", [k], start=1, end=2)
        rows = g.node("Concat", [g.ints([1]), batch, g.ints([embed])], axis=0)
        k = g.node("Concat", [k, g.node("Expand", [value(g, b["bias_k"]), rows])], axis=0)
        v = g.node("Concat", [v, g.node("Expand", [value(g, b["bias_v"]), rows])], axis=0)
        mask, padding = _pad_key(g, mask), _pad_key(g, padding)

    def heads_first(t):                                                 # (S, N, E) -> (N, H, S, head_dim)
        return g.node("Transpose", [g.node("Reshape", [t, g.ints([0, 0, heads, head_dim])])], perm=[1, 2, 0, 3])

    q = heads_first(q)
    k = heads_first(k) if b["static_k"] is None else _static(g, b["static_k"], heads)
    v = heads_first(v) if b["static_v"] is None else _static(g, b["static_v"], heads)
    if b["add_zero_attn"]:                                              # one more key and value of zeros
        pads = g.ints([0, 0, 0, 0, 0, 0, 1, 0])
        k, v = g.node("Pad", [k, pads]), g.node("Pad", [v, pads])
        mask, padding = _pad_key(g, mask), _pad_key(g, padding)
    scores = g.node("MatMul", [g.node("Mul", [q, g.scalar(1.0 / math.sqrt(head_dim), dtype)]),
                               g.node("Transpose", [k], perm=[0, 1, 3, 2])])
    for extra in (mask, padding):
        if extra is not None:
            scores = g.node("Add", [scores, extra])
    weights = _safe_softmax(g, scores, mask is not None or padding is not None, dtype)
    out = g.node("MatMul", [weights, v])                                # (N, H, L, head_dim)
    out = g.node("Reshape", [g.node("Transpose", [out], perm=[2, 0, 1, 3]), g.ints([0, 0, embed])])
    out = _project(g, out, value(g, b["out_proj_weight"]),
                   value(g, b["out_proj_bias"]) if b["out_proj_bias"] is not None else None)
    if unbatched:
        out = g.node("Squeeze", [out, axes_const(g, [1])])
    result, attention = call.out
    g.bind(result, out)
    if attention is not None:
        if b["average_attn_weights"]:
            weights = _reduce(g, "ReduceMean", weights, 1, 0)
        g.bind(attention, g.node("Squeeze", [weights, axes_const(g, [0])]) if unbatched else weights)


def _pad_key(g, mask):
    """A 4-d additive mask with one more key (a zero column at the end), or None."""
    return None if mask is None else g.node("Pad", [mask, g.ints([0, 0, 0, 0, 0, 0, 0, 1])])


def _static(g, given, heads):
    """static_k / static_v of shape (N * H, S, head_dim) as (N, H, S, head_dim)."""
    return g.node("Reshape", [value(g, given), g.ints([-1, heads, dim_of(g, given, 1), given._array.shape[2]])])
