"""ember.cuda's random-number functions, as PyTorch spells them: manual_seed(_all), seed(_all), initial_seed,
get_rng_state(_all), set_rng_state(_all) and default_generators.

Each cuda device has its own Generator (ember/random.py: cuda_generator), the same mt19937 algorithm as the
CPU's, drawn on the host and copied to the device (Note [cuda random numbers] in ember/random.py). Without a GPU
they answer as PyTorch's CPU-only build: the seeding and set_rng_state calls are silently ignored (manual_seed_all
is remembered for the devices that come later), get_rng_state / initial_seed raise its AssertionError, and
default_generators is empty.
"""
from . import random as _random
from ._backends import cuda as _backend

__all__ = ["manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed", "get_rng_state", "get_rng_state_all",
           "set_rng_state", "set_rng_state_all", "default_generators"]


def device_count():
    return _backend.device_count() if _backend.available() else 0


def _current():
    _backend.check_available()          # AssertionError without a GPU, as PyTorch's CPU-only build
    return _backend.current_device()


def _index(device):
    """The device index of an int / "cuda[:i]" / ember.device; no index means the current device."""
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    from ._device import device as _device
    index = _device(device).index
    return _current() if index is None else index


def manual_seed(seed):
    """Seed the current device's generator (ignored without a GPU, as PyTorch's)."""
    seed = int(seed)
    if _backend.available():
        _random.cuda_generator(_current()).manual_seed(seed)


def manual_seed_all(seed):
    """Seed every device's generator, including those not made yet."""
    _random.seed_cuda_generators(int(seed))


def seed():
    """Seed the current device's generator from the OS (ignored without a GPU)."""
    if _backend.available():
        _random.cuda_generator(_current()).seed()


def seed_all():
    """Seed every device's generator with one seed from the OS (ignored without a GPU)."""
    if _backend.available():
        _random.seed_cuda_generators(_random.cuda_generator(0).seed())


def initial_seed():
    """The current device's generator's seed."""
    return _random.cuda_generator(_current()).initial_seed()


def get_rng_state(device="cuda"):
    """The state of the device's generator, as a uint8 cpu tensor (ember's mt19937 layout, 5056 bytes)."""
    _backend.check_available()
    return _random.cuda_generator(_index(device)).get_state()


def get_rng_state_all():
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state(new_state, device="cuda"):
    """Restore the device's generator from get_rng_state() (ignored without a GPU, as PyTorch's)."""
    if _backend.available():
        _random.cuda_generator(_index(device)).set_state(new_state)


def set_rng_state_all(new_states):
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


class _DefaultGenerators:
    """torch.cuda.default_generators: one Generator per device (a tuple in PyTorch; empty without a GPU)."""
    __slots__ = ()

    def __len__(self):
        return device_count()

    def __getitem__(self, index):
        return tuple(self)[index]

    def __iter__(self):
        return (_random.cuda_generator(i) for i in range(device_count()))

    def __repr__(self):
        return repr(tuple(self))


default_generators = _DefaultGenerators()
