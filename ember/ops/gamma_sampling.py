"""Samplers of the gamma family, as PyTorch 2.13's CPU kernels draw them: _standard_gamma (Marsaglia-Tsang with
its reparameterised gradient), _sample_dirichlet (normalised gammas), poisson (Knuth's product below rate 10,
Hoermann's transformed rejection above) and binomial (inversion below n p = 10, BTRS above).

The facts reproduced (ATen's Distributions.h/.cpp): each element is drawn in turn, in the output's (C) order, from
double uniforms (two 32-bit words each, the low 53 bits) and double normals (the scalar Box-Muller kernel, whose
second value is cached in the generator, the same cache torch.normal's element-wise path uses); a float32 sample
does some of its arithmetic in float32 (alpha + 1, 1 / alpha, alpha - 1/3 in Gamma; n p and log1p(-p) in
Binomial), which we emulate with NumPy float32 scalars. Rejection loops make a vectorised draw impossible, so each
element is a short Python loop over words fetched in chunks (the words not used are given back). The gradients
live in ember/ops/gamma_grads.py.
"""
import math

import numpy as np

from .. import _dtype as _dt
from .._tensor import Tensor
from ..autograd.function import Op
from ._common import zeros_like_
from ._registry import export

__all__ = ["poisson", "binomial"]

_F32 = np.float32
_MASK53 = (1 << 53) - 1
_THIRD_F = float(_F32(1) / _F32(3))        # 1.0f / 3.0f: a float constant even in the double kernel
_C0331 = float(_F32(0.0331))               # 0.0331f
_TWO_PI = 2.0 * math.pi
_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509, 0.0166446911898211,
         0.0138761288230707, 0.0118967099458917, 0.0104112652619720, 0.00925546218271273, 0.00833056343336287)
_SCALAR_NAME = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "float16": "Half", "bfloat16": "BFloat16", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


class _Draws:
    """The generator's double uniforms and normals, element by element, from words fetched in chunks; finish()
    leaves the generator exactly where drawing them one by one would have."""

    def __init__(self, generator, expected):
        self.gen = generator
        self.state = generator._bitgen.state
        self.chunk = max(64, min(1 << 16, 4 * expected + 16))
        self.words = []
        self.pos = 0
        self.used = 0

    def uniform(self):
        if self.pos + 2 > len(self.words):
            self.words = self.words[self.pos:] + self.gen._bitgen.random_raw(self.chunk).tolist()
            self.pos = 0
        high, low = self.words[self.pos], self.words[self.pos + 1]
        self.pos += 2
        self.used += 2
        return (((high << 32) | low) & _MASK53) * 2.0 ** -53

    def normal(self):
        cached = self.gen._next_double_normal
        if cached is not None:
            self.gen._next_double_normal = None
            return cached
        angle = self.uniform()
        radius = math.sqrt(-2.0 * math.log1p(-self.uniform()))
        theta = _TWO_PI * angle
        self.gen._next_double_normal = radius * math.sin(theta)
        return radius * math.cos(theta)

    def finish(self):
        self.gen._bitgen.state = self.state
        if self.used:
            self.gen._bitgen.random_raw(self.used)
            self.gen._fresh = False


def _log(x):
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _gamma_one(alpha, draws, single):
    """One Marsaglia-Tsang draw of Gamma(alpha, 1) (alpha a float; `single`: float32 kernel arithmetic)."""
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        # boost: Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha)
        exponent = float(_F32(1) / _F32(alpha)) if single else 1.0 / alpha
        scale *= math.pow(1 - draws.uniform(), exponent)
        alpha = float(_F32(alpha) + _F32(1)) if single else alpha + 1.0
    d = float(_F32(alpha) - _F32(_THIRD_F)) if single else alpha - _THIRD_F
    if not d > 0:                              # NaN or negative concentration: no draw can be accepted
        return math.nan
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        while True:
            x = draws.normal()
            y = 1.0 + c * x
            if y > 0:
                break
        v = y * y * y
        u = 1 - draws.uniform()
        xx = x * x
        if u < 1.0 - _C0331 * xx * xx:
            return scale * d * v
        if _log(u) < 0.5 * xx + d * (1.0 - v + _log(v)):
            return scale * d * v


def _poisson_one(rate, draws):
    """One Poisson(rate) draw (rate a non-negative double)."""
    if rate >= 10:
        # transformed rejection (Hoermann 1993)
        slam = math.sqrt(rate)
        loglam = math.log(rate)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = draws.uniform() - 0.5
            v = draws.uniform()
            us = 0.5 - abs(u)
            if us == 0:                # u = -1/2: C's k is INT64_MIN here, rejected below (Python would raise)
                continue
            k = _to_int64((2 * a / us + b) * u + rate + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if _log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= -rate + k * loglam - math.lgamma(k + 1.0):
                return k
    if rate == 0:
        return 0
    # multiply uniforms until the product drops below exp(-rate)
    limit = math.exp(-rate)
    count, product = 0, 1.0
    while True:
        product *= draws.uniform()
        if product > limit:
            count += 1
        else:
            return count


def _to_int64(value):
    """(int64_t) floor(value) as x86 converts it: infinite, NaN and out-of-range values become INT64_MIN."""
    if not -9.223372036854775808e18 <= value < 9.223372036854775808e18:
        return -(1 << 63)
    return math.floor(value)


def _tail(k):
    """Stirling's series tail log k! - (k + 1/2) log(k + 1) + (k + 1) - log(2 pi)/2, tabulated below 10."""
    if k <= 9:
        return _TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _as_scalar(value, single):
    return _F32(value) if single else value


def _binomial_inversion(count, prob, draws, single):
    # sum geometric waiting times until they pass count; log1p(-prob) in the kernel's scalar type
    logprob = float(np.log1p(-_F32(prob))) if single else math.log1p(-prob)
    geom_sum, successes = 0.0, 0
    while True:
        waiting = _log(draws.uniform()) / logprob
        geom_sum += math.ceil(waiting) if waiting < math.inf else math.inf   # a zero uniform waits forever
        if geom_sum > count:
            return successes
        successes += 1


def _btrs(count, prob, draws, single):
    """Hoermann's BTRS transformed rejection for count * prob >= 10 (scalar_t steps in float32 when single)."""
    n, p = _as_scalar(count, single), _as_scalar(prob, single)
    stddev = float(np.sqrt(n * p * (1 - p))) if single else math.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = float(n * p) + 0.5
    v_r = 0.92 - 4.2 / b
    r = float(p / (1 - p))
    alpha = (2.83 + 5.1 / b) * stddev
    m = float(np.floor((n + 1) * p))
    while True:
        u = draws.uniform() - 0.5
        v = draws.uniform()
        us = 0.5 - abs(u)
        if us == 0:                    # u = -1/2: C's k is -inf here, rejected below (Python would raise)
            continue
        k = float(_as_scalar(math.floor((2 * a / us + b) * u + c), single))
        if k < 0 or k > count:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = _log(v * alpha / (a / (us * us) + b))
        n_minus_k = float(n - _as_scalar(k, single) + 1)
        upper = ((m + 0.5) * math.log((m + 1) / (r * (count - m + 1)))
                 + float(n + 1) * math.log((count - m + 1) / n_minus_k)
                 + float(_as_scalar(k, single) + 0.5) * math.log(r * n_minus_k / float(_as_scalar(k, single) + 1))
                 + _tail(m) + _tail(count - m) - _tail(k) - _tail(float(n - _as_scalar(k, single))))
        if v <= upper:
            return k


def _binomial_one(count, prob, draws, single):
    if count <= 0.0 or prob <= 0.0:
        return 0.0
    if prob >= 1.0:
        return count
    if prob <= 0.5:
        if float(_as_scalar(count, single) * _as_scalar(prob, single)) >= 10.0:
            return _btrs(count, prob, draws, single)
        return float(_binomial_inversion(count, prob, draws, single))
    if prob > 0.5:
        q = float(_as_scalar(1.0 - prob, single))
        if float(_as_scalar(count, single) * _as_scalar(q, single)) >= 10.0:
            return float(_as_scalar(count - _btrs(count, q, draws, single), single))
        return float(_as_scalar(count - _binomial_inversion(count, q, draws, single), single))
    return math.nan


def _cascade(rows):
    """ATen's multi_row_sum over the leading axis: running sums carried up four levels every 2**p rows."""
    size = rows.shape[0]
    power = max(4, (1 if size <= 2 else (size - 1).bit_length()) // 4)
    step = 1 << power
    acc = [np.zeros(rows.shape[1:]) for _ in range(4)]
    i = 0
    while i + step <= size:
        for _ in range(step):
            acc[0] = acc[0] + rows[i]
            i += 1
        for level in range(1, 4):
            acc[level] = acc[level] + acc[level - 1]
            acc[level - 1] = np.zeros(rows.shape[1:])
            if i & ((step - 1) << (level * power)):
                break
    for row in rows[i:]:
        acc[0] = acc[0] + row
    for level in range(1, 4):
        acc[0] = acc[0] + acc[level]
    return acc[0]


def _row_sum(values):
    """ATen's row_sum over the leading axis: four interleaved cascades, the tail added to the first."""
    blocks = values.shape[0] // 4
    parts = list(_cascade(values[:blocks * 4].reshape((blocks, 4) + values.shape[1:]))) if blocks else \
        [np.zeros(values.shape[1:]) for _ in range(4)]
    for row in values[blocks * 4:]:
        parts[0] = parts[0] + row
    for part in parts[1:]:
        parts[0] = parts[0] + part
    return parts[0]


def _last_dim_sums(values):
    """float64 sums over the last dimension added in the order of PyTorch's CPU sum kernel (vectors of four
    doubles, ATen's cascade_sum), so the Dirichlet normalisation rounds as PyTorch's does."""
    rows = values.reshape(-1, values.shape[-1]).T          # (k, n): one column per sum
    k = rows.shape[0]
    if k < 4:
        return _row_sum(rows).reshape(values.shape[:-1] + (1,))
    vectors = k // 4
    lanes = _row_sum(rows[:vectors * 4].reshape((vectors, 4) + rows.shape[1:]))
    total = np.zeros(rows.shape[1:])
    for row in rows[vectors * 4:]:
        total = total + row
    for lane in lanes:
        total = total + lane
    return total.reshape(values.shape[:-1] + (1,))


def _draw(values, sampler, generator, like, *columns):
    """sampler(value..., draws) for each element of the C-ordered host arrays, as a float64 array, drawn by the
    generator of `like`'s device unless one is given (Note [cuda random numbers] in ember/random.py)."""
    from .sampling import _gen
    draws = _Draws(_gen(generator, like._device), values.size)
    out = np.empty(values.size, dtype=np.float64)
    try:
        for i, args in enumerate(zip(*[c.ravel().tolist() for c in (values,) + columns])):
            out[i] = sampler(*args, draws)
    finally:
        draws.finish()
    return out.reshape(values.shape)


def _require_float(kernel, t):
    if not t.dtype.is_floating_point or t.dtype.name in ("float16", "bfloat16"):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_SCALAR_NAME[t.dtype.name]}'")


def _host(t):
    return np.ascontiguousarray(t._backend().to_numpy(t._array))


def _to_device(array, like):
    return array if like._device.type == "cpu" else like._backend().from_numpy(array)


class _NotDifferentiable(Op):
    """A sampler PyTorch gives no derivative: backward raises its RuntimeError."""
    node_name = "NotImplemented"

    @staticmethod
    def forward(ctx, *inputs, sample, name):
        ctx.name = name
        return sample

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(f"derivative for aten::{ctx.name} is not implemented")


class StandardGamma(Op):
    """A Gamma(alpha, 1) sample (drawn before the call) whose gradient is the implicit reparameterisation
    -(dCDF/dalpha) / pdf, PyTorch's _standard_gamma_grad."""

    @staticmethod
    def forward(ctx, alpha, sample):
        ctx.save_for_backward(alpha, sample)
        return sample

    @staticmethod
    def backward(ctx, grad):
        alpha, sample = ctx.saved_tensors
        return grad * _standard_gamma_grad(alpha, sample)


class StandardGammaGrad(Op):
    """_standard_gamma_grad(alpha, x) (PyTorch gives it no derivative)."""
    node_name = "NotImplemented"

    @staticmethod
    def forward(ctx, alpha, x):
        from .gamma_grads import standard_gamma_grad_array       # loaded on first use: import ember stays fast
        return standard_gamma_grad_array(ctx.xp, alpha, x)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::_standard_gamma_grad is not implemented")


class DirichletGrad(Op):
    """_dirichlet_grad(x, alpha, total) (PyTorch gives it no derivative)."""
    node_name = "NotImplemented"

    @staticmethod
    def forward(ctx, x, alpha, total):
        from .gamma_grads import dirichlet_grad_array
        return dirichlet_grad_array(ctx.xp, x, alpha, total)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::_dirichlet_grad is not implemented")


class Poisson(Op):
    """A Poisson sample (drawn before the call); PyTorch's gradient with respect to the rate is zero."""

    @staticmethod
    def forward(ctx, rate, sample):
        return sample

    @staticmethod
    def backward(ctx, grad):
        return zeros_like_(grad)


@export(method=False, name="_standard_gamma")
def _standard_gamma(input, generator=None):
    """Gamma(input, 1) samples, PyTorch's CPU kernel bit for bit, differentiable in input."""
    _require_float("gamma_cpu", input)
    single = input.dtype is _dt.float32
    alpha = _host(input)
    sample = _draw(alpha, lambda a, draws: _gamma_one(a, draws, single), generator, input)
    tiny = np.finfo(alpha.dtype).tiny
    with np.errstate(invalid="ignore"):
        sample = sample.astype(alpha.dtype)
        sample = np.where(sample >= tiny, sample, tiny).astype(alpha.dtype)   # max(tiny, NaN) is tiny in C++
    return StandardGamma.apply(input, sample=_to_device(sample, input))


@export(method=False, name="_standard_gamma_grad")
def _standard_gamma_grad(input, output):
    """d sample / d alpha of Gamma(alpha, 1) samples `output`, holding their CDF fixed."""
    _require_float("_standard_gamma_grad_cpu", input)
    return StandardGammaGrad.apply(input, output)


@export(method=False, name="_dirichlet_grad")
def _dirichlet_grad(x, alpha, total):
    """The reparameterised gradient of Beta(alpha, total - alpha) samples x, divided by (1 - x)."""
    _require_float("_dirichlet_grad_cpu", x)
    return DirichletGrad.apply(x, alpha, total)


@export(method=False, name="_sample_dirichlet")
def _sample_dirichlet(input, generator=None):
    """Dirichlet(input) samples over the last dimension: double-precision gammas, normalised, clamped into
    [tiny, 1) of input's dtype."""
    _require_float("dirichlet", input)
    alpha = _host(input)
    gammas = _draw(alpha.astype(np.float64), lambda a, draws: _gamma_one(a, draws, False), generator, input)
    with np.errstate(invalid="ignore"):
        gammas = np.where(gammas >= np.finfo(np.float64).tiny, gammas, np.finfo(np.float64).tiny)
        ratio = (gammas / _last_dim_sums(gammas)).astype(alpha.dtype)
    top = np.nextafter(alpha.dtype.type(1), alpha.dtype.type(0))
    with np.errstate(invalid="ignore"):
        sample = np.minimum(top, np.where(ratio >= np.finfo(alpha.dtype).tiny, ratio, np.finfo(alpha.dtype).tiny))
    return _NotDifferentiable.apply(input, sample=_to_device(sample.astype(alpha.dtype), input),
                                    name="_sample_dirichlet")


@export(method=False)
def poisson(input, generator=None):
    """Poisson samples with rates input (PyTorch's CPU sampler); the gradient with respect to input is zero."""
    if not isinstance(input, Tensor):
        raise TypeError(f"poisson(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _require_float("poisson_cpu", input)
    rates = _host(input)
    if not bool((rates >= 0).all()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    sample = _draw(rates.astype(np.float64), _poisson_one, generator, input).astype(rates.dtype)
    return Poisson.apply(input, sample=_to_device(sample, input))


@export(method=False)
def binomial(count, prob, generator=None):
    """Binomial(count, prob) samples (PyTorch's CPU sampler); not differentiable."""
    if not count.dtype.is_floating_point:
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{_SCALAR_NAME.get(count.dtype.name, count.dtype.name)}")
    if prob.dtype is not count.dtype:
        raise RuntimeError(f"Found dtype {_dt.scalar_type_name(prob.dtype)} but expected "
                           f"{_dt.scalar_type_name(count.dtype)}")
    _require_float("binomial_cpu", count)
    single = count.dtype is _dt.float32
    counts = _host(count)
    probs = np.broadcast_to(_host(prob), counts.shape)
    # a NaN count never ends PyTorch's inversion loop; ember returns NaN there instead of hanging
    sample = _draw(counts.astype(np.float64),
                   lambda n, p, draws: math.nan if n != n else _binomial_one(n, p, draws, single),
                   generator, count, probs.astype(np.float64)).astype(counts.dtype)
    return _NotDifferentiable.apply(count, prob, sample=_to_device(sample, count), name="binomial")
