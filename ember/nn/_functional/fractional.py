"""Part of ember.nn.functional: fractional max pooling (Graham, 2014).

The window geometry and the kernel's checks live in ember/ops/adaptive_pooling.py (fractional_max_pool);
here are PyTorch's arguments: output_ratio turned into a size, and `_random_samples` drawn from the default
generator when none are given (rand(N, C, nd) in the input's dtype, the draw PyTorch makes, so a seeded
run picks the same windows).
"""
import operator

from ...ops.adaptive_pooling import fractional_max_pool
from ...ops.sampling import rand
from ...amp._dispatch import AUTOCAST, autocast_run

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]


def _ints(value, nd, name, what, position):
    """An int or a sequence of nd ints, as a tuple (PyTorch's IntArrayRef parsing for these ops)."""
    try:
        if not hasattr(value, "__len__"):
            return (operator.index(value),) * nd
        values = tuple(operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{name}(): argument '{what}' (position {position}) must be tuple of ints, not "
                        f"{type(value).__name__}") from None
    if len(values) != nd:
        ints = "Ints" if nd == 2 else "three Ints"
        raise RuntimeError(f"{name}: {what} must either be a single Int or tuple of {ints}")
    return values


def _fractional(name, input, nd, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratios = tuple(output_ratio) if isinstance(output_ratio, (list, tuple)) else (output_ratio,) * nd
        if len(ratios) < nd:
            raise IndexError("tuple index out of range")
        output_size = tuple(int(input.shape[input.ndim - nd + i] * ratios[i]) for i in range(nd))
    if _random_samples is None:                      # drawn before the kernel's checks, as PyTorch does
        batch = 1 if input.ndim == nd + 1 else input.size(0)
        _random_samples = rand(batch, input.size(-nd - 1), nd, dtype=input.dtype, device=input.device)
    kernel = _ints(kernel_size, nd, name, "kernel_size", 2)
    sizes = _ints(output_size, nd, name, "output_size", 3)
    if any(k <= 0 for k in kernel):
        # PyTorch reads outside the input here (garbage indices); refusing is the safe reading
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got {list(kernel)}")
    return fractional_max_pool(name, input, nd, kernel, sizes, _random_samples, return_indices)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max over kernel_size windows of the last two dims placed at pseudo-random fractional strides so the
    output has output_size (or output_ratio * input size); one random sample per plane and dim.
    Deviation: a single float output_ratio is accepted (PyTorch's functional form needs a pair)."""
    if "fractional_max_pool2d" in AUTOCAST:
        return autocast_run("fractional_max_pool2d", fractional_max_pool2d, input, kernel_size, output_size,
                            output_ratio, return_indices, _random_samples)
    return _fractional("fractional_max_pool2d", input, 2, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling over the last three dims (see fractional_max_pool2d)."""
    if "fractional_max_pool3d" in AUTOCAST:
        return autocast_run("fractional_max_pool3d", fractional_max_pool3d, input, kernel_size, output_size,
                            output_ratio, return_indices, _random_samples)
    return _fractional("fractional_max_pool3d", input, 3, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool2d returning (output, indices) whatever return_indices says, as PyTorch's does."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)
