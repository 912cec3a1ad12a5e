"""Memory formats (channels_last, channels_last_3d, contiguous_format, preserve_format): to/contiguous/
is_contiguous/clone/empty/*_like, the strides PyTorch gives each op's output and input gradient for
channels-last inputs, Module.to(memory_format=), the conv weight converters, and save/load of channels-last
tensors both ways with PyTorch."""
import io

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck

CL, CL3 = ember.channels_last, ember.channels_last_3d


def _fmt(m, fmt):
    return getattr(m, fmt.name)


def _layout(t):
    """What a test compares: shape, strides and contiguity in each format."""
    m = ember if isinstance(t, ember.Tensor) else __import__("torch")
    rank = {4: m.channels_last, 5: m.channels_last_3d}.get(t.dim())
    return (tuple(t.shape), t.stride(), t.is_contiguous(),
            None if rank is None else t.is_contiguous(memory_format=rank))


def _values(t):
    return np.asarray(t.detach().numpy() if isinstance(t, ember.Tensor) else t.detach().numpy())


def _check(ember_out, torch_out, atol=1e-5):
    assert _layout(ember_out) == _layout(torch_out)
    np.testing.assert_allclose(_values(ember_out), _values(torch_out), rtol=1e-5, atol=atol)


# --- is_contiguous / contiguous / to / clone / empty ----------------------------------------------

def test_channels_last_strides_without_torch():
    x = ember.arange(120.).reshape(2, 3, 4, 5)
    y = x.to(memory_format=CL)
    assert y.stride() == (60, 1, 15, 3)
    assert not y.is_contiguous() and y.is_contiguous(memory_format=CL)
    assert y.contiguous(memory_format=CL) is y and y.to(memory_format=CL) is y
    assert y.contiguous().stride() == (60, 20, 5, 1)
    assert ember.equal(y, x)
    z = ember.arange(720.).reshape(2, 3, 4, 5, 6).contiguous(memory_format=CL3)
    assert z.stride() == (360, 1, 90, 18, 3)
    assert ember.empty(2, 3, 4, 5, memory_format=CL).stride() == (60, 1, 15, 3)
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        ember.ones(2, 3, 4).to(memory_format=CL)
    with pytest.raises(RuntimeError, match="required rank 5 tensor to use channels_last_3d format"):
        x.contiguous(memory_format=CL3)


LAYOUT_CASES = {
    "to": lambda m, x: x.to(memory_format=m.channels_last),
    "to_contiguous": lambda m, x: x.to(memory_format=m.channels_last).to(memory_format=m.contiguous_format),
    "to_preserve": lambda m, x: x.transpose(2, 3).to(memory_format=m.preserve_format),
    "to_dtype": lambda m, x: x.to(m.float64, memory_format=m.channels_last),
    "to_device_dtype": lambda m, x: x.to("cpu", m.float64, memory_format=m.channels_last),
    "to_tensor": lambda m, x: x.to(m.zeros(1, dtype=m.float64), memory_format=m.channels_last),
    "to_copy": lambda m, x: x.to(memory_format=m.channels_last, copy=True),
    "cl_to_dtype": lambda m, x: x.to(memory_format=m.channels_last).double(),
    "cl_to_dtype_copy": lambda m, x: x.to(memory_format=m.channels_last).to(m.float64, copy=True),
    "contiguous_cl": lambda m, x: x.contiguous(memory_format=m.channels_last),
    "contiguous_back": lambda m, x: x.contiguous(memory_format=m.channels_last).contiguous(),
    "contiguous_transposed": lambda m, x: x.transpose(2, 3).contiguous(memory_format=m.channels_last),
    "clone_cl": lambda m, x: x.clone(memory_format=m.channels_last),
    "clone_preserve": lambda m, x: x.to(memory_format=m.channels_last).clone(),
    "clone_contiguous": lambda m, x: x.to(memory_format=m.channels_last).clone(memory_format=m.contiguous_format),
    "sliced_clone": lambda m, x: x.to(memory_format=m.channels_last)[:, :, ::2].clone(),
    "sliced_to_dtype": lambda m, x: x.to(memory_format=m.channels_last)[:, :, ::2].double(),
    "sliced_contiguous_cl": lambda m, x: x.to(memory_format=m.channels_last)[:, :, ::2].contiguous(
        memory_format=m.channels_last),
    "nhwc_permuted": lambda m, x: x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
    "empty_like": lambda m, x: m.empty_like(x, memory_format=m.channels_last).zero_(),
    "zeros_like_preserve": lambda m, x: m.zeros_like(x.to(memory_format=m.channels_last)),
    "ones_like_contiguous": lambda m, x: m.ones_like(x.to(memory_format=m.channels_last),
                                                     memory_format=m.contiguous_format),
    "full_like": lambda m, x: m.full_like(x.to(memory_format=m.channels_last), 2.0),
    "empty": lambda m, x: m.empty(2, 3, 4, 5, memory_format=m.channels_last).zero_(),
    "empty_tuple": lambda m, x: m.empty((2, 3, 1, 1), memory_format=m.channels_last).zero_(),
    "empty_zero_size": lambda m, x: m.empty(2, 0, 4, 5, memory_format=m.channels_last),
    "empty_contiguous": lambda m, x: m.empty(2, 3, 4, 5, memory_format=m.contiguous_format).zero_(),
    "n11_to": lambda m, x: x[:, :, :1, :1].contiguous().to(memory_format=m.channels_last),
    "c1_to": lambda m, x: x[:, :1].contiguous().to(memory_format=m.channels_last),
    "resize_cl": lambda m, x: x.clone().resize_(2, 3, 4, 5, memory_format=m.channels_last),
    "resize_shrink_cl": lambda m, x: x.clone().resize_(1, 3, 4, 5, memory_format=m.channels_last),
    "resize_keeps_layout": lambda m, x: x.contiguous(memory_format=m.channels_last).resize_(2, 3, 4, 5),
    "resize_new_shape": lambda m, x: x.contiguous(memory_format=m.channels_last).resize_(1, 3, 4, 5),
    "resize_as_cl": lambda m, x: x.clone().resize_as_(x, memory_format=m.channels_last),
    "rand_like_preserve": lambda m, x: m.rand_like(x.to(memory_format=m.channels_last)).zero_(),
    "randn_like_preserve": lambda m, x: m.randn_like(x.to(memory_format=m.channels_last)).zero_(),
    "randint_like_preserve": lambda m, x: m.randint_like(x.to(memory_format=m.channels_last), 3).zero_(),
    "new_empty": lambda m, x: x.to(memory_format=m.channels_last).new_empty((2, 3, 4, 5)).zero_(),
    "empty_strided": lambda m, x: m.empty_strided((2, 3, 4, 5), (60, 1, 15, 3)).zero_(),
    "detach": lambda m, x: x.to(memory_format=m.channels_last).detach(),
}


@pytest.mark.parametrize("name", sorted(LAYOUT_CASES))
def test_layout_api_matches_torch(torch, name):
    fn = LAYOUT_CASES[name]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    _check(fn(ember, ember.tensor(x)), fn(torch, torch.tensor(x)))


def test_aliasing_matches_torch(torch):
    for m in (ember, torch):
        x = m.randn(2, 3, 4, 5)
        y = x.to(memory_format=m.channels_last)
        assert y.to(memory_format=m.channels_last) is y
        assert y.to(memory_format=m.preserve_format) is y
        assert y.to(m.float32) is y
        assert y.to(memory_format=m.contiguous_format) is not y
        assert y.contiguous(memory_format=m.channels_last) is y
        t = m.randn(3, 4).t()
        assert t.to(memory_format=m.contiguous_format) is t        # strides suggest no channels-last format
        n11 = m.randn(2, 3, 1, 1)
        assert n11.contiguous(memory_format=m.channels_last) is n11   # contiguous in both formats
        assert n11.to(memory_format=m.channels_last) is not n11       # but its strides suggest NCHW
        assert x.contiguous(memory_format=m.preserve_format) is x


def test_is_contiguous_matches_torch(torch):
    rng = np.random.default_rng(1)
    for shape in [(2, 3, 4, 5), (2, 1, 4, 5), (2, 3, 1, 1), (1, 3, 1, 5), (2, 3, 4), (2, 3, 4, 5, 6)]:
        x = rng.standard_normal(shape).astype(np.float32)
        for m_fmt in (None, CL, CL3):
            for lib in (ember, torch):
                t = lib.tensor(x)
                if m_fmt is not None and len(shape) == {CL: 4, CL3: 5}[m_fmt]:
                    t = t.contiguous(memory_format=_fmt(lib, m_fmt))
                views = [t, t.transpose(-1, -2), t[..., ::2]]
                got = [[v.is_contiguous(memory_format=f) for f in
                        (lib.contiguous_format, lib.preserve_format, lib.channels_last, lib.channels_last_3d)]
                       + [v.stride()] for v in views]
                if lib is ember:
                    expected = got
                else:
                    assert got == expected, (shape, m_fmt)


ERROR_CASES = {
    "to_rank3": lambda m: m.ones(2, 3, 4).to(memory_format=m.channels_last),
    "to_rank4_3d": lambda m: m.ones(2, 3, 4, 5).to(memory_format=m.channels_last_3d),
    "to_rank5_2d": lambda m: m.ones(2, 3, 4, 5, 6).to(memory_format=m.channels_last),
    "to_dtype_rank3": lambda m: m.ones(2, 3, 4).to(m.float64, memory_format=m.channels_last),
    "contiguous_rank3": lambda m: m.ones(2, 3, 4).contiguous(memory_format=m.channels_last),
    "contiguous_preserve": lambda m: m.ones(2, 3, 4).transpose(1, 2).contiguous(memory_format=m.preserve_format),
    "clone_rank3": lambda m: m.ones(2, 3, 4).clone(memory_format=m.channels_last),
    "empty_rank3": lambda m: m.empty(2, 3, 4, memory_format=m.channels_last),
    "empty_preserve": lambda m: m.empty(2, 3, 4, 5, memory_format=m.preserve_format),
    "empty_like_rank3": lambda m: m.empty_like(m.ones(2, 3, 4), memory_format=m.channels_last),
    "zeros_like_rank5": lambda m: m.zeros_like(m.ones(2, 3, 4, 5, 6), memory_format=m.channels_last),
    "is_contiguous_none": lambda m: m.ones(2, 3, 4, 5).is_contiguous(memory_format=None),
    "is_contiguous_str": lambda m: m.ones(2, 3, 4, 5).is_contiguous(memory_format="channels_last"),
    "is_contiguous_positional": lambda m: m.ones(2, 3, 4, 5).is_contiguous(m.channels_last),
    "contiguous_none": lambda m: m.ones(2, 3, 4, 5).contiguous(memory_format=None),
    "contiguous_positional": lambda m: m.ones(2, 3, 4, 5).contiguous(m.channels_last),
    "to_str": lambda m: m.ones(2, 3, 4, 5).to(memory_format="channels_last"),
    "sparse_to": lambda m: m.ones(2, 3, 4, 5).to_sparse().to(memory_format=m.channels_last),
    "sparse_contiguous": lambda m: m.ones(2, 3, 4, 5).to_sparse().contiguous(memory_format=m.channels_last),
    "resize_rank": lambda m: m.ones(2, 3, 4).resize_(2, 3, 4, memory_format=m.channels_last),
    "resize_preserve": lambda m: m.ones(2, 3, 4, 5).resize_(2, 3, 4, 5, memory_format=m.preserve_format),
    "module_to_rank": lambda m: m.nn.Conv2d(2, 2, 1).to(memory_format=m.channels_last_3d),
    "convert_rank": lambda m: m.nn.utils.convert_conv2d_weight_memory_format(m.nn.Conv2d(2, 2, 1),
                                                                              m.channels_last_3d),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_errors_match_torch(torch, name):
    fn = ERROR_CASES[name]
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(expected.type) as got:
        fn(ember)
    if expected.type is RuntimeError:
        assert str(got.value) == str(expected.value)


def test_to_memory_format_is_differentiable(torch):
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    grads = []
    for m in (ember, torch):
        t = m.tensor(x, requires_grad=True)
        y = t.to(memory_format=m.channels_last)
        assert type(y.grad_fn).__name__ == "ToCopyBackward0"
        (y * m.arange(120.).reshape(2, 3, 4, 5)).sum().backward()
        grads.append(t.grad)
    _check(*grads)
    assert gradcheck(lambda t: t.contiguous(memory_format=CL) * 2,
                     (ember.tensor(x, requires_grad=True),))


# --- elementwise ops: PyTorch's TensorIterator lays the output out after its operands ------------------

def _operands(m, spec, rng_seed=3):
    """Tensors from a spec of (shape, layout) pairs: layout 'c' contiguous, 'cl' channels_last, 't' with
    the last two dims transposed in memory, 'cl3' channels_last_3d."""
    rng = np.random.default_rng(rng_seed)
    out = []
    for shape, layout in spec:
        x = rng.standard_normal(shape).astype(np.float32)
        t = m.tensor(x)
        if layout == "cl":
            t = t.contiguous(memory_format=m.channels_last)
        elif layout == "cl3":
            t = t.contiguous(memory_format=m.channels_last_3d)
        elif layout == "t":
            t = t.transpose(-1, -2).contiguous().transpose(-1, -2)
        out.append(t)
    return out


X, B = (2, 3, 4, 5), (3, 1, 1)
ELEMENTWISE_CASES = {
    "add_cl_c": ([(X, "cl"), (X, "c")], lambda m, a, b: a + b),
    "add_c_cl": ([(X, "c"), (X, "cl")], lambda m, a, b: a + b),
    "add_cl_cl": ([(X, "cl"), (X, "cl")], lambda m, a, b: a + b),
    "add_cl_bias": ([(X, "cl"), (B, "c")], lambda m, a, b: a + b),
    "add_bias_cl": ([(B, "c"), (X, "cl")], lambda m, a, b: a + b),
    "mul_cl_row": ([(X, "cl"), ((5,), "c")], lambda m, a, b: a * b),
    "sub_cl_n1hw": ([(X, "cl"), ((1, 3, 4, 5), "c")], lambda m, a, b: a - b),
    "sub_c_n1hw_cl": ([(X, "c"), ((1, 3, 4, 5), "cl")], lambda m, a, b: a - b),
    "div_nc11_cl_c": ([((2, 3, 1, 1), "cl"), (X, "c")], lambda m, a, b: a / b),
    "add_t_c": ([((3, 4, 5), "t"), ((3, 4, 5), "c")], lambda m, a, b: a + b),
    "mul_t_c_2d": ([((4, 5), "t"), ((4, 5), "c")], lambda m, a, b: m.mul(a, b)),
    "add_cl3_c": ([((2, 3, 2, 3, 4), "cl3"), ((2, 3, 2, 3, 4), "c")], lambda m, a, b: m.add(a, b, alpha=2)),
    "sub_cl_c_alpha": ([(X, "cl"), (X, "c")], lambda m, a, b: m.sub(a, b, alpha=0.5)),
    "pow_cl_c": ([(X, "cl"), (X, "c")], lambda m, a, b: a.abs() ** b),
    "maximum_cl_c": ([(X, "cl"), (X, "c")], lambda m, a, b: m.maximum(a, b)),
    "gt_cl_c": ([(X, "cl"), (X, "c")], lambda m, a, b: a > b),
    "eq_cl_c": ([(X, "cl"), (X, "c")], lambda m, a, b: m.eq(a, b)),
    "where_cl": ([(X, "cl"), (X, "c")], lambda m, a, b: m.where(a > 0, b, 0.0)),
    "atan2_cl_c": ([(X, "cl"), (X, "c")], lambda m, a, b: m.atan2(a, b)),
    "add_scalar": ([(X, "cl")], lambda m, a: a + 1),
    "rsub_scalar": ([(X, "cl")], lambda m, a: 1 - a),
    "mul_int_tensor": ([(X, "cl")], lambda m, a: a * m.tensor(2)),
    "exp": ([(X, "cl")], lambda m, a: a.exp()),
    "neg": ([(X, "cl")], lambda m, a: -a),
    "abs": ([(X, "cl")], lambda m, a: a.abs()),
    "sqrt": ([(X, "cl")], lambda m, a: a.abs().sqrt()),
    "sigmoid": ([(X, "cl")], lambda m, a: m.sigmoid(a)),
    "tanh": ([(X, "cl")], lambda m, a: m.tanh(a)),
    "clamp": ([(X, "cl")], lambda m, a: a.clamp(-0.5, 0.5)),
    "to_int": ([(X, "cl")], lambda m, a: a.to(m.int32)),
    "cl3_exp": ([((2, 3, 2, 3, 4), "cl3")], lambda m, a: a.exp()),
    "t_exp": ([((3, 4, 5), "t")], lambda m, a: a.exp()),
    "lerp": ([(X, "cl"), (X, "c")], lambda m, a, b: m.lerp(a, b, 0.3)),
    "addcmul": ([(X, "cl"), (X, "c"), (X, "c")], lambda m, a, b, c: m.addcmul(a, b, c, value=0.5)),
    "inplace_add": ([(X, "cl"), (X, "c")], lambda m, a, b: a.add_(b)),
    "inplace_mul_c_cl": ([(X, "c"), (X, "cl")], lambda m, a, b: a.mul_(b)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_CASES))
def test_elementwise_layout_matches_torch(torch, name):
    spec, fn = ELEMENTWISE_CASES[name]
    _check(fn(ember, *_operands(ember, spec)), fn(torch, *_operands(torch, spec)))


def test_elementwise_mixed_layout_without_torch():
    a = ember.arange(120.).reshape(2, 3, 4, 5)
    cl = a.contiguous(memory_format=CL)
    assert (cl + a).stride() == (60, 1, 15, 3)           # the first operand's layout wins
    assert (a + cl).stride() == (60, 20, 5, 1)
    assert ember.equal(cl + a, a * 2)
    assert (cl * ember.ones(3, 1, 1)).stride() == (60, 1, 15, 3)


# --- nn ops: conv, pooling, normalization, activations, dropout, resampling, padding --------------------

def _w(m, shape, fmt=None, seed=4):
    w = m.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 0.3)
    return w.contiguous(memory_format=_fmt(m, fmt)) if fmt is not None else w


X3 = (2, 3, 3, 4, 5)
NN_CASES = {
    "conv2d": (X, "cl", lambda m, x: m.nn.functional.conv2d(x, _w(m, (4, 3, 3, 3)), _w(m, (4,)))),
    "conv2d_weight_cl": (X, "c", lambda m, x: m.nn.functional.conv2d(x, _w(m, (4, 3, 3, 3), CL))),
    "conv2d_both_cl": (X, "cl", lambda m, x: m.nn.functional.conv2d(x, _w(m, (4, 3, 3, 3), CL), padding=1)),
    "conv2d_contiguous": (X, "c", lambda m, x: m.nn.functional.conv2d(x, _w(m, (4, 3, 3, 3)))),
    "conv2d_stride_dilation": (X, "cl", lambda m, x: m.nn.functional.conv2d(x, _w(m, (4, 3, 2, 2)), stride=2,
                                                                           dilation=(1, 2))),
    "conv2d_groups": (X, "cl", lambda m, x: m.nn.functional.conv2d(x, _w(m, (6, 1, 3, 3)), groups=3)),
    "conv2d_1x1": (X, "cl", lambda m, x: m.nn.functional.conv2d(x, _w(m, (4, 3, 1, 1)))),
    "conv2d_sliced": (X, "cl", lambda m, x: m.nn.functional.conv2d(x[:, :, ::2], _w(m, (2, 3, 1, 1)))),
    "conv_transpose2d": (X, "cl", lambda m, x: m.nn.functional.conv_transpose2d(x, _w(m, (3, 2, 3, 3)),
                                                                               stride=2)),
    "conv3d": (X3, "cl3", lambda m, x: m.nn.functional.conv3d(x, _w(m, (2, 3, 2, 2, 2)))),
    "conv3d_contiguous": (X3, "c", lambda m, x: m.nn.functional.conv3d(x, _w(m, (2, 3, 2, 2, 2)))),
    "conv1d_of_view": (X, "cl", lambda m, x: m.nn.functional.conv1d(x[:, :, 0], _w(m, (2, 3, 2)))),
    "max_pool2d": (X, "cl", lambda m, x: m.nn.functional.max_pool2d(x, 2)),
    "max_pool2d_indices": (X, "cl", lambda m, x: m.nn.functional.max_pool2d(x, 2, return_indices=True)[1]),
    "max_pool2d_padded": (X, "cl", lambda m, x: m.nn.functional.max_pool2d(x, 3, stride=1, padding=1)),
    "avg_pool2d": (X, "cl", lambda m, x: m.nn.functional.avg_pool2d(x, 2, stride=1)),
    "avg_pool3d": (X3, "cl3", lambda m, x: m.nn.functional.avg_pool3d(x, 2)),
    "max_pool3d": (X3, "cl3", lambda m, x: m.nn.functional.max_pool3d(x, 2)),
    "adaptive_avg_pool2d": (X, "cl", lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (2, 3))),
    "adaptive_avg_pool2d_1": (X, "cl", lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 1)),
    "adaptive_max_pool2d": (X, "cl", lambda m, x: m.nn.functional.adaptive_max_pool2d(x, (2, 3))),
    "adaptive_avg_pool3d": (X3, "cl3", lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, 2)),
    "adaptive_avg_pool3d_1": (X3, "cl3", lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, 1)),
    "adaptive_max_pool3d": (X3, "cl3", lambda m, x: m.nn.functional.adaptive_max_pool3d(x, 2)),
    "lp_pool2d": (X, "cl", lambda m, x: m.nn.functional.lp_pool2d(x, 2, 2)),
    "max_unpool2d": (X, "cl", lambda m, x: m.nn.functional.max_unpool2d(
        *m.nn.functional.max_pool2d(x, 2, return_indices=True), 2, output_size=(4, 5))),
    "pixel_unshuffle": (X, "cl", lambda m, x: m.nn.functional.pixel_unshuffle(x[:, :, :, :4], 2)),
    "channel_shuffle": (X, "cl", lambda m, x: m.nn.functional.channel_shuffle(m.cat([x, x], 1), 2)),
    "local_response_norm": (X, "cl", lambda m, x: m.nn.functional.local_response_norm(x, 2)),
    "fractional_max_pool2d": (X, "cl", lambda m, x: m.nn.functional.fractional_max_pool2d(
        x, 2, output_size=2, _random_samples=m.full((2, 3, 2), 0.5))),
    "batch_norm3d_eval": (X3, "cl3", lambda m, x: m.nn.functional.batch_norm(x, m.zeros(3), m.ones(3))),
    "group_norm3d": (X3, "cl3", lambda m, x: m.nn.functional.group_norm(x, 1)),
    "pad3d": (X3, "cl3", lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1, 1, 1))),
    "pad3d_replicate": (X3, "cl3", lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate")),
    "batch_norm_train": (X, "cl", lambda m, x: m.nn.functional.batch_norm(
        x, m.zeros(3), m.ones(3), _w(m, (3,)), _w(m, (3,), seed=5), training=True)),
    "batch_norm_eval": (X, "cl", lambda m, x: m.nn.functional.batch_norm(
        x, m.zeros(3) + 0.1, m.ones(3) * 2, _w(m, (3,)), _w(m, (3,), seed=5), training=False)),
    "batch_norm3d": (X3, "cl3", lambda m, x: m.nn.functional.batch_norm(x, None, None, training=True)),
    "group_norm": (X, "cl", lambda m, x: m.nn.functional.group_norm(x, 3, _w(m, (3,)), _w(m, (3,), seed=5))),
    "instance_norm": (X, "cl", lambda m, x: m.nn.functional.instance_norm(x)),
    "layer_norm": (X, "cl", lambda m, x: m.nn.functional.layer_norm(x, (5,))),
    "relu": (X, "cl", lambda m, x: m.nn.functional.relu(x)),
    "relu6": (X, "cl", lambda m, x: m.nn.functional.relu6(x)),
    "leaky_relu": (X, "cl", lambda m, x: m.nn.functional.leaky_relu(x, 0.1)),
    "elu": (X, "cl", lambda m, x: m.nn.functional.elu(x)),
    "gelu": (X, "cl", lambda m, x: m.nn.functional.gelu(x)),
    "gelu_tanh": (X, "cl", lambda m, x: m.nn.functional.gelu(x, approximate="tanh")),
    "silu": (X, "cl", lambda m, x: m.nn.functional.silu(x)),
    "mish": (X, "cl", lambda m, x: m.nn.functional.mish(x)),
    "hardswish": (X, "cl", lambda m, x: m.nn.functional.hardswish(x)),
    "hardsigmoid": (X, "cl", lambda m, x: m.nn.functional.hardsigmoid(x)),
    "hardtanh": (X, "cl", lambda m, x: m.nn.functional.hardtanh(x)),
    "softplus": (X, "cl", lambda m, x: m.nn.functional.softplus(x)),
    "prelu": (X, "cl", lambda m, x: m.nn.functional.prelu(x, m.full((3,), 0.2))),
    "threshold": (X, "cl", lambda m, x: m.nn.functional.threshold(x, 0.1, 0.0)),
    "softmax_dim1": (X, "cl", lambda m, x: m.nn.functional.softmax(x, 1)),
    "log_softmax_last": (X, "cl", lambda m, x: m.nn.functional.log_softmax(x, -1)),
    "dropout_eval": (X, "cl", lambda m, x: m.nn.functional.dropout(x, 0.5, training=False)),
    "dropout_p0": (X, "cl", lambda m, x: m.nn.functional.dropout(x, 0.0)),
    "interpolate_nearest": (X, "cl", lambda m, x: m.nn.functional.interpolate(x, scale_factor=2)),
    "interpolate_bilinear": (X, "cl", lambda m, x: m.nn.functional.interpolate(x, size=(6, 7), mode="bilinear")),
    "interpolate_bilinear_ac": (X, "cl", lambda m, x: m.nn.functional.interpolate(
        x, scale_factor=2, mode="bilinear", align_corners=True)),
    "interpolate_bicubic": (X, "cl", lambda m, x: m.nn.functional.interpolate(x, size=(6, 7), mode="bicubic")),
    "interpolate_nearest_exact": (X, "cl", lambda m, x: m.nn.functional.interpolate(x, size=(3, 7),
                                                                                    mode="nearest-exact")),
    "interpolate_area": (X, "cl", lambda m, x: m.nn.functional.interpolate(x, size=(2, 2), mode="area")),
    "interpolate_trilinear": (X3, "cl3", lambda m, x: m.nn.functional.interpolate(x, scale_factor=2,
                                                                                  mode="trilinear")),
    "upsample_nearest3d": (X3, "cl3", lambda m, x: m.nn.functional.interpolate(x, scale_factor=2)),
    "pad_constant": (X, "cl", lambda m, x: m.nn.functional.pad(x, (1, 1, 2, 0))),
    "pad_reflect": (X, "cl", lambda m, x: m.nn.functional.pad(x, (1, 1, 2, 0), mode="reflect")),
    "pad_replicate": (X, "cl", lambda m, x: m.nn.functional.pad(x, (1, 1, 2, 0), mode="replicate")),
    "pad_circular": (X, "cl", lambda m, x: m.nn.functional.pad(x, (1, 1, 2, 0), mode="circular")),
    "pixel_shuffle": (X, "cl", lambda m, x: m.nn.functional.pixel_shuffle(m.cat([x[:, :2], x[:, 1:]], 1), 2)),
    "flatten": (X, "cl", lambda m, x: m.flatten(m.nn.functional.adaptive_avg_pool2d(x, 1), 1)),
    "cat_dim1": (X, "cl", lambda m, x: m.cat([x, x], 1)),
    # reductions and softmax: contiguous results whatever the input's layout
    "sum_keepdim": (X, "cl", lambda m, x: x.sum((2, 3), keepdim=True)),
    "mean_dim1": (X, "cl", lambda m, x: x.mean(1)),
    "sum_dim0": (X, "cl", lambda m, x: x.sum(0)),
    "mean_dim0_keepdim": (X, "cl", lambda m, x: x.mean(0, keepdim=True)),
    "amax_dim0": (X, "cl", lambda m, x: x.amax(0)),
    "max_dim0_values": (X, "cl", lambda m, x: x.max(0)[0]),
    "max_dim0_indices": (X, "cl", lambda m, x: x.max(0)[1]),
    "argmax_dim0": (X, "cl", lambda m, x: x.argmax(0)),
    "prod_dim0": (X, "cl", lambda m, x: x.prod(0)),
    "var_dim0": (X, "cl", lambda m, x: x.var(0)),
    "std_dim0": (X, "cl", lambda m, x: x.std(0)),
    "logsumexp_dim0": (X, "cl", lambda m, x: x.logsumexp(0)),
    "any_dim0": (X, "cl", lambda m, x: (x > 0).any(0)),
    "count_dim0": (X, "cl", lambda m, x: (x > 0).sum(0)),
    "nansum_dim0": (X, "cl", lambda m, x: x.nansum(0)),
    "softmax_last": (X, "cl", lambda m, x: m.softmax(x, -1)),
    "softmax_transposed": ((3, 4, 5), "t", lambda m, x: m.softmax(x, 1)),
    "sum_transposed": ((3, 4, 5), "t", lambda m, x: x.sum(0)),
}


def _nn_input(m, shape, layout, requires_grad=False):
    x = _operands(m, [(shape, layout)])[0]
    return x.detach().requires_grad_() if requires_grad else x


@pytest.mark.parametrize("name", sorted(NN_CASES))
def test_nn_op_layout_matches_torch(torch, name):
    shape, layout, fn = NN_CASES[name]
    _check(fn(ember, _nn_input(ember, shape, layout)), fn(torch, _nn_input(torch, shape, layout)), atol=1e-4)


# --- gradients: a leaf's .grad takes the leaf's strides (PyTorch's AccumulateGrad layout contract) ------

GRAD_CASES = ["conv2d", "conv2d_weight_cl", "conv2d_groups", "conv_transpose2d", "conv3d", "max_pool2d",
              "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "batch_norm_train", "batch_norm_eval",
              "group_norm", "layer_norm", "relu", "gelu", "silu", "hardswish", "softmax_dim1", "interpolate_nearest",
              "interpolate_bilinear", "pad_constant", "pad_reflect", "cat_dim1", "flatten", "sum_keepdim",
              "max_pool3d", "avg_pool3d", "pixel_shuffle"]


@pytest.mark.parametrize("name", GRAD_CASES)
def test_input_grad_layout_matches_torch(torch, name):
    shape, layout, fn = NN_CASES[name]
    grads = []
    for m in (ember, torch):
        x = _nn_input(m, shape, layout, requires_grad=True)
        out = fn(m, x)
        weight = m.tensor(np.random.default_rng(6).standard_normal(tuple(out.shape)).astype(np.float32))
        (out * weight).sum().backward()
        grads.append(x.grad)
    _check(*grads, atol=1e-4)


def test_grad_layout_contract_without_torch():
    x = ember.randn(2, 3, 4, 5).contiguous(memory_format=CL).requires_grad_()
    (x.contiguous() * 2).sum().backward()            # the gradient arrives contiguous
    assert x.grad.stride() == (60, 1, 15, 3)
    assert ember.equal(x.grad, ember.full((2, 3, 4, 5), 2.0))
    y = ember.randn(2, 3, 4, 5, requires_grad=True)
    y.contiguous(memory_format=CL).sum().backward()
    assert y.grad.stride() == (60, 20, 5, 1)


# --- modules ------------------------------------------------------------------------------------------

def _net(m):
    return m.nn.Sequential(m.nn.Conv2d(3, 4, 3, padding=1), m.nn.BatchNorm2d(4), m.nn.ReLU(), m.nn.MaxPool2d(2),
                           m.nn.Conv2d(4, 6, 3, padding=1), m.nn.AdaptiveAvgPool2d(1), m.nn.Flatten(), m.nn.Linear(6, 2))


def test_module_to_matches_torch(torch):
    nets = [_net(ember), _net(torch)]
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        with torch.no_grad():
            q.copy_(torch.tensor(p.detach().numpy()))
    before = list(nets[0].parameters())
    for net, m in zip(nets, (ember, torch)):
        assert net.to(memory_format=m.channels_last) is net
    for (name, p), (_, q) in zip(nets[0].named_parameters(), nets[1].named_parameters()):
        assert p.stride() == q.stride(), name
    assert nets[0][0].weight.stride() == (27, 1, 9, 3)
    assert all(p is q for p, q in zip(before, nets[0].parameters()))      # the same Parameter objects
    x = np.random.default_rng(7).standard_normal((2, 3, 6, 6)).astype(np.float32)
    outs = []
    for net, m in zip(nets, (ember, torch)):
        inp = m.tensor(x).to(memory_format=m.channels_last).requires_grad_()
        out = net(inp)
        out.sum().backward()
        outs.append((out, inp.grad, [p.grad for p in net.parameters()]))
    _check(outs[0][0], outs[1][0], atol=1e-4)
    _check(outs[0][1], outs[1][1], atol=1e-4)
    for g, h in zip(outs[0][2], outs[1][2]):
        _check(g, h, atol=1e-4)
    for net, m in zip(nets, (ember, torch)):                   # and back, with a dtype
        net.to(m.float64, memory_format=m.contiguous_format)
    for (name, p), (_, q) in zip(nets[0].named_parameters(), nets[1].named_parameters()):
        assert (p.stride(), p.grad.stride(), str(p.dtype)[6:]) == (q.stride(), q.grad.stride(), str(q.dtype)[6:])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizer_state_keeps_channels_last(torch, name):
    layouts = []
    for m in (ember, torch):
        m.manual_seed(0)
        conv = m.nn.Conv2d(3, 4, 3).to(memory_format=m.channels_last)
        extra = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
        opt = getattr(m.optim, name)(conv.parameters(), lr=0.1, **extra)
        conv(m.ones(2, 3, 5, 5).to(memory_format=m.channels_last)).sum().backward()
        opt.step()
        state = opt.state[conv.weight]
        layouts.append((conv.weight.stride(), sorted((k, v.stride()) for k, v in state.items() if v.dim())))
    assert layouts[0] == layouts[1]
    assert layouts[0][0] == (27, 1, 9, 3)


def test_module_to_converts_4d_and_5d_tensors_only():
    net = nn.Sequential(nn.Conv2d(2, 3, 2), nn.Linear(3, 3))
    net[0].register_buffer("extra", ember.zeros(2, 3, 4, 5))
    net.to(memory_format=CL)
    assert net[0].weight.is_contiguous(memory_format=CL) and not net[0].weight.is_contiguous()
    assert net[0].extra.stride() == (60, 1, 15, 3)
    assert net[1].weight.stride() == (3, 1)
    with pytest.raises(RuntimeError, match="required rank 5 tensor to use channels_last_3d format"):
        net.to(memory_format=CL3)


def test_convert_conv_weight_memory_format_matches_torch(torch):
    strides = []
    for m in (ember, torch):
        net = m.nn.Sequential(m.nn.Conv2d(3, 4, 3), m.nn.ConvTranspose2d(4, 4, 3), m.nn.Conv1d(2, 2, 2),
                              m.nn.Conv3d(2, 2, 2), m.nn.Sequential(m.nn.Conv2d(4, 2, 1)))
        weights = [p for p in net.parameters()]
        assert m.nn.utils.convert_conv2d_weight_memory_format(net, m.channels_last) is net
        assert m.nn.utils.convert_conv3d_weight_memory_format(net, m.channels_last_3d) is net
        assert all(p is q for p, q in zip(weights, net.parameters()))
        strides.append([p.stride() for p in net.parameters()])
    assert strides[0] == strides[1]
    assert strides[0][0] == (27, 1, 9, 3)


# --- save / load: strides travel both ways ---------------------------------------------------------------

def _checkpoint_tensors(m):
    x = m.tensor(np.arange(360, dtype=np.float32).reshape(2, 3, 6, 10))
    cl = x.contiguous(memory_format=m.channels_last)
    n11 = m.tensor(np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1)).to(memory_format=m.channels_last)
    cl3 = m.tensor(np.arange(720, dtype=np.float64).reshape(2, 3, 4, 5, 6)).contiguous(
        memory_format=m.channels_last_3d)
    return {"cl": cl, "view": cl[:, 1:, 2:4], "n11": n11, "cl3": cl3}


@pytest.mark.parametrize("direction", ["ember_to_torch", "torch_to_ember", "ember_to_ember"])
def test_save_load_keeps_channels_last(torch, direction):
    writer, reader = {"ember_to_torch": (ember, torch), "torch_to_ember": (torch, ember),
                      "ember_to_ember": (ember, ember)}[direction]
    buffer = io.BytesIO()
    writer.save(_checkpoint_tensors(writer), buffer)
    buffer.seek(0)
    loaded = reader.load(buffer, weights_only=True)
    expected = _checkpoint_tensors(torch)
    for key, t in expected.items():
        got = loaded[key]
        assert (got.stride(), got.storage_offset()) == (t.stride(), t.storage_offset()), key
        _check(got, t)
    # the view shares the channels-last tensor's storage after loading, as in PyTorch
    assert loaded["view"].untyped_storage().data_ptr() == loaded["cl"].untyped_storage().data_ptr()


GRADCHECK_CASES = {
    "to": lambda m, x: x.to(memory_format=m.channels_last) * 2,
    "to_dtype": lambda m, x: x.to(m.float64, memory_format=m.channels_last),
    "conv2d": lambda m, x: m.nn.functional.conv2d(x, _w(m, (2, 3, 2, 2)).double(), _w(m, (2,)).double()),
    "conv2d_weight": lambda m, x: m.nn.functional.conv2d(x.contiguous(), x[:2, :, :2, :2]),
    "conv_transpose2d": lambda m, x: m.nn.functional.conv_transpose2d(x, _w(m, (3, 2, 2, 2), CL).double(),
                                                                       _w(m, (2,)).double(), stride=2),
    "max_pool2d": lambda m, x: m.nn.functional.max_pool2d(x, 2, padding=1),
    "avg_pool2d": lambda m, x: m.nn.functional.avg_pool2d(x, 2, stride=1),
    "adaptive_avg_pool2d": lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (2, 3)),
    "adaptive_max_pool2d": lambda m, x: m.nn.functional.adaptive_max_pool2d(x, (2, 3)),
    "batch_norm": lambda m, x: m.nn.functional.batch_norm(x, None, None, training=True),
    "group_norm": lambda m, x: m.nn.functional.group_norm(x, 3),
    "interpolate": lambda m, x: m.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
    "pad_reflect": lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"),
    "pad_constant": lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1)),
    "cat": lambda m, x: m.cat([x, x * 2], 1),
    "add_mixed": lambda m, x: x + x.contiguous() * 3,
    "where": lambda m, x: m.where(x > 0, x, x.contiguous() * 2),
    "softmax": lambda m, x: m.softmax(x, 1),
    "sum": lambda m, x: x.sum(0),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_channels_last_gradients(torch, name):
    fn = GRADCHECK_CASES[name]
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 5))
    assert gradcheck(lambda t: fn(ember, t), (ember.tensor(x).contiguous(memory_format=CL).requires_grad_(),))
    grads = []
    for m in (ember, torch):
        t = m.tensor(x).contiguous(memory_format=m.channels_last).requires_grad_()
        out = fn(m, t)
        out.backward(m.tensor(np.random.default_rng(9).standard_normal(tuple(out.shape))))
        grads.append(t.grad)
    _check(*grads, atol=1e-8)
