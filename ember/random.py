"""Generator and the global RNG. (Placeholder stream; the RNG issue replaces it with PyTorch's exact one.)"""
import contextlib

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
           "set_rng_state", "fork_rng"]

_DEFAULT_SEED = 67280421310721


class Generator:
    __slots__ = ("device", "_seed", "_rng")

    def __init__(self, device="cpu"):
        from ._device import to_device
        self.device = to_device(device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._rng = np.random.Generator(np.random.MT19937(self._seed))
        return self

    def seed(self):
        import random as _pyrandom
        s = _pyrandom.getrandbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        import pickle
        from .ops.creation import tensor
        raw = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return tensor(list(raw), dtype="uint8")

    def set_state(self, state):
        import pickle
        self._seed, bit_state = pickle.loads(bytes(state.tolist()))
        self._rng = np.random.Generator(np.random.MT19937(0))
        self._rng.bit_generator.state = bit_state
        return self

    def uniform_array(self, shape, np_dtype, low=0.0, high=1.0):
        return (self._rng.random(shape) * (high - low) + low).astype(np_dtype)

    def normal_array(self, shape, np_dtype, mean=0.0, std=1.0):
        return (self._rng.standard_normal(shape) * std + mean).astype(np_dtype)

    def randint_array(self, shape, low, high, np_dtype):
        return self._rng.integers(low, high, size=shape).astype(np_dtype)

    def randperm_array(self, n, np_dtype):
        return self._rng.permutation(n).astype(np_dtype)

    def bernoulli_array(self, p, shape, np_dtype):
        return (self._rng.random(shape) < p).astype(np_dtype)

    def multinomial_array(self, probs, num_samples, replacement):
        p2 = np.atleast_2d(probs).astype(np.float64)
        out = np.empty((p2.shape[0], num_samples), dtype=np.int64)
        for i, row in enumerate(p2):
            out[i] = self._rng.choice(row.size, size=num_samples, replace=replacement, p=row / row.sum())
        return out if np.ndim(probs) == 2 else out[0]


default_generator = Generator()


def manual_seed(seed):
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True):
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
