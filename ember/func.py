"""torch.func-style transforms, the part that falls out of reverse-mode autograd: grad, grad_and_value,
vjp, jacrev, hessian, and a loop-based vmap.

Deviation: these run eagerly on ember's graph (no functorch levels), so they compose by nesting
(grad(grad(f)) works) but vmap is a Python loop over the mapped dimension, not a vectorizing transform.
"""
import functools

from ._tensor import Tensor
from .autograd.grad_mode import enable_grad

__all__ = ["grad", "grad_and_value", "vjp", "jacrev", "hessian", "vmap", "functional_call"]


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _prepare(args, argnums):
    """args with the differentiated ones re-entered as graph inputs (keeping outer history if any)."""
    args = list(args)
    for i in argnums:
        if not isinstance(args[i], Tensor):
            raise TypeError(f"grad: argument {i} must be a Tensor to be differentiated, got "
                            f"{type(args[i]).__name__}")
        t = args[i]
        args[i] = t.view_as(t) if t.requires_grad else t.detach().requires_grad_(True)
    return args


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of func's scalar output w.r.t. argnums, func's output)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .autograd import grad as autograd_grad
        nums = _argnums_tuple(argnums)
        with enable_grad():
            args = _prepare(args, nums)
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor) or out.numel() != 1:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"{type(out).__name__ if not isinstance(out, Tensor) else tuple(out.shape)}")
            grads = autograd_grad(out, [args[i] for i in nums], create_graph=True, materialize_grads=True)
        result = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = (out, aux) if has_aux else out
        return result, value
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of func's scalar output with respect to argument(s) argnums."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gradients, value = inner(*args, **kwargs)
        return (gradients, value[1]) if has_aux else gradients
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn) where vjp_fn(cotangents) gives the vector-Jacobian products."""
    from .autograd import grad as autograd_grad
    with enable_grad():
        inputs = _prepare(primals, range(len(primals)))
        out = func(*inputs)
        aux = None
        if has_aux:
            out, aux = out

    def vjp_fn(*cotangents):
        outputs = out if isinstance(out, tuple) else (out,)
        if len(cotangents) == 1 and not isinstance(out, tuple):
            cotangents = (cotangents[0],)
        with enable_grad():
            return tuple(autograd_grad(outputs, inputs, cotangents, retain_graph=True, create_graph=True,
                                       materialize_grads=True))
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jacrev(func, argnums=0):
    """A function returning the Jacobian of func w.r.t. argnums (shape output.shape + input.shape)."""
    @functools.wraps(func)
    def wrapper(*args):
        from .autograd.functional import jacobian
        nums = _argnums_tuple(argnums)

        def restricted(*chosen):
            full = list(args)
            for i, value in zip(nums, chosen):
                full[i] = value
            return func(*full)
        result = jacobian(restricted, tuple(args[i] for i in nums), create_graph=True)
        return result[0] if isinstance(argnums, int) and not isinstance(result[0], tuple) else \
            (result if not isinstance(argnums, int) else tuple(r[0] for r in result))
    return wrapper


def hessian(func, argnums=0):
    """jacrev(jacrev(func)): the matrix of second derivatives of a scalar function."""
    return jacrev(jacrev(func, argnums), argnums)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Map func over a dimension of its inputs by looping and stacking the results (no vectorization)."""
    from .ops.joining import stack

    @functools.wraps(func)
    def wrapper(*args):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries but the function got {len(args)} arguments")
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None and isinstance(a, Tensor)}
        if len(sizes) != 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got "
                             f"sizes {sorted(sizes)} for the mapped dimension")
        (size,) = sizes
        results = []
        for i in range(size):
            sliced = [a.select(d, i) if d is not None and isinstance(a, Tensor) else a for a, d in zip(args, dims)]
            results.append(func(*sliced))
        if isinstance(results[0], tuple):
            outs = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(results[0])
            return tuple(stack([r[k] for r in results], d) for k, d in enumerate(outs))
        return stack(results, out_dims)
    return wrapper


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """module(*args, **kwargs) with its named parameters and buffers replaced, for this call only, by the
    given tensors (one dict, or several whose keys must not overlap): the stateless way to differentiate
    a module's output with respect to weights that are plain tensors."""
    from .nn.utils.stateless import _functional_call
    if isinstance(parameter_and_buffer_dicts, dict):
        merged = parameter_and_buffer_dicts
    else:
        merged = {}
        for d in parameter_and_buffer_dicts:
            overlap = set(merged) & set(d)
            if overlap:
                raise ValueError(f"{sorted(overlap)} appeared in multiple dictionaries; behavior of "
                                 "functional call is ambiguous")
            merged.update(d)
    return _functional_call(module, merged, args, kwargs, tie_weights=tie_weights, strict=strict)
