"""CPU backend: NumPy arrays."""
import numpy as xp

name = "cpu"


def asarray(data, dtype=None):
    return xp.asarray(data, dtype=dtype)


def to_numpy(array):
    return array


def from_numpy(array):
    return array


def scatter_add(target, index, values):
    """target[index] += values, where repeated indices accumulate."""
    xp.add.at(target, index, values)


def empty_like_shape(shape, dtype):
    return xp.empty(shape, dtype=dtype)
