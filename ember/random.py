"""Generator (PyTorch's CPU mt19937 generator), the default generators and the seeding functions.

A Generator draws from ``numpy.random.MT19937`` (the same 32-bit stream as PyTorch's CPU engine)
and turns words into samples exactly as PyTorch 2.13's CPU kernels do (see ember/_mt_sampling.py),
so equal seeds give PyTorch's numbers bit for bit. The ``*_array`` methods are the internal
contract used by ember.ops.sampling: they return fresh C-contiguous NumPy arrays.

Note [cuda random numbers]: every device draws with this algorithm on the host. A random tensor on
cuda is drawn by that device's own Generator (``ember.cuda.default_generators[i]``, or a
``Generator(device="cuda")`` passed as ``generator=``) into a NumPy array and copied to the device
(``backend.from_numpy``), so
- ``manual_seed(s)`` seeds the CPU generator and every cuda one, as PyTorch's does, and then
  ``rand(n, device="cuda")`` equals ``rand(n)``: the cuda stream is the CPU stream, bit for bit
  (the emulated device and a GPU give the same numbers, on any machine);
- drawing on cuda does not move the CPU generator, and ``ember.cuda.manual_seed`` / ``seed`` /
  ``get_rng_state`` / ``set_rng_state`` touch only the cuda generators, as PyTorch's do;
- a generator must be on the tensor's device type (PyTorch's "Expected a 'cuda' device type for
  generator but found 'cpu'"), and a cuda Generator's state is this mt19937 state (5056 bytes),
  not PyTorch's 16-byte Philox (seed, offset) pair, so it has no offset.
PyTorch's CUDA kernels draw Philox4x32-10 numbers on the GPU instead, so a cuda tensor differs from
PyTorch's CUDA one under the same seed (as PyTorch's own CPU and CUDA streams differ). The cost: the
draws run at host speed plus a copy to the device.
"""

import contextlib
import functools
import math
import os

import numpy as np

from . import _mt_sampling as _mts

_STATE_SIZE = 5056              # sizeof(CPUGeneratorImplState) in PyTorch's get_state() layout
_N = 624                        # mt19937 words of state
_SMALL_RANDPERM = 0xFFFFFFFF // 20  # below this n, randperm swaps with 32-bit draws (PyTorch)
_DEFAULT_SEED = 67280421310721  # a fresh torch.Generator()'s seed
_NORMAL_CHUNK = 1 << 16         # uniforms per chunk of the blocked normal fill (a multiple of 16)


@functools.lru_cache(maxsize=32)
def _seeded_key(seed):
    """mt19937's standard init_genrand of the low 32 bits of ``seed`` (read-only, cached)."""
    s = seed & 0xFFFFFFFF
    key = [s]
    append = key.append
    for j in range(1, _N):
        s = (1812433253 * (s ^ (s >> 30)) + j) & 0xFFFFFFFF
        append(s)
    key = np.array(key, dtype=np.uint32)
    key.flags.writeable = False
    return key


def _as_uint64_seed(seed, caller):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise RuntimeError(f"{caller} expected a long, but got {type(seed).__name__}")
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError("Overflow when unpacking long long")
    return seed & 0xFFFFFFFFFFFFFFFF


_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}
_REDUCED = ("float16", "bfloat16")         # NumPy dtype names of the float types PyTorch converts to from float


def _numel(shape):
    return math.prod(shape)


def _cast(values, np_dtype):
    """static_cast<scalar_t>: PyTorch's Half converts from float, so float64 goes via float32."""
    np_dtype = np.dtype(np_dtype)
    if values.dtype == np_dtype:
        return values
    with np.errstate(over="ignore", invalid="ignore"):
        if values.dtype.itemsize == 8 and np_dtype.name in _REDUCED:
            values = values.astype(np.float32)
        return values.astype(np_dtype, copy=False)


class Generator:
    """PyTorch's CPU random generator: mt19937 words plus the cached second Box-Muller normal."""
    __slots__ = ("device", "_bitgen", "_seed", "_fresh", "_next_double_normal", "_next_float_normal",
                 "__weakref__")

    def __init__(self, device="cpu"):
        from ._device import to_device   # lazy: the core imports this module early
        # every device's numbers are drawn on the host (Note [cuda random numbers]): all generators are mt19937
        self.device = to_device(device)
        if self.device.type == "cuda":
            from ._backends import cuda as backend
            if not backend.available():          # PyTorch's CPU-only build raises RuntimeError here too
                raise RuntimeError("Cannot get CUDA generator: ember's cuda device needs CuPy and an NVIDIA GPU "
                                   "(ember.cuda.is_available() is False)")
        self._bitgen = np.random.MT19937(0)  # an explicit seed skips gathering OS entropy
        self._set_seed(_DEFAULT_SEED)

    # ------------------------------------------------------------ seeding and state

    def _set_seed(self, seed):
        self._seed = seed
        self._bitgen.state = {"bit_generator": "MT19937", "state": {"key": _seeded_key(seed), "pos": _N}}
        self._fresh = True                   # PyTorch's engine then holds left=1, next=0
        self._next_double_normal = None
        self._next_float_normal = None

    def manual_seed(self, seed):
        """Seed the generator (the low 32 bits seed mt19937); returns self."""
        self._set_seed(_as_uint64_seed(seed, "manual_seed"))
        return self

    def seed(self):
        """Seed from the OS's entropy and return the 64-bit seed used."""
        seed = int.from_bytes(os.urandom(8), "little")
        self._set_seed(seed)
        return seed

    def initial_seed(self):
        """The seed last given to manual_seed or seed."""
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor in PyTorch's CPUGeneratorImplState byte layout."""
        from .ops.creation import from_numpy
        return from_numpy(self._state_bytes())

    def set_state(self, new_state):
        """Restore a state from get_state() (or from torch.get_rng_state()'s bytes)."""
        self._load_state_bytes(_state_array(new_state))
        return self

    def clone_state(self):
        """Return a new Generator in the same state (PyTorch's Generator.clone_state)."""
        other = Generator.__new__(Generator)
        other.device = self.device
        other._bitgen = np.random.MT19937(0)
        other._bitgen.state = self._bitgen.state
        other._seed, other._fresh = self._seed, self._fresh
        other._next_double_normal = self._next_double_normal
        other._next_float_normal = self._next_float_normal
        return other

    def get_offset(self):
        """PyTorch's Philox offset: an mt19937 generator has none (PyTorch's CPU generator raises the same)."""
        raise RuntimeError(self._no_offset())

    def set_offset(self, offset):
        raise RuntimeError(self._no_offset())

    def _no_offset(self):
        if self.device.type == "cpu":
            return "CPU Generator does not use offset"
        return (f"ember's {self.device.type} Generator draws mt19937 words on the host (Note [cuda random numbers] "
                "in ember/random.py) and does not use offset")

    def __reduce__(self):
        return _restore_generator, (self.device, self._state_bytes())

    def _state_bytes(self):
        state = self._bitgen.state["state"]
        pos = int(state["pos"])
        if pos == _N:
            left, next_ = 1, (0 if self._fresh else _N)
        else:
            left, next_ = _N + 1 - pos, pos
        out = np.zeros(_STATE_SIZE, dtype=np.uint8)
        out[0:8] = np.frombuffer(np.uint64(self._seed).tobytes(), np.uint8)
        out[8:24] = np.frombuffer(np.array([left, 1], "<i4").tobytes() + np.uint64(next_).tobytes(),
                                  np.uint8)
        out[24:24 + 8 * _N] = np.frombuffer(np.asarray(state["key"], "<u8").tobytes(), np.uint8)
        if self._next_double_normal is not None:
            out[5024:5032] = np.frombuffer(np.float64(self._next_double_normal).tobytes(), np.uint8)
            out[5040] = 1
        if self._next_float_normal is not None:
            out[5048:5052] = np.frombuffer(np.float32(self._next_float_normal).tobytes(), np.uint8)
            out[5052] = 1
        return out

    def _load_state_bytes(self, raw):
        if raw.size != _STATE_SIZE:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_SIZE} but found "
                               f"the input RNG state size to be {raw.size}")
        data = raw.tobytes()
        seed = int(np.frombuffer(data, "<u8", 1, 0)[0])
        left, seeded = (int(v) for v in np.frombuffer(data, "<i4", 2, 8))
        next_ = int(np.frombuffer(data, "<u8", 1, 16)[0]) & 0xFFFFFFFF
        if not (seeded and 0 < left <= _N and next_ <= _N):
            raise RuntimeError("Invalid mt19937 state")
        key = np.frombuffer(data, "<u8", _N, 24).astype(np.uint32)
        self._bitgen.state = {"bit_generator": "MT19937",
                              "state": {"key": key, "pos": _N if left == 1 else next_}}
        self._seed = seed
        self._fresh = left == 1 and next_ == 0
        self._next_double_normal = (float(np.frombuffer(data, "<f8", 1, 5024)[0])
                                    if np.frombuffer(data, "<i4", 1, 5040)[0] else None)
        self._next_float_normal = (np.frombuffer(data, "<f4", 1, 5048)[0] if data[5052] else None)

    # ------------------------------------------------------------ raw words

    def _words32(self, n):
        """n consecutive 32-bit words (held in uint64)."""
        if n:
            self._fresh = False
        return self._bitgen.random_raw(n)

    def _words64(self, n):
        """n 64-bit words, each made of two consecutive 32-bit words, the first one high."""
        if _FULL_RANGE_UINT64_IS_RAW:
            if n:
                self._fresh = False
            return np.random.Generator(self._bitgen).integers(0, 1 << 64, size=n, dtype=np.uint64)
        words = self._words32(2 * n)
        return (words[0::2] << np.uint64(32)) | words[1::2]

    def _unit(self, n, np_dtype):
        """n uniforms in [0, 1) the way uniform_real_distribution<opmath_t>(0, 1) makes them."""
        if np.dtype(np_dtype) == np.float64:
            return _mts.unit_float64(self._words64(n))
        return _mts.unit_float32(self._words32(n))

    # ------------------------------------------------------------ the sampling contract

    def uniform_array(self, shape, np_dtype, low=0.0, high=1.0):
        """uniform_(low, high): [low, high) in np_dtype; a value rounding to high becomes low."""
        np_dtype = np.dtype(np_dtype)
        opmath = np.float64 if np_dtype == np.float64 else np.float32
        low_op, high_op = opmath(low), opmath(high)
        values = _mts.scale_shift(self._unit(_numel(shape), opmath), high_op - low_op, low_op)
        values = values.astype(np_dtype, copy=False)
        values[values == np_dtype.type(opmath(high))] = np_dtype.type(opmath(low))
        return values.reshape(shape)

    def normal_array(self, shape, np_dtype, mean=0.0, std=1.0, contiguous=True):
        """normal_(mean, std); array mean/std follow torch.normal(Tensor, Tensor)'s rounding."""
        np_dtype = np.dtype(np_dtype)
        mean_is_array, std_is_array = np.ndim(mean) > 0 or isinstance(mean, np.ndarray), \
            np.ndim(std) > 0 or isinstance(std, np.ndarray)
        if not (mean_is_array or std_is_array):
            return self._normal(shape, np_dtype, float(mean), float(std), contiguous)
        if not std_is_array:                     # normal(Tensor mean, float std)
            values = self._normal(shape, np_dtype, 0.0, float(std), contiguous)
        else:                                    # samples * std, then + mean, each rounded
            values = self._normal(shape, np_dtype, 0.0, 1.0, contiguous)
            values = (values * np.asarray(std, np_dtype)).astype(np_dtype, copy=False)
        return np.ascontiguousarray((values + np.asarray(mean, np_dtype)).astype(np_dtype, copy=False))

    def _normal(self, shape, np_dtype, mean, std, contiguous):
        n = _numel(shape)
        if n >= 16 and contiguous:
            opmath = np.float64 if np_dtype == np.float64 else np.float32
            full = n - n % 16
            values = np.empty(n, dtype=opmath)
            # chunks keep the temporaries in cache and off fresh (page-faulting) memory
            last_start = (full - 1) // _NORMAL_CHUNK * _NORMAL_CHUNK
            for start in range(0, last_start, _NORMAL_CHUNK):
                stop = start + _NORMAL_CHUNK
                _mts.normal_blocks(self._unit(_NORMAL_CHUNK, opmath), mean, std, out=values[start:stop])
            start = last_start
            u = self._unit(full - start, opmath)
            if full != n:
                if opmath == np_dtype:           # float32/64 filled every slot with a uniform first;
                    self._unit(n - full, opmath)  # Half went block by block
                # PyTorch then redraws the last 16 slots: one more block, done in the same pass
                u = np.concatenate([u, self._unit(16, opmath)])
            last = _mts.normal_blocks(u, mean, std)
            values[start:full] = last[:full - start]
            if full != n:
                values[n - 16:] = last[full - start:]
        else:
            values = _mts.scale_shift(self._scalar_normals(n), std, mean)
        return _cast(values, np_dtype).reshape(shape)

    def _scalar_normals(self, n):
        """n standard normals from the element-wise Box-Muller kernel, using and refilling its cache."""
        out = np.empty(n, dtype=np.float64)
        start = 0
        if n and self._next_double_normal is not None:
            out[0] = self._next_double_normal
            self._next_double_normal = None
            start = 1
        pairs = (n - start + 1) // 2
        if not pairs:
            return out
        u = _mts.unit_float64(self._words64(2 * pairs))
        if pairs <= 16:                          # few values: Python's math (the same C library)
            both = []
            for angle, radius in zip(u[0::2].tolist(), u[1::2].tolist()):
                radius = math.sqrt(-2.0 * math.log1p(-radius))
                angle = _mts.TWO_PI * angle
                both += (radius * math.cos(angle), radius * math.sin(angle))
            sin_last = both[-1]
        else:
            cos_part, sin_part = _mts.box_muller_pairs(u)
            both = np.stack([cos_part, sin_part], axis=1).reshape(-1)
            sin_last = float(sin_part[-1])
        out[start:] = both[:n - start]
        if (n - start) % 2:
            self._next_double_normal = sin_last
        return out

    def randint_array(self, shape, low, high, np_dtype):
        """random_(low, high): integers in [low, high) cast to np_dtype (no range checks here)."""
        return self._from_to(shape, (int(high) - int(low)) & 0xFFFFFFFFFFFFFFFF, int(low), np_dtype)

    def _from_to(self, shape, span, base, np_dtype):
        n = _numel(shape)
        span = np.uint64(span)
        words = self._words64(n) if span >= (1 << 28) else self._words32(n)
        values = (words % span + np.uint64(base & 0xFFFFFFFFFFFFFFFF)).view(np.int64)
        return _cast(values, np_dtype).reshape(shape)

    def random_array(self, shape, np_dtype, low=None, high=None):
        """Tensor.random_(): the full-range, [0, high) and [low, high) forms, for any dtype."""
        np_dtype = np.dtype(np_dtype)
        if low is None and high is None:
            return self._random_default(shape, np_dtype)
        if high is None and low == -(1 << 63):   # the whole int64 range
            return _cast(self._words64(_numel(shape)).view(np.int64), np_dtype).reshape(shape)
        low = 0 if low is None else int(low)
        return self._from_to(shape, (int(high) - low) & 0xFFFFFFFFFFFFFFFF, low, np_dtype)

    def _random_default(self, shape, np_dtype):
        n = _numel(shape)
        if np_dtype == np.bool_:
            return (self._words32(n) & np.uint64(1)).astype(np.bool_).reshape(shape)
        if np_dtype.name in _DIGITS:
            modulus = (1 << _DIGITS[np_dtype.name]) + 1
        else:
            modulus = int(np.iinfo(np_dtype).max) + 1
        words = self._words64(n) if np_dtype in (np.float64, np.int64) else self._words32(n)
        return (words % np.uint64(modulus)).astype(np_dtype).reshape(shape)

    def randperm_array(self, n, np_dtype):
        """A permutation of range(n) as PyTorch's CPU randperm shuffles it."""
        n = int(n)
        if n < _SMALL_RANDPERM:
            if n < 2:
                return np.arange(n).astype(np_dtype)
            # swap i with i + word % (n - i), in order: each swap reads the previous ones' result
            offsets = (self._words32(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
            perm = list(range(n))
            for i, offset in enumerate(offsets):
                j = i + offset
                perm[i], perm[j] = perm[j], perm[i]
            return np.array(perm, dtype=np.int64).astype(np_dtype, copy=False)
        # inside-out Fisher-Yates with 64-bit words (n this large needs > 1.6 GB anyway)
        words = self._words64(n) % np.arange(1, n + 1, dtype=np.uint64)
        perm = np.empty(n, dtype=np.int64)
        for i, z in enumerate(words.tolist()):
            perm[i] = perm[z]
            perm[z] = i
        return perm.astype(np_dtype, copy=False)

    def bernoulli_array(self, p, shape, np_dtype):
        """bernoulli_(p): 1 where a uniform draw is < p; p a float or an array broadcast to shape."""
        n = _numel(shape)
        if isinstance(p, np.ndarray):
            p = np.broadcast_to(p, shape).reshape(-1)
            if p.dtype == np.float64:             # bernoulli_distribution<double>
                hits = self._unit(n, np.float64) < p
            else:                                  # bernoulli_distribution<float>
                hits = self._unit(n, np.float32) < p.astype(np.float32)
        else:
            hits = self._unit(n, np.float64) < float(p)
        return hits.astype(np_dtype).reshape(shape)

    def exponential_array(self, shape, np_dtype, lambd=1.0):
        """exponential_(lambd): -1/lambd * log1p(-u) in float64, then cast."""
        u = self._unit(_numel(shape), np.float64)
        return _cast((-1.0 / lambd) * _mts.libm("log1p", -u), np_dtype).reshape(shape)

    def geometric_array(self, shape, np_dtype, p):
        """geometric_(p): ceil(log(u) / log1p(-p)) in float64, then cast."""
        u = self._unit(_numel(shape), np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.ceil(_mts.libm("log", u) / math.log1p(-p))
        return _cast(values, np_dtype).reshape(shape)

    def log_normal_array(self, shape, np_dtype, mean=1.0, std=2.0):
        """log_normal_(mean, std): exp of the element-wise kernel's normals."""
        values = _mts.scale_shift(self._scalar_normals(_numel(shape)), std, mean)
        return _cast(_mts.libm("exp", values), np_dtype).reshape(shape)

    def cauchy_array(self, shape, np_dtype, median=0.0, sigma=1.0):
        """cauchy_(median, sigma): median + sigma * tan(pi * (u - 0.5)), fused, then cast."""
        u = self._unit(_numel(shape), np.float64)
        values = _mts.fma64(sigma, _mts.libm("tan", np.pi * (u - 0.5)), median)
        return _cast(values, np_dtype).reshape(shape)

    def multinomial_array(self, probs, num_samples, replacement, noise_order=None):
        """Category indices (int64) drawn from the rows of a 1-d or 2-d probability array."""
        # noise_order: probs' axes from slowest to fastest in memory when PyTorch's input is a
        # non-contiguous dense tensor, whose exponential noise is then drawn in that order
        probs = np.asarray(probs)
        rows = probs.reshape(-1, probs.shape[-1])
        if not replacement or num_samples == 1:
            # PyTorch's Gumbel-style trick: the top-k of p / q with q ~ Exp(1) (in probs' dtype)
            if noise_order is None:
                q = self.exponential_array(rows.shape, rows.dtype)
            else:
                q = self.exponential_array(tuple(probs.shape[d] for d in noise_order), rows.dtype)
                q = q.transpose(np.argsort(noise_order)).reshape(rows.shape)
            with np.errstate(divide="ignore", invalid="ignore"):
                keys = (rows / q).astype(rows.dtype, copy=False)
            if num_samples == 1:
                out = np.argmax(keys, axis=-1)[:, None]
            else:
                # stable sort on -key keeps equal keys in index order
                out = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
        else:
            # the running sum is kept in float for Half/BFloat16 and in the input's type otherwise
            acc = np.float32 if rows.dtype.name in _REDUCED else rows.dtype
            cdf = np.cumsum(rows, axis=-1, dtype=acc)
            cdf = (cdf / cdf[:, -1:]).astype(acc, copy=False)
            cdf[:, -1] = 1
            u = self._unit(rows.shape[0] * num_samples, np.float64).reshape(rows.shape[0], num_samples)
            out = np.stack([np.searchsorted(row.astype(np.float64), draws, side="left")
                            for row, draws in zip(cdf, u)]) if rows.shape[0] else \
                np.empty((0, num_samples), np.int64)
        out = out.astype(np.int64, copy=False)
        return out.reshape(probs.shape[:-1] + (num_samples,))


def _restore_generator(device, state):
    """Unpickle a Generator."""
    generator = Generator(device)
    generator._load_state_bytes(state)
    return generator


def _state_array(new_state):
    """Bytes of a state given as an ember/torch uint8 tensor or a NumPy array."""
    array = getattr(new_state, "_array", None)
    if array is None:
        array = new_state.numpy() if hasattr(new_state, "numpy") else np.asarray(new_state)
    if array.dtype != np.uint8:
        raise TypeError("RNG state must be a torch.ByteTensor")
    return np.ascontiguousarray(array).reshape(-1)


def _full_range_uint64_is_raw():
    """Whether NumPy's full-range uint64 draw is (word << 32) | next word, as PyTorch's random64."""
    # it is faster than combining random_raw words, but the word order is NumPy's compiled choice
    bitgen = np.random.MT19937(1)
    state = bitgen.state
    fast = np.random.Generator(bitgen).integers(0, 1 << 64, size=4, dtype=np.uint64)
    bitgen.state = state
    words = bitgen.random_raw(8)
    return bool(np.array_equal(fast, (words[0::2] << np.uint64(32)) | words[1::2]))


_FULL_RANGE_UINT64_IS_RAW = _full_range_uint64_is_raw()

# PyTorch seeds its default CPU generator from the OS at start-up; manual_seed makes it repeatable.
default_generator = Generator()
default_generator.seed()


def manual_seed(seed):
    """Seed the CPU generator and every cuda one (torch.manual_seed takes int(seed)); returns the CPU one."""
    generator = default_generator.manual_seed(int(seed))
    seed_cuda_generators(generator.initial_seed())
    return generator


def seed():
    """Seed the CPU generator non-deterministically, and every cuda one with the same seed; returns it."""
    value = default_generator.seed()
    seed_cuda_generators(value)
    return value


def initial_seed():
    """The default generator's initial seed."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the default generator's state."""
    default_generator.set_state(new_state)


# --- the cuda devices' default generators (Note [cuda random numbers]) -------------------------------------

_cuda_generators = {}           # cuda device index -> its default Generator, made when first asked for
_cuda_seed = [None]             # the seed manual_seed / seed last gave every device, for generators made later


def cuda_generator(index):
    """The default Generator of cuda device `index`: seeded by the last manual_seed(), else from the OS."""
    generator = _cuda_generators.get(index)
    if generator is None:
        generator = Generator(f"cuda:{index}")
        if _cuda_seed[0] is None:
            generator.seed()
        else:
            generator.manual_seed(_cuda_seed[0])
        _cuda_generators[index] = generator
    return generator


def seed_cuda_generators(seed):
    """torch.cuda.manual_seed_all: every cuda generator, made or still to be made, starts from `seed`."""
    _cuda_seed[0] = seed
    for generator in _cuda_generators.values():
        generator.manual_seed(seed)


_fork_rng_warned_already = False


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None):
    """Restore the CPU generator's state on exit, and the cuda generators' of `devices` (default: every cuda
    device, with PyTorch's warning when there are several)."""
    global _fork_rng_warned_already
    if device_type == "meta" or not enabled:
        yield
        return
    from . import _cuda_random
    if (device_type or "cuda") != "cuda":       # ember has generators on cpu and cuda only
        devices = []
    elif devices is None:
        count = _cuda_random.device_count()
        if count > 1 and not _fork_rng_warned_already:
            import warnings
            warnings.warn(f"CUDA reports that you have {count} available devices, and you have used {_caller} "
                          f"without explicitly specifying which devices are being used. For safety, we initialize "
                          f"*every* CUDA device by default, which can be quite slow if you have a lot of CUDAs. If "
                          f"you know that you are only making use of a few CUDA devices, set the environment "
                          f"variable CUDA_VISIBLE_DEVICES or the '{_devices_kw}' keyword argument of {_caller} with "
                          f"the set of devices you are actually using. For example, if you are using CPU only, set "
                          f"device.upper()_VISIBLE_DEVICES= or devices=[]; if you are using device 0 only, set "
                          f"CUDA_VISIBLE_DEVICES=0 or devices=[0].  To initialize all devices and suppress this "
                          f"warning, set the '{_devices_kw}' keyword argument to `range(torch.cuda.device_count())`.",
                          stacklevel=3)
            _fork_rng_warned_already = True
        devices = list(range(count))
    else:
        devices = list(devices)
    state = default_generator._state_bytes()
    device_states = [_cuda_random.get_rng_state(device) for device in devices]
    try:
        yield
    finally:
        default_generator._load_state_bytes(state)
        for device, device_state in zip(devices, device_states):
            _cuda_random.set_rng_state(device_state, device)
