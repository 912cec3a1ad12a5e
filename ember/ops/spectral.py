"""FFT primitives, PyTorch's _fft_c2c / _fft_r2c / _fft_c2r with their gradients, and the argument handling
that ember/fft.py's functions share: dtype promotion, dim and size canonicalization with PyTorch's errors,
resizing a signal to the requested length, and the normalization modes.

Note [fft normalization]: a primitive takes `norm` as a scale mode (none, 1/sqrt(n), 1/n, with n the
product of the transformed signal sizes) and `forward` as the sign of the exponent, as PyTorch's do. The
adjoint of a transform is the transform in the other direction with the same scale, which is what every
backward below uses; the string a user passes ("backward", "forward", "ortho") becomes a scale mode in
norm_mode(), and each direction has its own NumPy spelling of a scale mode (_NP_NORM).

Note [fft gradients]: the primitives write backward in PyTorch's complex convention (grad_input =
adjoint(grad)) directly, so they are not `holomorphic` (Note [complex gradients] in autograd/engine.py).
A real input's gradient is the real part. A one-sided (r2c) output's adjoint zero-pads the gradient back
to the full length; a c2r transform reads each stored bin k in 1..n-(n//2+1) twice (as X[k] and as its
conjugate X[n-k]), so its gradient doubles those bins: PyTorch's Hermitian-symmetry correction.
"""
import operator

from .. import _dtype as _dt
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ._common import cast
from .conv import constant_pad_nd
from .unary import real

NONE, BY_ROOT_N, BY_N = 0, 1, 2                  # PyTorch's fft_norm_mode
# NumPy's `norm` for a scale mode, by direction (True: exp(-2j pi kn/N), the forward transform)
_NP_NORM = {(True, NONE): "backward", (True, BY_ROOT_N): "ortho", (True, BY_N): "forward",
            (False, NONE): "forward", (False, BY_ROOT_N): "ortho", (False, BY_N): "backward"}


def _complex_of(xp, dtype):
    return xp.result_type(dtype, xp.complex64)   # float32/complex64 -> complex64, float64 -> complex128


class FftC2C(Op):
    """Complex-to-complex transform over `dims` (a real input is read as complex)."""
    holomorphic = False                          # Note [fft gradients]

    @staticmethod
    def forward(ctx, input, dims, norm, forward):
        ctx.dims, ctx.norm, ctx.forward, ctx.real_input = dims, norm, forward, input.dtype.kind != "c"
        xp = ctx.xp
        if not dims:                             # NumPy would hand the input back as it is
            return input.astype(_complex_of(xp, input.dtype))
        fn = xp.fft.fftn if forward else xp.fft.ifftn
        return fn(input, axes=dims, norm=_NP_NORM[forward, norm]).astype(_complex_of(xp, input.dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        grad_input = FftC2C.apply(grad, dims=ctx.dims, norm=ctx.norm, forward=not ctx.forward)
        return real(grad_input) if ctx.real_input else grad_input


class FftR2C(Op):
    """Real-to-complex transform over `dims`; `onesided` keeps the first n//2+1 bins of the last dim."""
    holomorphic = False                          # Note [fft gradients]

    @staticmethod
    def forward(ctx, input, dims, norm, onesided, forward):
        ctx.dims, ctx.norm, ctx.onesided, ctx.forward = dims, norm, onesided, forward
        ctx.last_size = input.shape[dims[-1]]
        ctx.save_for_backward(input)             # as PyTorch's FftR2CBackward0 (for the version check)
        xp = ctx.xp
        if onesided:                             # conj(rfft) is the one-sided backward-direction transform
            out = xp.fft.rfftn(input, axes=dims, norm=_NP_NORM[True, norm])
            if not forward:
                out = xp.conj(out)
        else:
            fn = xp.fft.fftn if forward else xp.fft.ifftn
            out = fn(input, axes=dims, norm=_NP_NORM[forward, norm])
        return out.astype(_complex_of(xp, input.dtype), copy=False)

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors                        # noqa: B018 (the version check, as PyTorch's unpack)
        last = ctx.dims[-1]
        missing = ctx.last_size - grad.shape[last]
        if missing > 0:                          # the bins a one-sided transform dropped get no gradient
            grad = pad_dim(grad, last, missing)
        return real(FftC2C.apply(grad, dims=ctx.dims, norm=ctx.norm, forward=not ctx.forward))


class FftC2R(Op):
    """Complex-to-real transform of a Hermitian signal over `dims`: the input holds last_dim_size//2+1 bins
    of the last dim, the output last_dim_size values. forward=True transforms conj(input) (hfft)."""
    holomorphic = False                          # Note [fft gradients]

    @staticmethod
    def forward(ctx, input, dims, norm, last_dim_size, forward):
        ctx.dims, ctx.norm, ctx.last_dim_size, ctx.forward = dims, norm, last_dim_size, forward
        ctx.real_input = input.dtype.kind != "c"
        xp = ctx.xp
        sizes = tuple(input.shape[d] for d in dims[:-1]) + (last_dim_size,)
        # irfftn of conj(X) in the backward direction is the forward-direction Hermitian transform of X
        out = xp.fft.irfftn(xp.conj(input) if forward else input, s=sizes, axes=dims, norm=_NP_NORM[False, norm])
        return out.astype(xp.finfo(input.dtype).dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        last = ctx.dims[-1]
        grad_input = FftR2C.apply(grad, dims=ctx.dims, norm=ctx.norm, onesided=True, forward=not ctx.forward)
        half = grad_input.shape[last]
        doubled = ctx.last_dim_size - half       # bins 1..doubled stand for two bins each: Note [fft gradients]
        if doubled > 0:
            xp = grad._backend().xp
            weights = xp.ones(half, dtype=grad._array.dtype)
            weights[1:1 + doubled] = 2
            grad_input = grad_input * _make(weights.reshape((half,) + (1,) * (grad.ndim - 1 - last)), grad._device)
        return real(grad_input) if ctx.real_input else grad_input


# --- argument handling shared by ember/fft.py ----------------------------------------------------------------

def pad_dim(t, dim, amount):
    """t with `amount` zeros appended along dim."""
    return constant_pad_nd(t, [0, 0] * (t.ndim - 1 - dim) + [0, amount])


def resize(t, dims, sizes):
    """Crop or zero-pad t along each of dims to the matching size (PyTorch's resize_fft_input)."""
    pad = [0] * (2 * t.ndim)
    for dim, size in zip(dims, sizes):
        current = t.shape[dim]
        if current > size:
            t = t.narrow(dim, 0, size)
        elif current < size:
            pad[2 * (t.ndim - 1 - dim) + 1] = size - current
    return constant_pad_nd(t, pad) if any(pad) else t


def norm_mode(norm, forward):
    """The scale mode of a norm string for a transform in the given direction (Note [fft normalization])."""
    if norm is None or norm == "backward":
        return NONE if forward else BY_N
    if norm == "forward":
        return BY_N if forward else NONE
    if norm == "ortho":
        return BY_ROOT_N
    raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def check_args(fname, input, norm, **ints):
    """PyTorch's argument parser: TypeError for an input that is not a Tensor, a norm that is not a string,
    and n (or dim) that is not an int."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fft_{fname}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    for name, value in ints.items():
        if value is not None and (isinstance(value, bool) or not hasattr(type(value), "__index__")):
            raise TypeError(f"fft_{fname}(): argument '{name}' must be int, not {type(value).__name__}")
    if norm is not None and not isinstance(norm, str):
        raise TypeError(f"fft_{fname}(): argument 'norm' must be str, not {type(norm).__name__}")


def promote(input, require_complex=False):
    """PyTorch's promote_tensor_fft: integers and bool become the default float dtype; half precision has no
    CPU kernel; require_complex turns a real result type into its complex type (done by the primitives)."""
    dtype = input.dtype
    if dtype.category < _dt.FLOAT:
        return cast(input, _dt.get_default_dtype())
    if dtype.itemsize < 4:                       # float16, bfloat16 (PyTorch's CPU FFT has neither)
        raise RuntimeError(f"Unsupported dtype {_dt.scalar_type_name(dtype)}")
    return input


def check_real(input, message):
    """RuntimeError(message + the dtype's name) for a complex input."""
    if input.is_complex():
        raise RuntimeError(f"{message} {_dt.scalar_type_name(input.dtype)}")


def wrap_fft_dim(dim, ndim):
    """A dim wrapped into range; a 0-d tensor has none (PyTorch's maybe_wrap_dim without scalar wrapping)."""
    dim = operator.index(dim)
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    return dim % ndim


def check_points(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return n


def _int_tuple(value):
    return (operator.index(value),) if hasattr(type(value), "__index__") else tuple(operator.index(v) for v in value)


def canonicalize(input, s, dim):
    """(dims, sizes) of an n-dimensional transform, PyTorch's canonicalize_fft_shape_and_dim_args: dims in
    the order given and unique; s's -1 entries keep the input's size; s alone names the last len(s) dims."""
    ndim = input.ndim
    dims = None
    if dim is not None:
        dims = tuple(wrap_fft_dim(d, ndim) for d in _int_tuple(dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
    if s is not None:
        sizes = _int_tuple(s)
        if dims is not None:
            if len(sizes) != len(dims):
                raise RuntimeError("When given, dim and shape arguments must have the same length")
        elif len(sizes) > ndim:
            raise RuntimeError(f"Got shape with {len(sizes)} values but input tensor only has {ndim} dimensions.")
        else:
            dims = tuple(range(ndim - len(sizes), ndim))
        sizes = tuple(input.shape[d] if n == -1 else n for d, n in zip(dims, sizes))
    else:
        if dims is None:
            dims = tuple(range(ndim))
        sizes = tuple(input.shape[d] for d in dims)
    for n in sizes:
        check_points(n)
    return dims, sizes


def check_out(fname, out, complex_result):
    if out is not None and isinstance(out, Tensor) and out.is_complex() != complex_result:
        kind = "a complex" if complex_result else "a floating point"
        raise RuntimeError(f"{fname} expects {kind} output tensor, but got {_dt.scalar_type_name(out.dtype)}")
