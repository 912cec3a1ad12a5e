"""gradcheck / gradgradcheck: analytical gradients against central finite differences.

Every tensor is seen as a vector of real coordinates (a complex element gives two: its real and
imaginary parts), so one code path serves real and complex inputs and outputs. The Jacobian
J[i, k] is d(output coordinate k) / d(input coordinate i), laid out (input numel, output numel)
like PyTorch's. Analytical rows come from one vector-Jacobian product per output coordinate:
with PyTorch's convention the gradient of a real scalar L with respect to z = x + iy is
dL/dx + i dL/dy, so grad_output 1 at element k reads off Re(o_k) and grad_output 1j reads Im(o_k).
"""
import warnings

import numpy as np

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError", "get_numerical_jacobian",
           "get_analytical_jacobian"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck and gradgradcheck when a check fails."""


def _tensor_cls():
    from .._tensor import Tensor
    return Tensor


def _as_tuple(x):
    if isinstance(x, _tensor_cls()):
        return (x,)
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


def _diff_inputs(inputs):
    Tensor = _tensor_cls()
    return [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _check_inputs(inputs):
    found = False
    for idx, t in enumerate(inputs):
        if not (isinstance(t, _tensor_cls()) and t.requires_grad):
            continue
        if t.dtype.name not in ("float64", "complex128"):
            warnings.warn(f"Input #{idx} requires gradient and is not a double precision floating point or "
                          "complex. This check will likely fail if all the inputs are not of double precision "
                          "floating point or complex. ", stacklevel=4)
        if any(st == 0 and sz > 1 for st, sz in zip(t.stride(), t.shape)):
            raise RuntimeError(f"The {idx}th input has a dimension with stride 0. gradcheck only supports inputs "
                               "that are non-overlapping to be able to compute the numerical gradients "
                               "correctly. You should call .contiguous on the input before passing it to "
                               "gradcheck.")
        found = True
    if not found:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")


def _to_numpy(t):
    return np.asarray(t._backend().to_numpy(t._array))


def _real_coords(t):
    """A tensor's values as a flat float64 vector (complex elements give real, imag pairs)."""
    a = _to_numpy(t)
    if np.iscomplexobj(a):
        return np.stack([a.real, a.imag], axis=-1).astype(np.float64).ravel()
    return a.astype(np.float64).ravel()


def _parts(t):
    """Unit perturbations of one element: (1,) for real tensors, (1, 1j) for complex ones."""
    return (1, 1j) if t.dtype.is_complex else (1,)


def _n_coords(t):
    return t.numel() * len(_parts(t))


def _tensor_outputs(out):
    Tensor = _tensor_cls()
    return tuple(o for o in _as_tuple(out) if isinstance(o, Tensor))


def _eval(func, inputs):
    return [_real_coords(o) for o in _tensor_outputs(func(*inputs))]


def _numerical_jacobians(func, inputs, input_indices, outputs, eps):
    """{input index: [J per output]} by central differences, perturbing each coordinate in place."""
    result = {}
    for i in input_indices:
        t = inputs[i]
        array = t._array
        if not array.flags.writeable:
            raise RuntimeError(f"gradcheck: input {i} is read-only; pass a writeable copy (.clone())")
        jacobians = [np.zeros((_n_coords(t), _n_coords(o))) for o in outputs]
        row = 0
        for idx in np.ndindex(array.shape):
            for part in _parts(t):
                orig = array[idx].copy()
                # The write goes straight to the array: the version counter is left alone on purpose,
                # since the graphs built while probing are never differentiated.
                array[idx] = orig - eps * part
                minus = _eval(func, inputs)
                array[idx] = orig + eps * part
                plus = _eval(func, inputs)
                array[idx] = orig
                for jac, p, m in zip(jacobians, plus, minus):
                    jac[row] = (p - m) / (2 * eps)
                row += 1
        result[i] = jacobians
    return result


def _grad_output(o, k, value):
    """A one-hot grad_output for output `o` with `value` at flat element k (or a dense array `value`)."""
    from .._tensor import _make
    xp = o._backend().xp
    if k is None:
        return _make(o._backend().from_numpy(np.array(value, dtype=o._array.dtype)), o._device)
    array = xp.zeros(o._array.shape, dtype=o._array.dtype)
    array.reshape(-1)[k] = value
    return _make(array, o._device)


def _vjp(o, diff, grad_output):
    from . import grad
    return grad(o, [t for _, t in diff], grad_output, retain_graph=True, allow_unused=True)


def _grads_to_rows(grads, diff, check_grad_dtypes):
    rows = []
    for g, (_, t) in zip(grads, diff):
        if g is None:
            rows.append(np.zeros(_n_coords(t)))
            continue
        if tuple(g.shape) != tuple(t.shape):
            raise GradcheckError("Analytical gradient has incorrect size")
        if check_grad_dtypes and g.dtype is not t.dtype:
            raise GradcheckError("Gradient has dtype mismatch")
        coords = _real_coords(g)
        if not t.dtype.is_complex and g.dtype.is_complex:
            coords = coords[0::2]
        elif t.dtype.is_complex and not g.dtype.is_complex:
            coords = np.stack([coords, np.zeros_like(coords)], axis=-1).ravel()
        rows.append(coords)
    return rows


def _analytical_jacobians(o, diff, check_grad_dtypes):
    """[J per diff input] for one output, one vector-Jacobian product per output coordinate."""
    jacobians = [np.zeros((_n_coords(t), _n_coords(o))) for _, t in diff]
    col = 0
    for k in range(o.numel()):
        for part in _parts(o):
            grads = _vjp(o, diff, _grad_output(o, k, part))
            for jac, row in zip(jacobians, _grads_to_rows(grads, diff, check_grad_dtypes)):
                jac[:, col] = row
            col += 1
    return jacobians


def _show(jacobian):
    from ..ops.creation import tensor
    from .._dtype import float64
    return repr(tensor(jacobian, dtype=float64))


def _mismatch(out_idx, in_idx, numerical, analytical):
    return (f"Jacobian mismatch for output {out_idx:d} with respect to input {in_idx:d},\n"
            f"numerical:{_show(numerical)}\nanalytical:{_show(analytical)}\n")


def _allclose(a, n, rtol, atol):
    return a.shape == n.shape and np.allclose(a, n, rtol=rtol, atol=atol)


def _check_zero_numerical(func, inputs, diff, outputs, eps):
    numerical = _numerical_jacobians(func, inputs, [i for i, _ in diff], outputs, eps)
    for jacobians in numerical.values():
        for jac in jacobians:
            if np.any(jac != 0):
                raise GradcheckError("Numerical gradient for function expected to be zero")


def _slow_check(func, inputs, diff, outputs, diff_outputs, eps, atol, rtol, nondet_tol, check_grad_dtypes):
    numerical = _numerical_jacobians(func, inputs, [i for i, _ in diff], outputs, eps)
    for out_idx, o in enumerate(outputs):
        if o not in diff_outputs:
            continue
        first = _analytical_jacobians(o, diff, check_grad_dtypes)
        second = _analytical_jacobians(o, diff, check_grad_dtypes)
        for (in_idx, _), a, n in zip(diff, first, numerical.values()):
            if not _allclose(a, n[out_idx], rtol, atol):
                raise GradcheckError(_mismatch(out_idx, in_idx, n[out_idx], a))
        for a1, a2 in zip(first, second):
            if a1.shape != a2.shape or np.max(np.abs(a1 - a2), initial=0.0) > nondet_tol:
                raise GradcheckError(
                    "Backward is not reentrant, i.e., running backward with same input and grad_output "
                    "multiple times gives different values, although analytical gradient matches numerical "
                    f"gradient.The tolerance for nondeterminism was {nondet_tol}.")


def _fast_check(func, inputs, diff, outputs, diff_outputs, eps, atol, rtol, nondet_tol, check_grad_dtypes):
    """Compare v^T J u for random unit u (inputs) and v (outputs) instead of whole Jacobians."""
    rng = np.random.default_rng(0)
    us = [_unit(rng, _n_coords(t)) for _, t in diff]
    vs = [_unit(rng, _n_coords(o)) for o in outputs]
    for pos, ((in_idx, t), u) in enumerate(zip(diff, us)):
        numerical = _directional(func, inputs, t, u, eps)
        for out_idx, (o, v) in enumerate(zip(outputs, vs)):
            if o not in diff_outputs:
                continue
            grad_output = _grad_output(o, None, _coords_to_values(v, o))
            first = _grads_to_rows(_vjp(o, diff, grad_output), diff, check_grad_dtypes)[pos]
            second = _grads_to_rows(_vjp(o, diff, grad_output), diff, check_grad_dtypes)[pos]
            a, n = float(first @ u), float(numerical[out_idx] @ v)
            if abs(float(second @ u) - a) > nondet_tol:
                raise GradcheckError("Backward is not reentrant, i.e., running backward with same input and "
                                     "grad_output multiple times gives different values, although analytical "
                                     "gradient matches numerical gradient.The tolerance for nondeterminism was "
                                     f"{nondet_tol}.")
            # u and v are unit vectors: scale atol by their sums like an all-ones probe would see it.
            scaled_atol = atol * float(np.abs(u).sum()) * float(np.abs(v).sum())
            if not np.isclose(a, n, rtol=rtol, atol=scaled_atol):
                try:
                    _slow_check(func, inputs, diff, outputs, diff_outputs, eps, atol, rtol, nondet_tol,
                                check_grad_dtypes)
                    detail = ""
                except GradcheckError as e:
                    detail = "\nThe full Jacobians (slow mode):\n" + str(e)
                raise GradcheckError(f"Jacobian mismatch for output {out_idx:d} with respect to input "
                                     f"{in_idx:d},\nnumerical:{n}\nanalytical:{a}\n{detail}")


def _unit(rng, n):
    u = rng.standard_normal(n)
    norm = np.linalg.norm(u)
    return u / norm if norm else u


def _coords_to_values(coords, t):
    shape = tuple(t.shape)
    if t.dtype.is_complex:
        return (coords[0::2] + 1j * coords[1::2]).reshape(shape)
    return coords.reshape(shape)


def _directional(func, inputs, t, u, eps):
    """(f(x + eps u) - f(x - eps u)) / 2 eps for each output's coordinates, perturbing input t."""
    array = t._array
    orig = array.copy()
    step = t._backend().from_numpy(_coords_to_values(u, t).astype(array.dtype))
    try:
        array[...] = orig - eps * step
        minus = _eval(func, inputs)
        array[...] = orig + eps * step
        plus = _eval(func, inputs)
    finally:
        array[...] = orig
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _check_mul_by_grad_output(outputs, diff):
    from . import grad
    grads = grad(outputs, [t for _, t in diff], [_grad_output(o, None, np.zeros(tuple(o.shape))) for o in outputs],
                 retain_graph=True, allow_unused=True)
    for g, (_, t) in zip(grads, diff):
        if g is None:
            continue
        if np.any(_to_numpy(g) != 0):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype is not t.dtype:
            raise GradcheckError("grad is incorrect type")
        if g.device != t.device:
            raise GradcheckError("grad is incorrect device")
        if tuple(g.shape) != tuple(t.shape):
            raise GradcheckError("grad is incorrect size")


def _check_undefined_grad(outputs, diff):
    """Each output alone: the other outputs' gradients are undefined; all inputs must get zero or None."""
    from . import grad
    for o in outputs:
        try:
            grads = grad([o], [t for _, t in diff], [_grad_output(o, None, np.zeros(tuple(o.shape)))],
                         retain_graph=True, allow_unused=True)
        except RuntimeError as e:
            raise GradcheckError("Expected backward function to handle undefined output grads.") from e
        for g in grads:
            if g is not None and np.any(_to_numpy(g) != 0):
                raise GradcheckError("Expected all input grads to be undefined or zero when all output grads "
                                     "are undefined or zero.")


def _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes, fast_mode):
    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    diff = _diff_inputs(inputs)
    outputs = _tensor_outputs(func(*inputs))
    diff_outputs = [o for o in outputs if o.requires_grad]
    if not diff_outputs:
        _check_zero_numerical(func, inputs, diff, outputs, eps)
        return True
    # Only outputs that require grad are compared; ids keep `in` from calling Tensor.__eq__.
    ids = {id(o) for o in diff_outputs}
    diff_outputs = _IdSet(ids)
    check = _fast_check if fast_mode else _slow_check
    check(func, inputs, diff, outputs, diff_outputs, eps, atol, rtol, nondet_tol, check_grad_dtypes)
    requiring = [o for o in outputs if o.requires_grad]
    _check_mul_by_grad_output(requiring, diff)
    if check_undefined_grad:
        _check_undefined_grad(requiring, diff)
    return True


class _IdSet:
    __slots__ = ("ids",)

    def __init__(self, ids):
        self.ids = ids

    def __contains__(self, t):
        return id(t) in self.ids


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """True when func's analytical gradients match finite differences; else raises GradcheckError.

    Deviations: check_batched_grad and the forward-AD flags are accepted and ignored (ember has no
    vmap or forward-mode AD); `masked` applies to sparse inputs, which ember does not have.
    """
    if not check_backward_ad:
        return True
    try:
        return _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes,
                          fast_mode)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """gradcheck of the map (inputs, grad_outputs) -> vector-Jacobian product, i.e. second derivatives.

    Without grad_outputs, random float64-valued ones (requiring grad) are drawn from a fixed seed.
    """
    if not check_rev_over_rev:
        return True
    inputs = _as_tuple(inputs)
    Tensor = _tensor_cls()
    if grad_outputs is None:
        outputs = [o for o in _tensor_outputs(func(*inputs)) if o.requires_grad]
        rng = np.random.default_rng(0)
        grad_outputs = tuple(_random_like(o, rng, gen_non_contig_grad_outputs) for o in outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_grads = len(grad_outputs)
    diff_positions = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def new_func(*args):
        from . import grad
        inner_inputs = args[:len(args) - n_grads]
        outs = tuple(o for o in _tensor_outputs(func(*inner_inputs)) if o.requires_grad)
        wrt = [inner_inputs[i] for i in diff_positions]
        grads = grad(outs, wrt, args[len(args) - n_grads:], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(new_func, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad, check_grad_dtypes=check_grad_dtypes,
                     fast_mode=fast_mode)


def _random_like(o, rng, non_contiguous):
    from .._tensor import _make
    shape = tuple(o.shape)
    values = rng.standard_normal(shape + (2,) if o.dtype.is_complex else shape)
    if o.dtype.is_complex:
        values = values[..., 0] + 1j * values[..., 1]
    values = values.astype(o._array.dtype)
    if non_contiguous and values.ndim:
        wide = np.zeros(shape[:-1] + (shape[-1] * 2,), dtype=values.dtype)
        wide[..., ::2] = values
        values = wide[..., ::2]
    array = o._backend().from_numpy(values)
    return _make(array, o._device, True)


def get_numerical_jacobian(fn, inputs, target=None, eps=1e-3, grad_out=1.0):
    """Numerical Jacobians of fn's first output with respect to each input requiring grad (deprecated API)."""
    inputs = _as_tuple(inputs)
    diff = _diff_inputs(inputs)
    outputs = _tensor_outputs(fn(*inputs))[:1]
    numerical = _numerical_jacobians(fn, inputs, [i for i, _ in diff], outputs, eps)
    from ..ops.creation import tensor
    return tuple(tensor(js[0] * grad_out, dtype=inputs[i].dtype) for i, js in numerical.items())


def get_analytical_jacobian(inputs, output, nondet_tol=0.0, grad_out=1.0):
    """(jacobians, reentrant, correct_grad_sizes, correct_grad_types) of output w.r.t. inputs (deprecated API)."""
    inputs = _as_tuple(inputs)
    diff = _diff_inputs(inputs)
    first = _analytical_jacobians(output, diff, False)
    second = _analytical_jacobians(output, diff, False)
    reentrant = all(np.max(np.abs(a - b), initial=0.0) <= nondet_tol for a, b in zip(first, second))
    from ..ops.creation import tensor
    return (tuple(tensor(j * grad_out, dtype=t.dtype) for j, (_, t) in zip(first, diff)), reentrant, True, True)
