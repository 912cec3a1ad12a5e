"""Random sampling: rand, randn, randint, randperm, normal, bernoulli, multinomial and in-place fills.

Every draw goes through an ember.Generator (the target device's default one unless generator= is given),
whose `*_array` methods reproduce PyTorch 2.13's CPU kernels bit for bit (ember/random.py). This module
adds PyTorch's signatures, argument checks and one more fact: a kernel fills a non-contiguous
tensor in memory order (TensorIterator's order), and PyTorch's normal kernel takes its element-wise
path there, so `_fill` hands the generator the tensor's layout.

The draws are host arrays by design, on every device: a cuda tensor's numbers come from its device's
generator on the host and are copied over with the backend's from_numpy (Note [cuda random numbers] in
ember/random.py), so the NumPy code here works on generator output and on explicit host copies only.
"""
import math
import warnings

import numpy as np

from .. import _dtype as _dt
from .. import random as _random
from .._device import CPU, _default as _default_device, to_device
from .._tensor import Tensor, _make
from ..autograd.grad_mode import _State
from .._backends import backend_for
from ._registry import export, export_method
from ._shapes import parse_shape, parse_size

# c10's ScalarType names (NotImplementedError messages) and C++ type names (bounds messages)
_SCALAR_NAME = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}
_CPP_NAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
             "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool"}
_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}
_INT_RANGE = {"bool": (0, 1), "uint8": (0, 255), "int8": (-128, 127), "int16": (-(1 << 15), (1 << 15) - 1),
              "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}
_FLOAT_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38,
              "float64": 1.7976931348623157e308}


def _gen(generator, device=CPU):
    """The generator that draws for a tensor on `device`: the one given, which must be on the device's type (as
    PyTorch checks), else the device's default (Note [cuda random numbers] in ember/random.py)."""
    if generator is None:
        if device.type == "cuda":
            return _random.cuda_generator(device.index or 0)
        return _random.default_generator
    if generator.device.type != device.type and device.type != "meta":
        raise RuntimeError(f"Expected a '{device.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator


def _target(device, out):
    """The device a factory fills: out's, else device=, else the default device (set_default_device)."""
    if out is not None:
        return out._device
    return to_device(device) if device is not None else _default_device[0]


def _fmt(x):
    """A number as PyTorch's C++ messages print it (6 significant digits)."""
    return f"{x:g}" if isinstance(x, float) else str(x)


def _not_implemented(kernel, dtype):
    raise NotImplementedError(f"\"{kernel}\" not implemented for '{_SCALAR_NAME[dtype.name]}'")


def _require_float(kernel, dtype):
    if not dtype.is_floating_point:
        _not_implemented(kernel, dtype)


def _dtype_or_default(dtype):
    return _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()


def _np_dtype(dtype):
    if dtype.numpy is None:
        _dt.check_bfloat16()
    return dtype.numpy


_size = parse_size                                  # rand(2, 3) / rand((2, 3)) / rand(size=(2, 3))


def _result(array, out, device, requires_grad):
    """A new tensor on `device` from a host (NumPy) array of draws, or the array written into `out` (resized
    like PyTorch)."""
    if out is not None:
        if tuple(out.shape) != array.shape:
            out._array = out._backend().xp.empty(array.shape, dtype=out._array.dtype)
        return _fill_inplace(out, array, "out")
    array = np.asarray(array)           # a NumPy scalar from a 0-d draw becomes an array
    device = to_device(device)
    if device.type != "cpu":
        array = backend_for(device).from_numpy(array)
    t = _make(array, device)
    if requires_grad:
        t.requires_grad = True
    return t


# PyTorch's grad_fn names for the random fills of a tensor in a graph (the others are NameBackward0).
_NODE_NAMES = {"out": "CopyBackwards", "bernoulli_": "BernoulliBackward2", "random_": "RandomBackward2",
               "log_normal_": "LogNormalBackward0"}


def _fill_inplace(self, array, name):
    from .inplace import check_inplace
    check_inplace(self, name)
    if _State.grad_enabled and (self._requires_grad or (self._base is not None and self._base._requires_grad)):
        from .inplace import overwrite, overwrite_op
        return overwrite(self, _result(array, None, self.device, False), overwrite_op(_NODE_NAMES.get(
            name, name.strip("_").capitalize() + "Backward0")))
    dst = self._array
    if self._device.type != "cpu":
        array = self._backend().from_numpy(array)
    dst[...] = array
    self._bump_version()
    return self


def _memory_order(array):
    """Axes from slowest to fastest in memory: the order PyTorch's TensorIterator fills them."""
    return sorted(range(array.ndim), key=lambda d: -abs(array.strides[d]) if array.shape[d] != 1 else 0)


def _fill(self, name, make):
    """Fill self with make(shape, contiguous) drawn in self's memory order."""
    if self._device.type == "meta":               # no data to fill: draw nothing, as PyTorch does
        from .inplace import check_inplace
        check_inplace(self, name)
        self._bump_version()
        return self
    shape = tuple(self._array.shape)
    if self.is_contiguous():
        values = make(shape, True)
    else:
        order = _memory_order(self._array)
        values = make(tuple(shape[d] for d in order), False).transpose(np.argsort(order))
    return _fill_inplace(self, values, name)


def _like_layout(input):
    """Whether empty_like(input) keeps input's (non-contiguous) strides: dense and non-overlapping."""
    array = input._array
    if input.is_contiguous():
        return False
    order = _memory_order(array)
    expected = array.dtype.itemsize
    for d in reversed(order):
        if array.shape[d] != 1 and abs(array.strides[d]) != expected:
            return False
        expected *= array.shape[d]
    return True


def _draw_like(input, dtype, make):
    """make(shape, contiguous) drawn into a tensor laid out like empty_like(input) (PyTorch's *_like keep a
    non-contiguous input's layout, and the kernel fills it in memory order): the values in logical order,
    as a view with that layout."""
    array = input._array
    shape = tuple(array.shape)
    if array.ndim < 2 or array.flags.c_contiguous or input._device.type == "meta":
        return make(shape, True)
    from .creation import layout_order
    order = layout_order(shape, array.strides)
    if order == sorted(order):
        return make(shape, True)
    return make(tuple(shape[d] for d in order), False).transpose(np.argsort(order))


# --- creation ----------------------------------------------------------------------------------------

@export(method=False)
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False, **kwargs):
    """Uniform samples in [0, 1)."""
    shape = _size(size, kwargs, "rand")
    dtype = _dtype_or_default(dtype) if out is None or dtype is not None else out.dtype
    _require_float("check_uniform_bounds", dtype)
    device = _target(device, out)
    return _result(_gen(generator, device).uniform_array(shape, _np_dtype(dtype)), out, device, requires_grad)


@export(method=False)
def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, **kwargs):
    """Standard normal samples."""
    shape = _size(size, kwargs, "randn")
    dtype = _dtype_or_default(dtype) if out is None or dtype is not None else out.dtype
    device = _target(device, out)
    if dtype.is_complex:
        # PyTorch draws the real and imaginary parts as one float tensor of shape (..., 2) with std 1/sqrt(2)
        real = _np_dtype(dtype.to_real())
        pairs = _gen(generator, device).normal_array(shape + (2,), real, 0.0, 1 / math.sqrt(2))
        return _result(np.ascontiguousarray(pairs).view(_np_dtype(dtype))[..., 0], out, device, requires_grad)
    _require_float("normal_kernel_cpu", dtype)
    return _result(_gen(generator, device).normal_array(shape, _np_dtype(dtype)), out, device, requires_grad)


def _as_float_int(value, dtype):
    """static_cast<int64_t>(static_cast<scalar_t>(value)); Half and BFloat16 convert via float."""
    array = np.array(value, dtype=np.int64)
    if dtype.name in ("float16", "bfloat16"):
        array = array.astype(np.float32)
    with np.errstate(over="ignore"):
        rounded = float(array.astype(_np_dtype(dtype)))
    # an infinite float converts (undefined behaviour in C++) to INT64_MIN on x86, as PyTorch sees it
    return int(rounded) if math.isfinite(rounded) else -(1 << 63)


def _update_from(low, dtype):
    """PyTorch's update_from: a `from` whose successor rounds below it moves up one float step."""
    rounded = _as_float_int(low + 1, dtype)
    if rounded < low:
        low = rounded + (1 << (abs(low + 1).bit_length() - 1 - _DIGITS[dtype.name] + 1))
    return low


def _update_to(high, dtype):
    """PyTorch's update_to: a `to` whose predecessor rounds up to it moves down one float step."""
    rounded = _as_float_int(high - 1, dtype)
    if rounded >= high:
        high = rounded - (1 << (abs(high - 1).bit_length() - 1 - _DIGITS[dtype.name] + 1))
    return high


def _check_bounds(low, high_inclusive, dtype):
    """check_from_to_in_range: errors outside the dtype, warnings outside a float's exact integers."""
    name = dtype.name
    if dtype.is_floating_point:
        limit = _FLOAT_MAX[name]
        for value, what in ((low, "from"), (high_inclusive, "to - 1")):
            if not -limit <= value <= limit:
                raise RuntimeError(f"{what} is out of bounds for {_CPP_NAME[name]}")
        digits = _DIGITS[name]
        for value, what in ((low, "from"), (high_inclusive, "to - 1")):
            if not -(1 << digits) <= value <= (1 << digits):
                warnings.warn(f"{what} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                              f"limitations {_CPP_NAME[name]} can support discrete uniform distribution only "
                              "within this range. This warning will become an error in version 1.7 release, "
                              "please fix the code in advance", UserWarning, stacklevel=4)
    else:
        lowest, highest = _INT_RANGE[name]
        for value, what in ((low, "from"), (high_inclusive, "to - 1")):
            if not lowest <= value <= highest:
                raise RuntimeError(f"{what} is out of bounds for {_CPP_NAME[name]}")


def _random_from_to(shape, dtype, low, high, gen):
    """Tensor.random_(low, high) with high None meaning the dtype's top: PyTorch's checks, then draws."""
    if dtype.is_complex:
        _not_implemented("random_from_to_kernel_cpu" if high is not None else "random_kernel_cpu", dtype)
    low = int(low)
    if high is not None:
        high = int(high)
        if low >= high:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        if dtype.is_floating_point:
            low, high = _update_from(low, dtype), _update_to(high, dtype)
            if low >= high:
                raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than 'to' casted to "
                                   f"dtype, but got from={low} >= to={high}")
        _check_bounds(low, high - 1, dtype)
        return gen.random_array(shape, _np_dtype(dtype), low, high)
    if low == -(1 << 63):
        if dtype.name not in ("int64", "float32", "float64", "bfloat16"):
            raise RuntimeError("random_full_64_bits_range_kernel_cpu handles only int64, double, float and "
                               "bfloat16")
        return gen.random_array(shape, _np_dtype(dtype), low, None)
    if dtype.is_floating_point:
        top = min(1 << _DIGITS[dtype.name], (1 << 63) - 1)
        low = _update_from(low, dtype)
        if low >= top:
            raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' "
                               f"casted to dtype, but got from={low} > to_inc={top}")
    else:
        top = _INT_RANGE[dtype.name][1]
    _check_bounds(low, top, dtype)
    return gen.random_array(shape, _np_dtype(dtype), low, top + 1)


@export(method=False)
def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False, pin_memory=False):
    """Integers in [low, high); randint(high, size) also works."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None and size is not None:
        low, high = 0, low
    if high is None or size is None:
        raise TypeError("randint() received an invalid combination of arguments: expected (int high, tuple "
                        "of ints size) or (int low, int high, tuple of ints size)")
    shape = parse_shape((size,))
    dtype = _dt.to_dtype(dtype) if dtype is not None else (out.dtype if out is not None else _dt.int64)
    device = _target(device, out)
    array = _random_from_to(shape, dtype, low, high, _gen(generator, device))
    return _result(array, out, device, requires_grad)


@export(method=False)
def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    """A random permutation of 0..n-1."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dtype = _dt.to_dtype(dtype) if dtype is not None else (out.dtype if out is not None else _dt.int64)
    if dtype is _dt.bool_ or dtype.is_complex:
        _not_implemented("randperm", dtype)
    if dtype.is_floating_point and n > (1 << _DIGITS[dtype.name]) + 1:
        raise RuntimeError(f"n cannot be greater than 2^{_DIGITS[dtype.name]}+1 for "
                           f"{_SCALAR_NAME[dtype.name]} type." if dtype.name != "float16"
                           else "n cannot be greater than 2049 for Half type.")
    if not dtype.is_floating_point and n - 1 > _INT_RANGE[dtype.name][1]:
        raise RuntimeError(f"value cannot be converted to type {dtype.name}_t without overflow")
    device = _target(device, out)
    return _result(_gen(generator, device).randperm_array(n, _np_dtype(dtype)), out, device, requires_grad)


def _like_dtype(input, dtype):
    return _dt.to_dtype(dtype) if dtype is not None else input.dtype


def _like_device(input, device):
    return to_device(device) if device is not None else input._device


@export(method=False)
def rand_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    """Uniform samples shaped like input (filled in input's memory order, as PyTorch does)."""
    dtype, device = _like_dtype(input, dtype), _like_device(input, device)
    _require_float("check_uniform_bounds", dtype)
    gen = _gen(generator, device)
    array = _draw_like(input, dtype, lambda shape, _: gen.uniform_array(shape, _np_dtype(dtype)))
    return _result(array, None, device, requires_grad)


@export(method=False)
def randn_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    """Standard normal samples shaped like input."""
    dtype, device = _like_dtype(input, dtype), _like_device(input, device)
    _require_float("normal_kernel_cpu", dtype)
    gen = _gen(generator, device)
    array = _draw_like(input, dtype, lambda shape, contiguous: gen.normal_array(
        shape, _np_dtype(dtype), contiguous=contiguous))
    return _result(array, None, device, requires_grad)


@export(method=False)
def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None, device=None,
                 requires_grad=False, memory_format=None):
    """Integers in [low, high) shaped like input; randint_like(input, high) also works."""
    if high is None:
        low, high = 0, low
    dtype, device = _like_dtype(input, dtype), _like_device(input, device)
    gen = _gen(generator, device)
    array = _draw_like(input, dtype, lambda shape, _: _random_from_to(shape, dtype, low, high, gen))
    return _result(array, None, device, requires_grad)


def _array_of(x):
    return x._backend().to_numpy(x._array) if isinstance(x, Tensor) else x


@export(method=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           requires_grad=False, pin_memory=False):
    """Normal samples; mean and/or std may be tensors (broadcast, differentiable) or numbers."""
    mean_is_tensor, std_is_tensor = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not (mean_is_tensor or std_is_tensor):
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got (float, float), but "
                            "expected one of: (Tensor mean, Tensor std), (Tensor mean, float std), "
                            "(float mean, Tensor std), (float mean, float std, tuple of ints size)")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(float(std))}")
        dtype = _dtype_or_default(dtype) if out is None or dtype is not None else out.dtype
        _require_float("normal_kernel_cpu", dtype)
        device = _target(device, out)
        array = _gen(generator, device).normal_array(parse_shape((size,)), _np_dtype(dtype), float(mean), float(std))
        return _result(array, out, device, requires_grad)
    from .creation import tensor
    if std_is_tensor and bool((_array_of(std) < 0).any()):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    if not std_is_tensor and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(float(std))}")
    like = mean if mean_is_tensor else std
    _require_float("normal_kernel_cpu", like.dtype)
    gen = _gen(generator, like._device)
    shape = np.broadcast_shapes(tuple(mean.shape), tuple(std.shape)) if mean_is_tensor and std_is_tensor \
        else tuple(like.shape)
    np_dtype = _np_dtype(like.dtype)
    if not std_is_tensor:        # PyTorch draws normal(0, std) and then adds mean
        samples = _make(gen.normal_array(shape, np_dtype, 0.0, float(std)), CPU).to(like.device)
        result = samples + mean
    else:                        # ... else normal(0, 1), times std, plus mean: each step rounded
        samples = _make(gen.normal_array(shape, np_dtype), CPU).to(like.device)
        result = samples * std + (mean if mean_is_tensor else tensor(mean, dtype=like.dtype,
                                                                     device=like.device))
    if result.dtype is not like.dtype:
        result = result.to(like.dtype)
    if out is not None:
        return _result(_array_of(result), out, None, False)
    return result


@export(method=True)
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples in input's dtype, with probabilities input (or the number p)."""
    gen = _gen(generator, input._device)
    if p is None:
        return _result(_bernoulli_tensor_p(tuple(input.shape), input.dtype, input, gen), out, input.device,
                       False)
    return _result(_bernoulli_scalar_p(tuple(input.shape), input.dtype, p, gen), out, input.device, False)


def _bernoulli_scalar_p(shape, dtype, p, gen):
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")
    if dtype.is_complex:
        _not_implemented("bernoulli_scalar_cpu_", dtype)
    return gen.bernoulli_array(float(p), shape, _np_dtype(dtype))


def _bernoulli_tensor_p(shape, dtype, p, gen):
    if not p.dtype.is_floating_point:
        _not_implemented("bernoulli_tensor_cpu_p_", p.dtype)
    if dtype.is_complex:
        _not_implemented("bernoulli_tensor_cpu_self_", dtype)
    probs = np.asarray(_array_of(p))
    if not bool(((probs >= 0) & (probs <= 1)).all()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    return gen.bernoulli_array(np.broadcast_to(probs, shape), shape, _np_dtype(dtype))


@export(method=True)
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Category indices drawn from the rows of input (non-negative weights)."""
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{_SCALAR_NAME[input.dtype.name]}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n_categories = input.shape[-1]
    if not replacement and num_samples > n_categories:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if n_categories > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    probs = np.asarray(_array_of(input))
    rows = probs.reshape(-1, n_categories)
    if rows.shape[0] == 0:
        return _result(np.empty(tuple(input.shape[:-1]) + (num_samples,), np.int64), out, input.device, False)
    if not replacement or num_samples == 1:
        if not bool(((rows >= 0) & (rows < np.inf)).all()):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if bool((rows.sum(-1) == 0).any()):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    else:
        if not bool((rows >= 0).all()):
            raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
        if not bool(np.isfinite(rows).all()):
            raise RuntimeError("invalid multinomial distribution (encountering probability entry = infinity or "
                               "NaN)")
        if bool((rows.sum(-1) <= 0).any()):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    # PyTorch's exponential noise is empty_like(input), so it is drawn in input's memory order
    noise_order = _memory_order(input._array) if _like_layout(input) else None
    array = _gen(generator, input._device).multinomial_array(probs, num_samples, bool(replacement),
                                                           noise_order=noise_order)
    return _result(np.ascontiguousarray(array), out, input.device, False)     # a new (contiguous) tensor


# --- in-place fills (Tensor methods) ---------------------------------------------------------------

def uniform_(self, from_=0.0, to=1.0, *, generator=None):
    """Fill with uniform samples in [from_, to)."""
    _require_float("check_uniform_bounds", self.dtype)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={_fmt(from_)} > "
                           f"to={_fmt(to)}")
    if to - from_ > _FLOAT_MAX[self.dtype.name]:
        raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<{_SCALAR_NAME[self.dtype.name]}>"
                           f"::max(), but found to={_fmt(to)} and from={_fmt(from_)} which result in to-from to "
                           "exceed the limit")
    gen, np_dtype = _gen(generator, self._device), _np_dtype(self.dtype)
    return _fill(self, "uniform_", lambda shape, _: gen.uniform_array(shape, np_dtype, from_, to))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal samples (PyTorch's blocked kernel when contiguous with >= 16 elements)."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    _require_float("normal_kernel_cpu", self.dtype)
    gen, np_dtype = _gen(generator, self._device), _np_dtype(self.dtype)
    return _fill(self, "normal_", lambda shape, contiguous: gen.normal_array(
        shape, np_dtype, float(mean), float(std), contiguous=contiguous))


_MISSING = object()


def random_(self, from_=_MISSING, to=_MISSING, *, generator=None):
    """random_(): the dtype's whole range; random_(to): [0, to); random_(from_, to): [from_, to)."""
    gen = _gen(generator, self._device)
    if from_ is _MISSING and to is _MISSING:
        if self.dtype.is_complex:
            _not_implemented("random_kernel_cpu", self.dtype)
        np_dtype = _np_dtype(self.dtype)
        return _fill(self, "random_", lambda shape, _: gen.random_array(shape, np_dtype))
    if to is _MISSING:
        from_, to = 0, from_
    return _fill(self, "random_", lambda shape, _: _random_from_to(shape, self.dtype, from_, to, gen))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 samples; p a probability or a tensor of them broadcast to self."""
    gen = _gen(generator, self._device)
    if isinstance(p, Tensor):
        if self.is_contiguous():
            values = _bernoulli_tensor_p(tuple(self.shape), self.dtype, p, gen)
            return _fill_inplace(self, values, "bernoulli_")
        order = _memory_order(self._array)
        probs = np.broadcast_to(np.asarray(_array_of(p)), tuple(self.shape)).transpose(order)
        values = _bernoulli_tensor_p(probs.shape, self.dtype, _make(np.ascontiguousarray(probs), CPU), gen)
        return _fill_inplace(self, values.transpose(np.argsort(order)), "bernoulli_")
    return _fill(self, "bernoulli_", lambda shape, _: _bernoulli_scalar_p(shape, self.dtype, p, gen))


def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with exponential samples of rate lambd."""
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"Exponential distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {_SCALAR_NAME[self.dtype.name]}")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lambd)}")
    gen, np_dtype = _gen(generator, self._device), _np_dtype(self.dtype)
    return _fill(self, "exponential_", lambda shape, _: gen.exponential_array(shape, np_dtype, lambd))


def geometric_(self, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(p)}")
    if self.dtype.is_complex or self.dtype is _dt.bool_:
        _not_implemented("geometric_cpu", self.dtype)
    gen, np_dtype = _gen(generator, self._device), _np_dtype(self.dtype)
    return _fill(self, "geometric_", lambda shape, _: gen.geometric_array(shape, np_dtype, p))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with exp of normal(mean, std) samples."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(std)}")
    _require_float("log_normal_cpu", self.dtype)
    gen, np_dtype = _gen(generator, self._device), _np_dtype(self.dtype)
    return _fill(self, "log_normal_", lambda shape, _: gen.log_normal_array(shape, np_dtype, mean, std))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with Cauchy(median, sigma) samples."""
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"Cauchy distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {_CPP_NAME[self.dtype.name]}")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}")
    gen, np_dtype = _gen(generator, self._device), _np_dtype(self.dtype)
    return _fill(self, "cauchy_", lambda shape, _: gen.cauchy_array(shape, np_dtype, median, sigma))


for _fn in (uniform_, normal_, random_, bernoulli_, exponential_, geometric_, log_normal_, cauchy_):
    export_method(_fn)
