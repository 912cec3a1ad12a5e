"""Random sampling: rand, randn, randint, randperm, normal, bernoulli, multinomial and in-place fills.

Every draw goes through an ember.Generator (the default one unless generator= is given), whose
`*_array` methods produce NumPy arrays; the result is then moved to the requested device.
"""
import numbers

import numpy as np

from .. import _dtype as _dt
from .._device import CPU, to_device
from .._tensor import Tensor, _make
from ..autograd.grad_mode import _State
from ..backends import backend_for
from ._registry import export, export_method
from ._shapes import parse_shape


def _gen(generator):
    if generator is None:
        from ..random import default_generator
        return default_generator
    return generator


def _place(array, device, requires_grad):
    array = np.asarray(array)
    device = to_device(device) if device is not None else CPU
    if device.type != "cpu":
        array = backend_for(device).from_numpy(array)
    t = _make(array, device)
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype):
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"check_uniform_bounds\" not implemented for '{dtype.name.capitalize()}'")
    return dtype


@export(method=False)
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False):
    """Uniform samples in [0, 1)."""
    dtype = _float_dtype(dtype)
    return _place(_gen(generator).uniform_array(parse_shape(size), dtype.numpy, 0.0, 1.0), device, requires_grad)


@export(method=False)
def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False):
    """Standard normal samples."""
    dtype = _float_dtype(dtype)
    return _place(_gen(generator).normal_array(parse_shape(size), dtype.numpy, 0.0, 1.0), device, requires_grad)


@export(method=False)
def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False):
    """Integers in [low, high); randint(high, size) also works."""
    if size is None:
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint() missing required arguments: high and size")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    array = _gen(generator).randint_array(parse_shape((size,)), int(low), int(high), dtype.numpy)
    return _place(array, device, requires_grad)


@export(method=False)
def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    """A random permutation of 0..n-1."""
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    return _place(_gen(generator).randperm_array(int(n), dtype.numpy), device, requires_grad)


@export(method=False)
def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return rand(tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


@export(method=False)
def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return randn(tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


@export(method=False)
def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device)


def _array_of(x):
    return x._backend().to_numpy(x._array) if isinstance(x, Tensor) else x


@export(method=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Normal samples: mean/std may be tensors (broadcast) or floats (then size is required)."""
    gen = _gen(generator)
    if isinstance(std, numbers.Number) and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        if isinstance(std, Tensor) and bool((std._array < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        shape = np.broadcast_shapes(np.shape(_array_of(mean)), np.shape(_array_of(std)))
        dtype = ref.dtype
        array = gen.normal_array(shape, dtype.numpy, _array_of(mean), _array_of(std))
        return _place(array, device or ref.device, requires_grad)
    if size is None:
        raise TypeError("normal() missing required argument 'size' when mean and std are numbers")
    dtype = _float_dtype(dtype)
    return _place(gen.normal_array(parse_shape((size,)), dtype.numpy, float(mean), float(std)), device,
                  requires_grad)


@export(method=True)
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples with probabilities `input` (or the scalar p), in input's dtype."""
    probs = p if p is not None else input
    probs_array = _array_of(probs)
    if np.any((np.asarray(probs_array) < 0) | (np.asarray(probs_array) > 1)):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    array = _gen(generator).bernoulli_array(probs_array, tuple(input.shape), input._array.dtype)
    return _place(array, input.device, False)


@export(method=True)
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from the rows of `input` (non-negative weights)."""
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    probs = _array_of(input)
    if np.any(probs < 0) or not np.all(np.isfinite(probs)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if np.any(probs.reshape(-1, probs.shape[-1]).sum(-1) <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > probs.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    return _place(_gen(generator).multinomial_array(probs, int(num_samples), bool(replacement)), input.device,
                  False)


# --- in-place fills ---------------------------------------------------------------------------------

def _fill_inplace(self, array, name):
    from .inplace import check_inplace
    check_inplace(self, name)
    if _State.grad_enabled and (self._requires_grad or (self._base is not None and self._base._requires_grad)):
        from .inplace import copy_
        return copy_(self, _place(array, self.device, False))
    dst = self._array
    if self._device.type != "cpu":
        array = self._backend().from_numpy(array)
    dst[...] = array
    self._bump_version()
    return self


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    return _fill_inplace(self, _gen(generator).uniform_array(tuple(self.shape), self._array.dtype, a, b),
                         "uniform_")


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill_inplace(self, _gen(generator).normal_array(tuple(self.shape), self._array.dtype, mean, std),
                         "normal_")


def random_(self, from_=0, to=None, *, generator=None):
    if to is None:
        if self.dtype.category >= _dt.FLOAT:
            to = 2 ** (np.finfo(self._array.dtype).nmant + 1) + 1 if self.dtype is not _dt.bfloat16 else 2 ** 8 + 1
        else:
            to = int(np.iinfo(self._array.dtype).max) + 1 if self.dtype is not _dt.bool_ else 2
    array = _gen(generator).randint_array(tuple(self.shape), int(from_), int(to), np.int64)
    return _fill_inplace(self, array.astype(self._array.dtype), "random_")


def bernoulli_(self, p=0.5, *, generator=None):
    probs = _array_of(p)
    return _fill_inplace(self, _gen(generator).bernoulli_array(probs, tuple(self.shape), self._array.dtype),
                         "bernoulli_")


def exponential_(self, lambd=1.0, *, generator=None):
    u = _gen(generator).uniform_array(tuple(self.shape), np.float64, 0.0, 1.0)
    return _fill_inplace(self, (-np.log1p(-u) / lambd).astype(self._array.dtype), "exponential_")


def geometric_(self, p, *, generator=None):
    u = _gen(generator).uniform_array(tuple(self.shape), np.float64, 0.0, 1.0)
    return _fill_inplace(self, np.ceil(np.log1p(-u) / np.log1p(-p)).astype(self._array.dtype), "geometric_")


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    z = _gen(generator).normal_array(tuple(self.shape), np.float64, mean, std)
    return _fill_inplace(self, np.exp(z).astype(self._array.dtype), "log_normal_")


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    u = _gen(generator).uniform_array(tuple(self.shape), np.float64, 0.0, 1.0)
    return _fill_inplace(self, (median + sigma * np.tan(np.pi * (u - 0.5))).astype(self._array.dtype), "cauchy_")


for _fn in (uniform_, normal_, random_, bernoulli_, exponential_, geometric_, log_normal_, cauchy_):
    export_method(_fn)
