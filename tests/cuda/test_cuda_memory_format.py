"""Memory formats on the cuda device: every case of tests/test_memory_format.py's tables (to/contiguous/clone/
empty/*_like, elementwise ops, conv/pool/norm/resampling and their input gradients) gives on cuda the strides,
contiguity flags and values it gives on the cpu."""
import sys
from pathlib import Path

import numpy as np
import pytest

import ember

sys.path.insert(0, str(Path(__file__).parents[1]))
from test_memory_format import ELEMENTWISE_CASES, GRAD_CASES, LAYOUT_CASES, NN_CASES, _operands  # noqa: E402

CL = ember.channels_last


def _layout(t):
    rank = {4: ember.channels_last, 5: ember.channels_last_3d}.get(t.dim())
    return (tuple(t.shape), t.stride(), t.is_contiguous(),
            None if rank is None else t.is_contiguous(memory_format=rank))


def _on(device, fn):
    """fn() with device as the default device (the tables make their tensors with ember.tensor)."""
    ember.set_default_device(None if device == "cpu" else device)
    try:
        return fn()
    finally:
        ember.set_default_device(None)


def _check(cuda_out, cpu_out, device_expected=True):
    assert _layout(cuda_out) == _layout(cpu_out)
    if device_expected:
        assert cuda_out.device.type == "cuda"
    np.testing.assert_array_equal(cuda_out.detach().cpu().numpy(), cpu_out.detach().numpy())


def _input(shape, layout, requires_grad=False):
    x = _operands(ember, [(shape, layout)])[0]
    return x.detach().requires_grad_() if requires_grad else x


@pytest.mark.parametrize("name", sorted(LAYOUT_CASES))
def test_layout_api_on_cuda(cuda_device, name):
    fn = LAYOUT_CASES[name]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    outs = [_on(d, lambda: fn(ember, ember.tensor(x))) for d in (cuda_device, "cpu")]
    _check(*outs, device_expected=name != "to_device_dtype")


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_CASES))
def test_elementwise_layout_on_cuda(cuda_device, name):
    spec, fn = ELEMENTWISE_CASES[name]
    _check(*[_on(d, lambda: fn(ember, *_operands(ember, spec))) for d in (cuda_device, "cpu")])


@pytest.mark.parametrize("name", sorted(NN_CASES))
def test_nn_op_layout_on_cuda(cuda_device, name):
    shape, layout, fn = NN_CASES[name]
    outs = [_on(d, lambda: fn(ember, _input(shape, layout))) for d in (cuda_device, "cpu")]
    assert _layout(outs[0]) == _layout(outs[1])
    np.testing.assert_allclose(outs[0].detach().cpu().numpy(), outs[1].detach().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", GRAD_CASES)
def test_input_grad_layout_on_cuda(cuda_device, name):
    shape, layout, fn = NN_CASES[name]

    def grad():
        x = _input(shape, layout, requires_grad=True)
        out = fn(ember, x)
        weight = ember.tensor(np.random.default_rng(6).standard_normal(tuple(out.shape)).astype(np.float32))
        (out * weight).sum().backward()
        return x.grad
    grads = [_on(d, grad) for d in (cuda_device, "cpu")]
    assert _layout(grads[0]) == _layout(grads[1]) and grads[0].device.type == "cuda"
    np.testing.assert_allclose(grads[0].cpu().numpy(), grads[1].numpy(), rtol=1e-6, atol=1e-6)


def test_channels_last_on_cuda_without_the_cpu(cuda_device):
    x = ember.arange(120., device=cuda_device).reshape(2, 3, 4, 5)
    y = x.to(memory_format=CL)
    assert y.stride() == (60, 1, 15, 3) and y.is_contiguous(memory_format=CL) and not y.is_contiguous()
    assert y.contiguous(memory_format=CL) is y and y.contiguous().stride() == (60, 20, 5, 1)
    assert ember.equal(y, x) and y.device.type == "cuda"
    w = ember.ones(4, 3, 1, 1, device=cuda_device)
    assert ember.nn.functional.conv2d(y, w).stride() == (80, 1, 20, 4)
    assert ember.nn.functional.max_pool2d(y, 2).stride() == (12, 1, 6, 3)
    assert (y + 1).stride() == (60, 1, 15, 3)
    assert ember.empty(2, 0, 4, 5, device=cuda_device, memory_format=CL).stride() == (0, 1, 0, 0)
    z = ember.randn(2, 3, 4, 5, device=cuda_device).contiguous(memory_format=CL).requires_grad_()
    (z.contiguous() * 2).sum().backward()
    assert z.grad.stride() == (60, 1, 15, 3) and ember.equal(z.grad.cpu(), ember.full((2, 3, 4, 5), 2.0))
