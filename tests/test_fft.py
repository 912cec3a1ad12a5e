"""ember.fft against torch.fft: values and dtypes of every transform across shapes, n/s, dim, norm and dtypes;
gradients (finite differences, second order, and PyTorch's backward, including the Hermitian-symmetry
correction of the c2r transforms); fftfreq/rfftfreq, fftshift/ifftshift; PyTorch's errors; the namespace."""
import numpy as np
import pytest

import ember
import ember.fft
from ember.autograd import gradcheck, gradgradcheck

ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
TWO_D = ["fft2", "ifft2", "rfft2", "irfft2", "hfft2", "ihfft2"]
N_D = ["fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn"]
TRANSFORMS = ONE_D + TWO_D + N_D
REAL_ONLY = {"rfft", "ihfft", "rfft2", "ihfft2", "rfftn", "ihfftn"}      # refuse complex input
NORMS = [None, "backward", "ortho", "forward"]

# keyword arguments per kind of transform, on a (4, 3, 6) input: the default, cropping and zero-padding the
# signal, an explicit dim (odd and even sizes, so c2r outputs of both parities), and s with -1
KWARGS = {
    "1d": [{}, {"n": 5}, {"n": 8, "dim": 0}, {"n": 2, "dim": -2}, {"dim": 1}],
    "2d": [{}, {"s": (5, 3)}, {"s": (-1, 7), "dim": (0, 2)}, {"dim": (2, 0)}, {"s": (2, 4)}, {"s": (3, -1)}],
    "nd": [{}, {"s": (5, 3)}, {"s": (-1, 7), "dim": (0, 2)}, {"dim": (2, 0)}, {"dim": (1,)}, {"s": (3, 2, 5)}],
}


def _kind(name):
    return "1d" if name in ONE_D else "2d" if name in TWO_D else "nd"


def _array(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _numpy(t):
    t = t.detach()
    return t.resolve_conj().numpy() if hasattr(t, "resolve_conj") else t.numpy()


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype in ("float32", "complex64") else dict(rtol=1e-10, atol=1e-10)


# --- values and dtypes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, dtype", [(name, dtype) for name in TRANSFORMS
                                         for dtype in ("float32", "float64", "complex64", "complex128")
                                         if not (name in REAL_ONLY and dtype.startswith("complex"))])
def test_values_and_dtype_match_torch(torch, name, dtype):
    a = _array((4, 3, 6), dtype)
    for norm in NORMS:
        for kwargs in KWARGS[_kind(name)]:
            got = getattr(ember.fft, name)(ember.tensor(a), norm=norm, **kwargs)
            want = getattr(torch.fft, name)(torch.tensor(a), norm=norm, **kwargs)
            assert str(got.dtype) == str(want.dtype).replace("torch", "ember"), (name, norm, kwargs)
            assert tuple(got.shape) == tuple(want.shape), (name, norm, kwargs)
            np.testing.assert_allclose(_numpy(got), _numpy(want), **_tol(dtype), err_msg=f"{name} {norm} {kwargs}")


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "hfft", "fftn", "rfftn", "irfftn", "ihfftn"])
@pytest.mark.parametrize("shape", [(7,), (1,), (2, 5), (3, 1, 4)])
def test_shapes_match_torch(torch, name, shape):
    """Odd, even and size-1 signals, one to three dims."""
    a = _array(shape, "float64")
    for x in (a, a + 0.5j * a[::-1]) if name not in REAL_ONLY else (a,):
        fn_e, fn_t = getattr(ember.fft, name), getattr(torch.fft, name)
        try:
            want = fn_t(torch.tensor(x))
        except RuntimeError as e:                 # irfft of one bin: no default length
            with pytest.raises(RuntimeError, match=r"Invalid number of data points"):
                fn_e(ember.tensor(x))
            assert "Invalid number of data points" in str(e)
            continue
        got = fn_e(ember.tensor(x))
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=1e-10, atol=1e-10)


def test_zero_dim_and_empty_batch(torch):
    """fftn of a 0-d tensor transforms no dims (a complex copy); an empty batch gives an empty result."""
    got = ember.fft.fftn(ember.tensor(2.5))
    assert got.dtype is ember.complex64 and got.shape == () and got.item() == 2.5
    assert torch.fft.fftn(torch.tensor(2.5)).item() == 2.5
    x = ember.ones(0, 6)
    assert ember.fft.fft(x).shape == (0, 6) and ember.fft.rfft(x).shape == (0, 4)
    assert ember.fft.irfft(ember.ones(0, 4, dtype=ember.complex64)).shape == (0, 6)


def test_noncontiguous_inputs_match_torch(torch):
    a = _array((6, 5), "complex128")
    for name in ["fft", "ifft2", "irfft", "hfftn"]:
        got = getattr(ember.fft, name)(ember.tensor(a).t())
        want = getattr(torch.fft, name)(torch.tensor(a).t())
        np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=1e-10, atol=1e-10)
    b = _array((6, 10), "float64")
    got = ember.fft.rfft(ember.tensor(b)[:, ::2], dim=0)
    np.testing.assert_allclose(_numpy(got), _numpy(torch.fft.rfft(torch.tensor(b)[:, ::2], dim=0)), rtol=1e-10,
                               atol=1e-10)


def test_known_values_without_torch():
    impulse = ember.tensor([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(ember.fft.fft(impulse).numpy(), np.ones(4))
    ramp = ember.arange(4.0)
    np.testing.assert_allclose(ember.fft.fft(ramp).numpy(), [6, -2 + 2j, -2, -2 - 2j], atol=1e-6)
    np.testing.assert_allclose(ember.fft.rfft(ramp).numpy(), [6, -2 + 2j, -2], atol=1e-6)
    np.testing.assert_allclose(ember.fft.fft(ramp, norm="forward").numpy(), [1.5, -0.5 + 0.5j, -0.5, -0.5 - 0.5j],
                               atol=1e-6)
    np.testing.assert_allclose(ember.fft.fft(ramp, norm="ortho").numpy(), [3, -1 + 1j, -1, -1 - 1j], atol=1e-6)
    np.testing.assert_allclose(ember.fft.fft(ramp, n=2).numpy(), [1, -1], atol=1e-6)
    np.testing.assert_allclose(ember.fft.fft(ember.tensor([1.0]), n=3).numpy(), [1, 1, 1], atol=1e-6)
    # the inverses undo the transforms, including odd lengths given by n
    x = ember.tensor(_array((3, 7), "float64"))
    np.testing.assert_allclose(ember.fft.irfft(ember.fft.rfft(x), n=7).numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose(ember.fft.hfft(ember.fft.ihfft(x), n=7).numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose(ember.fft.ifftn(ember.fft.fftn(x)).numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose(ember.fft.irfftn(ember.fft.rfftn(x), s=(3, 7)).numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose(ember.fft.hfftn(ember.fft.ihfftn(x), s=(3, 7)).numpy(), x.numpy(), atol=1e-12)
    # hfft of a Hermitian half is the forward transform of the full signal
    full = np.fft.ifft(np.arange(6.0))
    np.testing.assert_allclose(ember.fft.hfft(ember.tensor(full[:4])).numpy(), np.arange(6.0), atol=1e-12)


# --- dtype rules ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_integer_and_bool_inputs_promote_to_the_default_float(torch, dtype):
    a = np.array([[1, 0, 3, 2], [0, 1, 1, 0]]).astype(dtype)
    for name in ["fft", "rfft", "irfft", "hfft", "ihfft", "fftn", "rfft2"]:
        got = getattr(ember.fft, name)(ember.tensor(a))
        want = getattr(torch.fft, name)(torch.tensor(a))
        assert str(got.dtype) == str(want.dtype).replace("torch", "ember"), name
        np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=1e-6, atol=1e-6)
    ember.set_default_dtype(ember.float64)
    assert ember.fft.fft(ember.tensor(a)).dtype is ember.complex128
    assert ember.fft.irfft(ember.tensor(a)).dtype is ember.float64


def test_float32_input_gives_complex64_and_float64_complex128():
    x32, x64 = ember.ones(4), ember.ones(4, dtype=ember.float64)
    assert ember.fft.fft(x32).dtype is ember.complex64 and ember.fft.fft(x64).dtype is ember.complex128
    assert ember.fft.rfftn(x32).dtype is ember.complex64 and ember.fft.ihfft(x64).dtype is ember.complex128
    assert ember.fft.irfft(x32.to(ember.complex64)).dtype is ember.float32
    assert ember.fft.hfft(x64.to(ember.complex128)).dtype is ember.float64


@pytest.mark.parametrize("name", TRANSFORMS)
def test_half_precision_is_refused_like_torch_on_cpu(torch, name):
    for dtype in ("float16", "bfloat16"):
        with pytest.raises(RuntimeError) as want:
            getattr(torch.fft, name)(torch.ones(4, 4, dtype=getattr(torch, dtype)))
        if dtype == "bfloat16" and ember.bfloat16.numpy is None:
            continue
        with pytest.raises(RuntimeError) as got:
            getattr(ember.fft, name)(ember.ones(4, 4, dtype=getattr(ember, dtype)))
        assert str(got.value) == str(want.value)


# --- gradients -----------------------------------------------------------------------------------------------

def _grad_inputs(name):
    return ["float64"] if name in REAL_ONLY else ["float64", "complex128"]


@pytest.mark.parametrize("name", TRANSFORMS)
def test_backward_matches_torch(torch, name):
    """d(sum(Re(conj(w) * f(x))))/dx for random complex weights w, against PyTorch's backward."""
    rng = np.random.default_rng(1)
    for dtype in _grad_inputs(name):
        a = _array((4, 3, 6), dtype)
        for norm in NORMS:
            for kwargs in KWARGS[_kind(name)]:
                e_in, t_in = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
                got = getattr(ember.fft, name)(e_in, norm=norm, **kwargs)
                want = getattr(torch.fft, name)(t_in, norm=norm, **kwargs)
                w = rng.standard_normal(tuple(want.shape))
                if want.is_complex():
                    w = w + 1j * rng.standard_normal(w.shape)
                (grad_t,) = torch.autograd.grad((want * torch.tensor(w).conj()).real.sum(), t_in)
                (grad_e,) = ember.autograd.grad((got * ember.tensor(w).conj()).real.sum(), e_in)
                assert grad_e.dtype is e_in.dtype
                np.testing.assert_allclose(grad_e.numpy(), _numpy(grad_t), rtol=1e-9, atol=1e-10,
                                           err_msg=f"{name} {dtype} {norm} {kwargs}")


GRADCHECK_KWARGS = {"1d": [{}, {"n": 5}, {"n": 6, "dim": 0}], "2d": [{}, {"s": (3, 5)}],
                    "nd": [{}, {"s": (4, 3), "dim": (2, 0)}]}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_gradcheck(name):
    """Finite differences on complex and real float64 inputs, odd and even c2r output lengths."""
    for dtype in _grad_inputs(name):
        for norm in (None, "ortho", "forward"):
            for kwargs in GRADCHECK_KWARGS[_kind(name)]:
                x = ember.tensor(_array((3, 2, 4), dtype), requires_grad=True)
                assert gradcheck(lambda t: getattr(ember.fft, name)(t, norm=norm, **kwargs), (x,)), (dtype, kwargs)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "hfft", "ihfft", "fft2", "irfftn", "ihfftn"])
def test_gradgradcheck(name):
    for dtype in _grad_inputs(name):
        x = ember.tensor(_array((2, 5), dtype), requires_grad=True)
        assert gradgradcheck(lambda t: getattr(ember.fft, name)(t, norm="ortho"), (x,))


def test_c2r_gradient_doubles_the_mirrored_bins():
    """irfft's input bins 1..n-(n//2+1) appear twice in the signal: the gradient of sum(irfft(X, n)) with
    backward norm is 1 at the zero bin and 0 elsewhere; weighted by the cosine of bin k (norm="forward": no
    scale), it is n at bin k: n/2 from X[k] and n/2 from its mirror X[n-k] for the inner bins."""
    for n in (6, 7):
        X = ember.zeros(n // 2 + 1, dtype=ember.complex128, requires_grad=True)
        ember.fft.irfft(X, n=n).sum().backward()
        np.testing.assert_allclose(X.grad.numpy(), np.r_[1.0, np.zeros(n // 2)], atol=1e-12)
        for k in range(n // 2 + 1):
            X = ember.zeros(n // 2 + 1, dtype=ember.complex128, requires_grad=True)
            w = ember.tensor(np.cos(2 * np.pi * k * np.arange(n) / n))
            (ember.fft.irfft(X, n=n, norm="forward") * w).sum().backward()
            expected = np.zeros(n // 2 + 1)
            expected[k] = n                      # without the doubling an inner bin would get n / 2
            np.testing.assert_allclose(X.grad.numpy().real, expected, atol=1e-9)


def test_grad_fn_names_match_torch(torch):
    a = _array((3, 4), "float64")
    c = _array((3, 4), "complex128")
    cases = [("fft", c), ("fft", a), ("ifft", c), ("rfft", a), ("irfft", c), ("irfft", a), ("hfft", c),
             ("fftn", a), ("fft2", c), ("rfftn", a), ("irfft2", c), ("hfftn", c), ("ihfft2", a)]
    for name, x in cases:
        got = getattr(ember.fft, name)(ember.tensor(x, requires_grad=True))
        want = getattr(torch.fft, name)(torch.tensor(x, requires_grad=True))
        assert type(got.grad_fn).__name__ == want.grad_fn.name(), name
    # documented difference: PyTorch conjugates lazily (ConjBackward0) for ifft and ihfft of a real signal
    assert type(ember.fft.ihfft(ember.tensor(a, requires_grad=True)).grad_fn).__name__ == "FftR2CBackward0"


# --- errors --------------------------------------------------------------------------------------------------

ERRORS = [
    lambda m: m.fft.fft(m.ones(4, 6), norm="bad"),
    lambda m: m.fft.fft(m.ones(4, 6), norm="Ortho"),
    lambda m: m.fft.fftn(m.ones(4, 6), norm="xx"),
    lambda m: m.fft.fft(m.ones(4, 6), n=0),
    lambda m: m.fft.rfft(m.ones(4, 6), n=-1),
    lambda m: m.fft.irfft(m.ones(4, 6), n=0),
    lambda m: m.fft.irfft(m.ones(1, dtype=m.complex64)),
    lambda m: m.fft.irfft(m.ones(0, dtype=m.complex64)),
    lambda m: m.fft.hfft(m.ones(4, 1, dtype=m.complex64)),
    lambda m: m.fft.irfftn(m.ones(4, 1, dtype=m.complex64)),
    lambda m: m.fft.fft(m.ones(0)),
    lambda m: m.fft.fftn(m.ones(0, 6)),
    lambda m: m.fft.fft(m.ones(4, 6), dim=2),
    lambda m: m.fft.ifft(m.ones(4, 6), dim=-3),
    lambda m: m.fft.fft2(m.ones(3)),
    lambda m: m.fft.fft(m.tensor(1.0)),
    lambda m: m.fft.fftn(m.tensor(1.0), dim=(0,)),
    lambda m: m.fft.fftn(m.tensor(1.0), s=(1,)),
    lambda m: m.fft.fftn(m.ones(4, 6), s=(2, 3), dim=(0,)),
    lambda m: m.fft.fftn(m.ones(4, 6), s=(2, 3, 4)),
    lambda m: m.fft.fftn(m.ones(4, 6), dim=(0, 0)),
    lambda m: m.fft.fftn(m.ones(4, 6), dim=(0, -2)),
    lambda m: m.fft.fftn(m.ones(4, 6), s=(0, 3)),
    lambda m: m.fft.rfftn(m.ones(4, 6), dim=()),
    lambda m: m.fft.irfft2(m.ones(4, 6), dim=()),
    lambda m: m.fft.hfftn(m.ones(4, 6), dim=()),
    lambda m: m.fft.ihfftn(m.tensor(1.0)),
    lambda m: m.fft.rfft(m.ones(4, dtype=m.complex64)),
    lambda m: m.fft.ihfft(m.ones(4, dtype=m.complex64)),
    lambda m: m.fft.rfft2(m.ones(4, 4, dtype=m.complex64)),
    lambda m: m.fft.rfftn(m.ones(4, dtype=m.complex128)),
    lambda m: m.fft.ihfft2(m.ones(4, 4, dtype=m.complex64)),
    lambda m: m.fft.ihfftn(m.ones(4, dtype=m.complex128)),
    lambda m: m.fft.rfft(m.ones(4, dtype=m.complex64), n=0),       # the dtype is checked first
    lambda m: m.fft.fft(m.ones(4, 6), n=0, norm="bad"),            # then n, then norm
    lambda m: m.fft.fft(m.ones(4, 6), n=0, dim=5),                 # dim before n
    lambda m: m.fft.fft(m.ones(4), out=m.empty(0)),
    lambda m: m.fft.rfft(m.ones(4), out=m.empty(0)),
    lambda m: m.fft.irfft(m.ones(4), out=m.empty(0, dtype=m.complex64)),
    lambda m: m.fft.ifft2(m.ones(4, 4), out=m.empty(0)),
    lambda m: m.fft.rfft2(m.ones(4, 4), out=m.empty(0)),
    lambda m: m.fft.ihfftn(m.ones(4, 4), out=m.empty(0)),
    lambda m: m.fft.irfft2(m.ones(4, 4), out=m.empty(0, dtype=m.complex64)),
    lambda m: m.fft.hfftn(m.ones(4, 4), out=m.empty(0, dtype=m.complex128)),
    lambda m: m.fft.fftshift(m.ones(3), dim=1),
    lambda m: m.fft.fftshift(m.tensor(1.0)),
    lambda m: m.fft.ifftshift(m.ones(3), dim=()),
    lambda m: m.fft.fftfreq(4, dtype=m.int64),
    lambda m: m.fft.rfftfreq(4, dtype=m.bool),
    lambda m: m.fft.fftfreq(4, out=m.empty(0, dtype=m.int64)),
    lambda m: m.fft.fftfreq(4, dtype=m.float64, out=m.empty(0)),
    lambda m: m.fft.fftfreq(-1),
    lambda m: m.fft.fftfreq(4, dtype=m.complex64),
]
TYPE_ERRORS = [
    lambda m: m.fft.fft([1.0, 2.0]),
    lambda m: m.fft.fft(m.ones(4), n=3.0),
    lambda m: m.fft.fft(m.ones(4), dim=(0,)),
    lambda m: m.fft.fft(m.ones(4), norm=1),
    lambda m: m.fft.fftfreq(4.0),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_torch(torch, case):
    """The same exception type and message as PyTorch."""
    with pytest.raises(Exception) as want:
        ERRORS[case](torch)
    with pytest.raises(type(want.value)) as got:
        ERRORS[case](ember)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("case", range(len(TYPE_ERRORS)))
def test_argument_type_errors_match_torch(torch, case):
    with pytest.raises(TypeError):
        TYPE_ERRORS[case](torch)
    with pytest.raises(TypeError):
        TYPE_ERRORS[case](ember)


def test_errors_without_torch():
    with pytest.raises(RuntimeError, match='Invalid normalization mode: "bad"'):
        ember.fft.fft(ember.ones(4), norm="bad")
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        ember.fft.fft(ember.ones(4), n=0)
    with pytest.raises(IndexError, match=r"\[-1, 0\], but got 1"):
        ember.fft.fft(ember.ones(4), dim=1)
    with pytest.raises(RuntimeError, match="must have the same length"):
        ember.fft.fftn(ember.ones(4, 4), s=(2,), dim=(0, 1))
    with pytest.raises(RuntimeError, match="rfft expects a real input tensor, but got ComplexFloat"):
        ember.fft.rfft(ember.ones(4, dtype=ember.complex64))
    with pytest.raises(RuntimeError, match="Unsupported dtype Half"):
        ember.fft.fft(ember.ones(4, dtype=ember.float16))


# --- out= ----------------------------------------------------------------------------------------------------

def test_out_matches_torch(torch):
    a = _array((3, 4), "float32")
    for name, dtype in [("fft", "complex64"), ("fft", "complex128"), ("rfftn", "complex64"), ("irfft", "float64")]:
        out_e, out_t = ember.empty(0, dtype=getattr(ember, dtype)), torch.empty(0, dtype=getattr(torch, dtype))
        res = getattr(ember.fft, name)(ember.tensor(a), out=out_e)
        getattr(torch.fft, name)(torch.tensor(a), out=out_t)
        assert res is out_e and out_e.dtype is getattr(ember, dtype)
        np.testing.assert_allclose(_numpy(out_e), _numpy(out_t), rtol=1e-5, atol=1e-5)


# --- fftfreq, rfftfreq ---------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:invalid value encountered")       # d = 0: 0 * inf, as in PyTorch
@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("dtype", [None, "float32", "float64", "float16", "bfloat16"])
def test_frequencies_match_torch(torch, name, dtype):
    if dtype == "bfloat16" and ember.bfloat16.numpy is None:
        pytest.skip("bfloat16 needs ml_dtypes")
    for n in (0, 1, 4, 5, 7, 10):
        for d in (1.0, 0.1, 2.5, 3, 0.0):
            kw = {} if dtype is None else {"dtype": getattr(ember, dtype)}
            got = getattr(ember.fft, name)(n, d, **kw)
            want = getattr(torch.fft, name)(n, d, **({} if dtype is None else {"dtype": getattr(torch, dtype)}))
            assert str(got.dtype) == str(want.dtype).replace("torch", "ember")
            np.testing.assert_array_equal(got.float().numpy(), want.float().numpy(), err_msg=f"{n} {d}")


def test_frequencies_without_torch():
    np.testing.assert_allclose(ember.fft.fftfreq(5).numpy(), [0, 0.2, 0.4, -0.4, -0.2], rtol=1e-6)
    np.testing.assert_allclose(ember.fft.fftfreq(4, d=0.5).numpy(), [0, 0.5, -1, -0.5])
    np.testing.assert_allclose(ember.fft.rfftfreq(4, 2.0).numpy(), [0, 0.125, 0.25])
    assert ember.fft.fftfreq(3, dtype=ember.float64).dtype is ember.float64
    assert ember.fft.fftfreq(0).shape == (0,)
    t = ember.fft.rfftfreq(6, d=ember.tensor(2.0), requires_grad=True)
    assert t.requires_grad and t.is_leaf
    out = ember.empty(0, dtype=ember.float64)
    assert ember.fft.fftfreq(4, out=out) is out and out.dtype is ember.float64
    np.testing.assert_allclose(out.numpy(), [0, 0.25, -0.5, -0.25])
    ember.set_default_dtype(ember.float64)
    assert ember.fft.fftfreq(3).dtype is ember.float64


# --- fftshift, ifftshift -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
def test_shifts_match_torch(torch, name):
    a = np.arange(60.0).reshape(3, 4, 5)
    for dim in (None, 0, -1, (0, 2), [1], (2, 0), (0, 0)):
        x_e, x_t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        got, want = getattr(ember.fft, name)(x_e, dim), getattr(torch.fft, name)(x_t, dim)
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy(), err_msg=str(dim))
        w = np.random.default_rng(0).standard_normal(a.shape)
        (got * ember.tensor(w)).sum().backward()
        (want * torch.tensor(w)).sum().backward()
        np.testing.assert_array_equal(x_e.grad.numpy(), x_t.grad.numpy())
        assert type(got.grad_fn).__name__ == want.grad_fn.name()


def test_shifts_without_torch():
    np.testing.assert_array_equal(ember.fft.fftshift(ember.arange(5)).numpy(), [3, 4, 0, 1, 2])
    np.testing.assert_array_equal(ember.fft.ifftshift(ember.arange(5)).numpy(), [2, 3, 4, 0, 1])
    np.testing.assert_array_equal(ember.fft.fftshift(ember.fft.fftfreq(4)).numpy(), [-0.5, -0.25, 0, 0.25])
    x = ember.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(ember.fft.ifftshift(ember.fft.fftshift(x)).numpy(), x.numpy())


# --- the namespace -------------------------------------------------------------------------------------------

def test_namespace_like_torch(torch):
    import importlib
    from ember import fft as fft_module
    assert fft_module is ember.fft is importlib.import_module("ember.fft")
    public = {n for n in torch.fft.__all__ if n != "Tensor"} | {"hfft2", "ihfft2", "hfftn", "ihfftn"}
    assert set(ember.fft.__all__) == public
    for name in public:
        assert callable(getattr(ember.fft, name))
        assert name == "fft" or not hasattr(ember, name), f"ember.{name} exists; torch has no torch.{name}"


@pytest.mark.parametrize("name", TRANSFORMS)
def test_meta_tensors_match_torch_shapes_and_dtypes(torch, name):
    """Shapes and dtypes without data (device='meta'), forward and backward."""
    for dtype in _grad_inputs(name):
        for kwargs in KWARGS[_kind(name)][:3]:
            x = ember.ones(4, 3, 6, dtype=getattr(ember, dtype), device="meta", requires_grad=True)
            got = getattr(ember.fft, name)(x, **kwargs)
            want = getattr(torch.fft, name)(torch.ones(4, 3, 6, dtype=getattr(torch, dtype), device="meta"), **kwargs)
            assert got.device.type == "meta" and tuple(got.shape) == tuple(want.shape), (dtype, kwargs)
            assert str(got.dtype) == str(want.dtype).replace("torch", "ember")
            (grad,) = ember.autograd.grad(got.abs().sum(), x)
            assert grad.device.type == "meta" and grad.shape == x.shape and grad.dtype is x.dtype
