"""Part of ember.nn.functional: scaled dot-product attention and multi-head attention.

Both are composites of matmul, softmax and dropout, so gradients of every order come from those
primitives. Masks follow PyTorch: in scaled_dot_product_attention a boolean mask marks the keys
that *may* be attended (True = keep); in multi_head_attention_forward boolean masks mark the
keys to *ignore* (True = mask out). Rows with every key masked give zeros, as PyTorch's safe
softmax does, instead of NaN.
"""
import math

import numpy as np

from ... import _dtype as _dt
from ..._backends import backend_for as _backend_for
from ..._tensor import Tensor, _make
from ...ops import creation as _creation
from ...ops._common import nodiff, saves_for
from ...ops.joining import cat
from ...amp._dispatch import AUTOCAST, autocast_run
from ...backends.cuda import _sdp as _SDP, _check_sdp_backends

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_causal_cache = {}


def _causal_mask(length, source, dtype, device):
    """Additive (L, S) mask, -inf above the (top-left aligned) diagonal; cached per shape and dtype."""
    key = (length, source, dtype, device)
    mask = _causal_cache.get(key)
    if mask is None:
        xp = _backend_for(device).xp
        upper = xp.triu(xp.ones((length, source), dtype=bool), 1)
        mask = _make(xp.where(upper, -math.inf, 0.0).astype(dtype.numpy), device)
        if len(_causal_cache) > 32:
            _causal_cache.clear()
        _causal_cache[key] = mask
    return mask


def _additive(mask, dtype, keep_true):
    """A boolean mask as 0 / -inf (keep_true: True means attend); float masks pass through."""
    if mask.dtype is _dt.bool_:
        fill = (0.0, -np.inf) if keep_true else (-np.inf, 0.0)
        return nodiff(lambda xp, a: xp.where(a, *fill).astype(dtype.numpy), mask)
    if not mask.dtype.is_floating_point:
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {mask.dtype} and  query.dtype: {dtype} instead.")
    return mask if mask.dtype is dtype else mask.to(dtype)


def _softmax_rows(scores, masked):
    """Softmax over the last dim; rows whose every entry is -inf give zeros (PyTorch's safe softmax)."""
    if not masked:
        return scores.softmax(-1)
    dead = nodiff(lambda xp, s: xp.isneginf(s.max(-1, keepdims=True)) if s.shape[-1] else
                  xp.ones(s.shape[:-1] + (1,), dtype=bool), scores)
    if not bool(dead._array.any()):
        return scores.softmax(-1)
    return scores.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over (..., L, E) / (..., S, E) / (..., S, Ev)."""
    if "scaled_dot_product_attention" in AUTOCAST:
        return autocast_run("scaled_dot_product_attention", scaled_dot_product_attention, query, key, value,
                            attn_mask, dropout_p, is_causal, scale, enable_gqa)
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if query.dtype is not key.dtype or query.dtype is not value.dtype:
        from ...ops.arithmetic import _TYPE_META      # PyTorch's message names C types (float, double, c10::Half)
        q, k, v = (_TYPE_META[t.dtype.name] for t in (query, key, value))
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{q} key.dtype: {k} and value.dtype: {v} instead.")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query {list(query.shape)} and key {list(key.shape)} "
                           f"must have the same embedding size ({query.shape[-1]} != {key.shape[-1]})")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key {list(key.shape)} and value {list(value.shape)} "
                           f"must have the same sequence length ({key.shape[-2]} != {value.shape[-2]})")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                           "is_causal=True")
    given = (query, key, value)
    if not _SDP["math"]:          # ember.backends.cuda.enable_math_sdp(False): the flash kernel or nothing
        _check_sdp_backends(query.device.type, _SDP["flash"] and _flash_kernel(given, dropout_p))
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(groups, -3)
        value = value.repeat_interleave(groups, -3)
    length, source = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    # PyTorch's math path scales both query and key by sqrt(scale) (copies: its products save those, so an
    # in-place change of query or key afterwards is not caught)
    root = math.sqrt(abs(scale))
    scores = (query * (root if scale >= 0 else -root)) @ (key.transpose(-2, -1) * root)
    masked = False
    if is_causal:
        scores = scores + _causal_mask(length, source, query.dtype, query.device)
    elif attn_mask is not None:
        scores = scores + _additive(attn_mask, query.dtype, keep_true=True)
        masked = True
    attn = _softmax_rows(scores, masked)
    if dropout_p > 0.0:
        from .basic import dropout
        attn = dropout(attn, dropout_p, True)
    out = attn @ value
    if out.requires_grad and _SDP["flash"] and _flash_kernel(given, dropout_p):
        # PyTorch's CPU flash kernel (taken for these inputs) saves query, key, value and its output
        out = saves_for(out, given, "ScaledDotProductFlashAttentionForCpuBackward0")
    return out


def _flash_kernel(qkv, dropout_p):
    """Whether PyTorch runs scaled_dot_product_attention's CPU flash kernel: 4-d inputs of one head size and
    batch shape, contiguous last dims, no dropout."""
    query, key, value = qkv
    return (dropout_p == 0.0 and query.ndim == key.ndim == value.ndim == 4 and
            query.shape[-1] == key.shape[-1] == value.shape[-1] and query.shape[0] == key.shape[0] == value.shape[0]
            and all(t.stride(-1) == 1 for t in qkv))


def _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias, q_weight, k_weight, v_weight):
    from .basic import linear
    if in_proj_weight is not None:
        if query is key and key is value:                   # self-attention: one matmul for q, k and v
            return linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = q_weight, k_weight, v_weight
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if in_proj_weight is not None and key is value:         # encoder-decoder: k and v share one matmul
        k, v = linear(key, cat([w_k, w_v]), cat([b_k, b_v]) if b_k is not None else None).chunk(2, -1)
        return linear(query, w_q, b_q), k, v
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """PyTorch's multi-head attention on sequence-first (L, N, E) inputs (or unbatched (L, E))."""
    from .basic import dropout, linear
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    if query.ndim != 3:
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query "
                             "tensor")
    length, batch, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    if embed_dim % num_heads:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    head_dim = embed_dim // num_heads
    if use_separate_proj_weight:
        q, k, v = _in_projection(query, key, value, embed_dim, None, in_proj_bias, q_proj_weight, k_proj_weight,
                                 v_proj_weight)
    else:
        q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias, None, None, None)
    dtype = q.dtype
    mask = None
    if attn_mask is not None:
        mask = _additive(attn_mask, dtype, keep_true=False)
        if mask.ndim == 2:
            if tuple(mask.shape) != (length, key.shape[0]):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(mask.shape)}, but should be "
                                   f"{(length, key.shape[0])}.")
            mask = mask.unsqueeze(0)
        elif mask.ndim == 3:
            if tuple(mask.shape) != (batch * num_heads, length, key.shape[0]):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(mask.shape)}, but should be "
                                   f"{(batch * num_heads, length, key.shape[0])}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {mask.ndim} is not supported")
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, batch, embed_dim)])
        v = cat([v, bias_v.expand(1, batch, embed_dim)])
        if mask is not None:
            mask = _pad_last(mask, 1)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask, 1)
    # (L, N, E) -> (N * H, L, head_dim)
    q = q.reshape(length, batch * num_heads, head_dim).transpose(0, 1)
    k = (static_k if static_k is not None else k.reshape(k.shape[0], batch * num_heads, head_dim).transpose(0, 1))
    v = (static_v if static_v is not None else v.reshape(v.shape[0], batch * num_heads, head_dim).transpose(0, 1))
    if add_zero_attn:
        k = cat([k, _creation.zeros((batch * num_heads, 1, head_dim), dtype=dtype, device=k.device)], 1)
        v = cat([v, _creation.zeros((batch * num_heads, 1, head_dim), dtype=dtype, device=v.device)], 1)
        if mask is not None:
            mask = _pad_last(mask, 1)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask, 1)
    source = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (batch, source):
            raise AssertionError(f"expecting key_padding_mask shape of {(batch, source)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        padding = _additive(key_padding_mask, dtype, keep_true=False).reshape(batch, 1, 1, source)
        padding = padding.expand(batch, num_heads, 1, source).reshape(batch * num_heads, 1, source)
        mask = padding if mask is None else mask + padding
    if not training:
        dropout_p = 0.0
    scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(1, 2)
    if mask is not None:
        scores = scores + mask
    weights = _softmax_rows(scores, mask is not None)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    out = weights @ v                                        # (N * H, L, head_dim)
    out = out.transpose(0, 1).reshape(length * batch, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(length, batch, embed_dim)
    if unbatched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(batch, num_heads, length, source)
    if average_attn_weights:
        weights = weights.mean(1)
    if unbatched:
        weights = weights.squeeze(0)
    return out, weights


def _pad_last(mask, extra):
    from .spatial import pad
    return pad(mask, (0, extra)) if mask.dtype is not _dt.bool_ else \
        cat([mask, _creation.zeros(tuple(mask.shape[:-1]) + (extra,), dtype=_dt.bool_, device=mask.device)], -1)
