"""Which dtypes each activation takes, and how it refuses the others: PyTorch's kernels raise NotImplementedError
naming the kernel ("elu_cpu" not implemented for 'Long'), hardtanh clamps integers but refuses bool, complex and
negative limits on uint8, threshold takes integers, silu takes complex."""
import numpy as np
import pytest

import ember


def F(m):
    return m.nn.functional


ACTIVATIONS = {
    "elu": lambda m, x: F(m).elu(x), "elu_": lambda m, x: F(m).elu_(x), "selu": lambda m, x: m.selu(x),
    "selu_": lambda m, x: m.selu_(x), "celu": lambda m, x: m.celu(x), "celu_": lambda m, x: m.celu_(x),
    "leaky_relu": lambda m, x: F(m).leaky_relu(x), "leaky_relu_": lambda m, x: F(m).leaky_relu_(x),
    "rrelu": lambda m, x: F(m).rrelu(x), "rrelu_train": lambda m, x: F(m).rrelu(x, training=True),
    "rrelu_": lambda m, x: m.rrelu_(x), "gelu": lambda m, x: F(m).gelu(x), "silu": lambda m, x: F(m).silu(x),
    "mish": lambda m, x: F(m).mish(x), "softplus": lambda m, x: F(m).softplus(x),
    "hardsigmoid": lambda m, x: F(m).hardsigmoid(x), "hardswish": lambda m, x: F(m).hardswish(x),
    "hardshrink": lambda m, x: F(m).hardshrink(x), "softshrink": lambda m, x: F(m).softshrink(x),
    "logsigmoid": lambda m, x: F(m).logsigmoid(x), "hardtanh": lambda m, x: F(m).hardtanh(x),
    "hardtanh_": lambda m, x: F(m).hardtanh_(x), "relu6": lambda m, x: F(m).relu6(x),
    "threshold": lambda m, x: F(m).threshold(x, 1, 5), "threshold_": lambda m, x: m.threshold_(x, 1, 5),
}
DTYPES = {
    "int64": lambda m: m.tensor([-3, 0, 2]), "uint8": lambda m: m.tensor([0, 1, 3], dtype=m.uint8),
    "bool": lambda m: m.tensor([True, False]), "complex64": lambda m: m.tensor([1 + 1j, -0.5 + 0j]),
}


def _outcome(m, name, dtype):
    try:
        out = ACTIVATIONS[name](m, DTYPES[dtype](m))
    except (RuntimeError, NotImplementedError) as e:
        return type(e).__name__, str(e)
    return str(out.dtype).rsplit(".", 1)[-1], np.asarray(out.numpy()).tolist()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_dtypes_match_torch(torch, name, dtype):
    got, want = _outcome(ember, name, dtype), _outcome(torch, name, dtype)
    if isinstance(want[1], list) and dtype == "complex64":
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
        assert got[0] == want[0]
    else:
        assert got == want


def test_activation_dtype_refusals_without_torch():
    with pytest.raises(NotImplementedError, match="\"elu_cpu\" not implemented for 'Long'"):
        ember.selu_(ember.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="\"GeluKernelImpl\" not implemented for 'ComplexFloat'"):
        F(ember).gelu(ember.tensor([1j]))
    with pytest.raises(RuntimeError, match="Bool inputs not supported for hardtanh"):
        F(ember).hardtanh(ember.tensor([True]))
    with pytest.raises(RuntimeError, match="unsigned type with negative limits"):
        F(ember).hardtanh(ember.tensor([1], dtype=ember.uint8))
    assert F(ember).hardtanh(ember.tensor([-3, 0, 3])).tolist() == [-1, 0, 1]
    assert F(ember).relu6(ember.tensor([1, 9], dtype=ember.uint8)).tolist() == [1, 6]
    assert ember.threshold(ember.tensor([0, 3]), 1, 5).tolist() == [5, 3]
