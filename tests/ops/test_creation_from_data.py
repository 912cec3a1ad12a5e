"""tensor(data), as_tensor and the legacy constructors read Python data as PyTorch does (Note [tensor from
data] in ember/ops/creation.py): the shape, the inferred dtype, and the checks of each element against the
dtype (out-of-range integers, complex numbers into a real dtype, non-integer tensors into an integer dtype)."""
import warnings

import numpy as np
import pytest

import ember

# each case runs with T = torch and T = ember; "T.ByteTensor" is a legacy constructor
CASES = [
    # integers out of the dtype's range: RuntimeError; negative ints wrap into unsigned types down to -max
    "T.ByteTensor([300])", "T.tensor([300], dtype=T.uint8)", "T.tensor([-2.7], dtype=T.uint8)",
    "T.ByteTensor([-2.7])", "T.tensor([-0.5], dtype=T.uint8)", "T.tensor([255.5], dtype=T.uint8)",
    "T.tensor([-1], dtype=T.uint8)", "T.tensor([-255], dtype=T.uint8)", "T.tensor([-256], dtype=T.uint8)",
    "T.tensor([2.7], dtype=T.uint8)", "T.tensor([128], dtype=T.int8)", "T.tensor([-129], dtype=T.int8)",
    "T.tensor(((1, 2), (3, 400)), dtype=T.int8)", "T.tensor([2**31], dtype=T.int32)",
    "T.tensor([1e20], dtype=T.int64)", "T.tensor([9.3e18], dtype=T.int64)", "T.tensor(300, dtype=T.uint8)",
    "T.as_tensor([300], dtype=T.uint8)", "T.LongTensor([300.5])", "T.tensor([-1, 2.5], dtype=T.uint8)",
    "T.tensor([1, -2.5], dtype=T.uint8)", "T.tensor([float('nan')], dtype=T.int64)",
    "T.tensor([float('nan')], dtype=T.bool)", "T.tensor([2.5, 0.0], dtype=T.bool)",
    "T.tensor([70000.0], dtype=T.float16)", "T.tensor([1e300], dtype=T.float32)",
    # Python ints past int64
    "T.tensor([2**63])", "T.tensor([2**63, -1])", "T.LongTensor([[1, 2], [3, 2**63]])",
    "T.tensor([2**63], dtype=T.float32)", "T.tensor([2**70], dtype=T.float64)",
    "T.tensor([2**70], dtype=T.bool)", "T.tensor([2**1100], dtype=T.float32)",
    # complex numbers into a real dtype: TypeError (bool takes them)
    "T.tensor([1 + 2j], dtype=T.float32)", "T.tensor([1 + 0j], dtype=T.float64)", "T.tensor(1 + 2j, dtype=T.float16)",
    "T.tensor([[1.0, 2 + 1j]], dtype=T.float64)", "T.as_tensor([1 + 2j], dtype=T.float32)",
    "T.FloatTensor([1 + 2j])", "T.LongTensor([1 + 2j])", "T.tensor([1 + 2j], dtype=T.bool)",
    "T.tensor([1, 2 + 1j])",
    # tensors inside a list are elements: one element each, whatever their shape
    "T.tensor([T.tensor([1.0]), T.tensor([2.0])])", "T.tensor([T.tensor(1.0), T.tensor(2.0)])",
    "T.tensor([T.tensor([[2.0]])])", "T.tensor([[T.tensor(1.0)], [T.tensor(2.0)]])",
    "T.tensor([T.tensor([1.0]), 2.0])", "T.tensor([T.tensor([1.0, 2.0]), T.tensor([2.0, 3.0])])",
    "T.tensor([T.tensor([])])", "T.tensor([T.tensor([1.0]), [2.0]])",
    "T.tensor([T.tensor(1.0, dtype=T.float64), 2.0])", "T.tensor([T.tensor(1), 2.5])",
    "T.tensor([T.tensor(1, dtype=T.uint8), T.tensor(2, dtype=T.int8)])",
    "T.tensor([T.tensor(1.0 + 1j)])", "T.tensor([T.tensor(1.5)], dtype=T.complex64)",
    "T.tensor([T.tensor(1.0 + 1j)], dtype=T.float32)", "T.tensor([T.tensor(1 + 0j)], dtype=T.float32)",
    "T.tensor([T.tensor(1.5, requires_grad=True)])",
    # float (0-d) tensors into an integer or bool dtype: TypeError; integer and bool tensors are checked
    "T.tensor([T.tensor(1.5)], dtype=T.int64)", "T.tensor([T.tensor(1.0)], dtype=T.int64)",
    "T.LongTensor([T.tensor(1.5)])", "T.LongTensor([T.tensor(1)])", "T.tensor([T.tensor(True)], dtype=T.int64)",
    "T.tensor([T.tensor(1.5)], dtype=T.bool)", "T.tensor([T.tensor(300)], dtype=T.uint8)",
    "T.tensor([T.tensor(2**40)], dtype=T.int32)", "T.tensor([T.tensor(3)], dtype=T.float32)",
    # NumPy scalars and arrays inside a list: their own dtypes, promoted as PyTorch promotes
    "T.tensor([np.float32(1), 2.0])", "T.tensor([np.bool_(True), 1.5])", "T.tensor([np.int32(1), np.int16(2)])",
    "T.tensor([np.array([1.0, 2.0])])", "T.tensor([np.array([1, 2]), np.array([3, 4.5])])",
    "T.tensor([np.array([1, 2], dtype=np.uint8), np.array([3, -4], dtype=np.int8)])",
    "T.tensor([np.array([300])], dtype=T.uint8)", "T.tensor([np.int64(300)], dtype=T.uint8)",
    "T.tensor([np.float32(1.5)], dtype=T.int64)", "T.tensor([np.float64(1.5)], dtype=T.int64)",
    "T.tensor([np.float16(1.5)], dtype=T.bool)", "T.tensor([np.bool_(True)], dtype=T.int64)",
    "T.tensor([np.complex128(1)], dtype=T.bool)", "T.tensor([np.complex64(1)], dtype=T.bool)",
    "T.tensor(np.int64(300), dtype=T.uint8)", "T.tensor(np.float64(-1.5), dtype=T.uint8)",
    "T.tensor([np.array(True)])",
    # a NumPy array or a tensor as the data is cast as a whole (wrapping)
    "T.tensor(np.array([300]), dtype=T.uint8)", "T.tensor(np.array([-2.7]), dtype=T.uint8)",
    "T.tensor(np.array([np.nan]), dtype=T.bool)", "T.ByteTensor(np.array([300]))",
    "T.tensor(T.tensor([300]), dtype=T.uint8)", "T.tensor(T.tensor(1.5), dtype=T.int64)",
    # shapes and what cannot be read
    "T.tensor([[1, 2], [3]])", "T.tensor([[1], []])", "T.tensor([[], [1]])", "T.tensor([[1, 2], 3])",
    "T.tensor([1, [2, 3]])", "T.tensor([range(3), range(3)])", "T.tensor(range(3))", "T.tensor([[], []])",
    "T.tensor([None])", "T.tensor(None)", "T.tensor([1, None])", "T.tensor([{}])", "T.tensor(['ab'])",
    "T.tensor('a')", "T.tensor([1, 'a'])", "T.tensor(None, dtype=T.float32)",
]


def _outcome(module, expr):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # PyTorch's warning about lists of NumPy arrays
            t = eval(expr, {"T": module, "np": np})
    except Exception as e:
        return type(e).__name__, str(e)
    return tuple(t.shape), str(t.dtype).rsplit(".", 1)[-1], t.tolist()


@pytest.mark.parametrize("expr", CASES)
def test_tensor_from_data_matches_torch(expr):
    torch = pytest.importorskip("torch")
    assert _outcome(ember, expr) == _outcome(torch, expr)


@pytest.mark.parametrize("make", [lambda: ember.ByteTensor([300]), lambda: ember.tensor([300], dtype=ember.uint8),
                                  lambda: ember.tensor([-2.7], dtype=ember.uint8),
                                  lambda: ember.as_tensor([128], dtype=ember.int8),
                                  lambda: ember.tensor([ember.tensor(300)], dtype=ember.uint8)])
def test_out_of_range_values_raise(make):
    with pytest.raises(RuntimeError, match="value cannot be converted to type u?int8 without overflow"):
        make()


def test_negative_ints_wrap_into_unsigned_types():
    assert ember.tensor([-1, -255], dtype=ember.uint8).tolist() == [255, 1]
    assert ember.tensor(np.array([300, -2.7]), dtype=ember.uint8).tolist() == [44, 254]   # arrays wrap


def test_complex_values_into_a_real_dtype_raise():
    with pytest.raises(TypeError, match="must be real number, not complex"):
        ember.tensor([1 + 2j], dtype=ember.float32)
    with pytest.raises(TypeError, match="'complex' object cannot be interpreted as an integer"):
        ember.LongTensor([1 + 2j])
    assert ember.tensor([1 + 2j], dtype=ember.bool).tolist() == [True]


def test_tensors_in_a_list_are_elements():
    t = ember.tensor([ember.tensor([1.0]), ember.tensor([2.0], dtype=ember.float64)])
    assert t.shape == (2,) and t.dtype is ember.float64 and t.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="only one element tensors"):
        ember.tensor([ember.tensor([1.0, 2.0])])
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        ember.tensor([ember.tensor(1.0)], dtype=ember.int64)
    assert ember.LongTensor([ember.tensor(3), ember.tensor(True)]).tolist() == [3, 1]


def test_ragged_lists_name_the_dim():
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 1\)"):
        ember.tensor([[1, 2], [3]])
