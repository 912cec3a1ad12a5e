"""torch.func-style transforms: grad, grad_and_value, vjp, jacrev on reverse-mode autograd; jvp, jacfwd,
linearize on forward-mode AD (ember.autograd.forward_ad); hessian as jacfwd(jacrev(f)), as PyTorch defines it;
vmap, which runs the function once on the whole batch through batching rules (Note [vmap] in ember/_vmap.py).

These run eagerly on ember's graph and compose by nesting: grad(grad(f)), vmap(grad(f)) (per-sample
gradients), jacfwd(jacrev(f)) (forward over reverse), jacrev(jacfwd(f)) and jacfwd(jacfwd(f)) (forward levels
nest here, as in torch.func; the public forward_ad keeps PyTorch's one level).
"""
import functools
import sys

from ._tensor import Tensor
from .autograd.functional import keep_tangent
from .autograd.grad_mode import enable_grad
from .utils._pytree import tensor_leaves

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize", "vmap",
           "functional_call", "stack_module_state"]


_DEPTH = [0]            # func transforms running now (an inner one keeps its graph for the outer ones)


def _transform(body, inputs):
    """Run a transform's body; the outermost transform, on inputs that do not require grad, returns results
    without autograd history (as torch.func's: nesting is what the history was for)."""
    _DEPTH[0] += 1
    try:
        result = body()
    finally:
        _DEPTH[0] -= 1
    if _DEPTH[0] or any(t.requires_grad for t in tensor_leaves(inputs)):
        return result
    return _detach_tree(result)


def _detach_tree(value):
    if isinstance(value, Tensor):
        if value.grad_fn is None and not value.requires_grad:
            return value
        from .autograd.forward_ad import _detached
        return _detached(value, -1)               # (keeps forward-mode tangents, if a level is entered outside)
    if isinstance(value, dict):
        return type(value)((k, _detach_tree(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        parts = [_detach_tree(v) for v in value]
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
    return value


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)




def _rebuild(value, leaves):
    """`value`'s structure with its tensors replaced, in order, by those of the iterator `leaves`."""
    if isinstance(value, Tensor):
        return next(leaves)
    if isinstance(value, dict):
        return type(value)((k, _rebuild(v, leaves)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        parts = [_rebuild(v, leaves) for v in value]
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
    return value


def _entered(t):
    """t re-entered as a graph input (keeping outer history if any); inside vmap, one per element."""
    vmapping = sys.modules.get("ember._vmap")
    if vmapping is not None and vmapping._Vmap.level:          # inside vmap: one gradient per element
        t = vmapping.batched_at_every_level(t)
    return t.view_as(t) if t.requires_grad else keep_tangent(t, t.detach().requires_grad_(True))


def _prepare(args, argnums):
    """args with the differentiated ones (tensors or pytrees of tensors) re-entered as graph inputs."""
    args = list(args)
    for i in argnums:
        if not tensor_leaves(args[i]):
            raise TypeError(f"grad: argument {i} must be a Tensor (or a pytree of Tensors) to be differentiated, "
                            f"got {type(args[i]).__name__}")
        args[i] = _rebuild(args[i], iter([_entered(t) for t in tensor_leaves(args[i])]))
    return args


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of func's scalar output w.r.t. argnums, func's output); an argument that is
    a pytree (dict, tuple, list of tensors) gets its gradient in the same structure."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _transform(lambda: body(*args, **kwargs), [args[i] for i in _argnums_tuple(argnums)])

    def body(*args, **kwargs):
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
            flat = [t for i in nums for t in tensor_leaves(args[i])]
            grads = iter(autograd_grad(out, flat, create_graph=True, materialize_grads=True))
            per_arg = [_rebuild(args[i], grads) for i in nums]
        result = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
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


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of func w.r.t. argnums by reverse-mode AD (shape output.shape +
    input.shape); an argument that is a pytree of tensors gets its Jacobians in the same structure."""
    @functools.wraps(func)
    def wrapper(*args):
        return _transform(lambda: body(*args), [args[i] for i in _argnums_tuple(argnums)])

    def body(*args):
        from .autograd.functional import jacobian
        nums = _argnums_tuple(argnums)
        vmapping = sys.modules.get("ember._vmap")
        if vmapping is not None and vmapping._Vmap.level:      # inside vmap: one Jacobian per element
            args = tuple(_rebuild(a, iter([vmapping.batched_at_every_level(t) for t in tensor_leaves(a)]))
                         if i in nums else a for i, a in enumerate(args))
        counts = [len(tensor_leaves(args[i])) for i in nums]
        for i, n in zip(nums, counts):
            if not n:
                raise TypeError(f"jacrev: argument {i} must be a Tensor (or a pytree of Tensors), got "
                                f"{type(args[i]).__name__}")
        flat = tuple(t for i in nums for t in tensor_leaves(args[i]))
        aux = []

        def restricted(*chosen):
            it = iter(chosen)
            full = list(args)
            for i in nums:
                full[i] = _rebuild(args[i], it)
            out = func(*full)
            if has_aux:
                out, extra = out
                aux.append(extra)
            return out
        result = _jacrev_batched(restricted, flat) if not has_aux and _vectorizable() and not \
            (vmapping is not None and vmapping._Vmap.level) else None
        if result is None:
            result = jacobian(restricted, flat, create_graph=True)

        def per_argument(jacs):
            """Jacobians of one output, one per leaf, back in the arguments' structures."""
            it = iter(jacs)
            arranged = [_rebuild(args[i], it) for i in nums]
            return arranged[0] if isinstance(argnums, int) else tuple(arranged)
        if isinstance(result, tuple) and result and isinstance(result[0], tuple):      # several outputs
            out = tuple(per_argument(r) for r in result)
        else:
            out = per_argument(result)
        return (out, aux[0]) if has_aux else out
    return wrapper


def hessian(func, argnums=0):
    """jacfwd(jacrev(func)): the matrix of second derivatives of a scalar function (forward over reverse)."""
    return jacfwd(jacrev(func, argnums), argnums)


def _tensors_like(values, what):
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    for v in values:
        if not isinstance(v, Tensor):
            raise RuntimeError(f"jvp: Expected {what} to be a tuple of Tensors, got {type(v).__name__}")
    return values


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the Jacobian of func at primals times tangents), by forward-mode AD; outputs keep
    func's structure (a tensor or a tuple of tensors)."""
    return _transform(lambda: _jvp(func, primals, tangents, has_aux),
                      list(primals if isinstance(primals, (tuple, list)) else [primals]) +
                      list(tangents if isinstance(tangents, (tuple, list)) else [tangents]))


def _jvp(func, primals, tangents, has_aux):
    from .autograd import forward_ad
    from .ops.creation import zeros_like
    if not isinstance(primals, (tuple, list)):
        raise RuntimeError(f"jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be valid "
                           f"to call f(*primals). Got {type(primals).__name__}")
    primals = _tensors_like(primals, "primals")
    tangents = _tensors_like(tangents, "tangents")
    if len(primals) != len(tangents):
        raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, tangents also must be. "
                           f"Got primals with {len(primals)} and tangents with {len(tangents)} tensors")
    for p, t in zip(primals, tangents):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have the same shape; "
                               f"got {list(p.shape)} and {list(t.shape)}")
    with forward_ad._nested_level() as level:
        duals = [forward_ad.make_dual(p, t, level=level) for p, t in zip(primals, tangents)]
        out = func(*duals)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("jvp(f, primals, tangents): output of function f should be a tuple: (output, "
                                   "aux) if has_aux is True")
            out, aux = out
        outs = out if isinstance(out, tuple) else (out,)
        primal_out, tangent_out = [], []
        for o in outs:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"jvp(f, primals, tangents): Expected f(*primals) to return only tensors, got "
                                   f"{type(o).__name__}")
            p, t = forward_ad.unpack_dual(o, level=level)
            primal_out.append(p)
            tangent_out.append(t if t is not None else zeros_like(p))
    if isinstance(out, tuple):
        result = (tuple(primal_out), tuple(tangent_out))
    else:
        result = (primal_out[0], tangent_out[0])
    return result + (aux,) if has_aux else result


def linearize(func, *primals):
    """(func(*primals), jvp_fn) where jvp_fn(*tangents) is the Jacobian at primals times tangents."""
    out = func(*primals)

    def jvp_fn(*tangents):
        return jvp(func, primals, tangents)[1]
    return out, jvp_fn


def _jacrev_batched(restricted, flat):
    """Every row of the Jacobian from one batched forward and one backward (None where that does not apply: an
    output that is not one floating tensor): func runs under vmap on copies of the inputs, one copy per output
    element, and the backward seeds copy k with the k-th basis vector, so copy k's gradient is row k."""
    from ._vmap import vmap as _vmap
    from .autograd import grad as autograd_grad
    from .ops.creation import eye
    from .autograd.grad_mode import no_grad
    with no_grad():                                # the output's shape only: nothing to record
        probe = restricted(*flat)
    if not isinstance(probe, Tensor) or not probe.dtype.is_floating_point:
        return None
    n = probe.numel()
    if n == 0:
        return None
    copies = []
    for t in flat:
        expanded = t.unsqueeze(0).expand((n,) + tuple(t.shape))
        copies.append(expanded if t.requires_grad else expanded.detach().requires_grad_())
    with enable_grad():
        outputs = _vmap(restricted)(*copies)
        seeds = eye(n, dtype=outputs.dtype, device=outputs.device).reshape(outputs.shape)
        rows = autograd_grad(outputs, copies, grad_outputs=seeds, create_graph=True, allow_unused=True)
    out_shape = tuple(probe.shape)
    from .ops.creation import zeros
    return tuple((r if r is not None else zeros((n,) + tuple(t.shape), dtype=t.dtype, device=t.device))
                 .reshape(out_shape + tuple(t.shape)) for r, t in zip(rows, flat))


def _vectorizable():
    """Whether jacfwd and jacrev may batch with vmap: not inside a forward-mode level already (there the columns
    are computed one by one) nor inside an ONNX trace (whose tracer vmap cannot share)."""
    from ._vmap import _dispatch
    from .autograd.forward_ad import _Fw
    from .profiler import _instrument
    tracer = _instrument._State.tracer
    return _Fw.level is None and (tracer is None or tracer is _dispatch)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function returning the Jacobian of func w.r.t. argnums by forward-mode AD, one column per input element
    (shape output.shape + input.shape)."""
    @functools.wraps(func)
    def wrapper(*args):
        return _transform(lambda: body(*args), [args[i] for i in _argnums_tuple(argnums)])

    def body(*args):
        from .ops.creation import zeros_like
        from .ops.joining import stack
        nums = _argnums_tuple(argnums)
        for i in nums:
            if not isinstance(args[i], Tensor):
                raise TypeError(f"jacfwd: argument {i} must be a Tensor, got {type(args[i]).__name__}")
        per_input = []
        value = aux = None
        for i in nums:
            x = args[i]
            columns = []

            def restricted(v, i=i):
                full = list(args)
                full[i] = v
                return func(*full)
            n = x.numel()
            if n and not has_aux and _vectorizable():
                # every column at once: jvp over the basis of x's elements, batched by vmap (as PyTorch does)
                from ._vmap import vmap as _vmap
                from .ops.creation import eye
                basis = eye(n, dtype=x.dtype, device=x.device).reshape((n,) + tuple(x.shape))
                value = restricted(x)
                batched = _vmap(lambda t: jvp(restricted, (x,), (t,))[1], randomness=randomness)(basis)
                columns = [batched]
                outs = value if isinstance(value, tuple) else (value,)
                found = batched if isinstance(value, tuple) else (batched,)
                jac = [f.movedim(0, -1).reshape(tuple(o.shape) + tuple(x.shape)) for f, o in zip(found, outs)]
                per_input.append(tuple(jac) if isinstance(value, tuple) else jac[0])
                continue
            for k in range(n):
                basis = zeros_like(x).reshape(-1)
                basis[k] = 1
                got = jvp(restricted, (x,), (basis.reshape(x.shape),), has_aux=has_aux)
                value = got[0]
                if has_aux:
                    aux = got[2]
                columns.append(got[1])
            outs = value if isinstance(value, tuple) else (value,)
            tangent_columns = [c if isinstance(value, tuple) else (c,) for c in columns]
            jac = []
            for j, o in enumerate(outs):
                if columns:
                    stacked = stack([c[j] for c in tangent_columns], dim=-1)
                    jac.append(stacked.reshape(tuple(o.shape) + tuple(x.shape)))
                else:
                    jac.append(o.new_zeros(tuple(o.shape) + tuple(x.shape)))
            per_input.append(tuple(jac) if isinstance(value, tuple) else jac[0])
        if isinstance(argnums, int):
            result = per_input[0]
        elif value is not None and isinstance(value, tuple):
            result = tuple(tuple(per_input[n][j] for n in range(len(nums))) for j in range(len(value)))
        else:
            result = tuple(per_input)
        return (result, aux) if has_aux else result
    return wrapper


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a dimension of its inputs in one batched run (Note [vmap] in ember/_vmap.py)."""
    from ._vmap import vmap as _vmap
    return _vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)


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


def stack_module_state(models):
    """(params, buffers): each parameter and buffer of the (same-shaped) models stacked along a new dim 0, by
    name; the stacked parameters are new leaves that require grad where the models' do. With functional_call and
    vmap, one call runs every model (ensembling)."""
    from .ops.joining import stack
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    first = models[0]
    kinds = [type(m) for m in models]
    if any(k is not kinds[0] for k in kinds):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params, buffers = {}, {}
    for name, p in first.named_parameters():
        stacked = stack([dict(m.named_parameters())[name].detach() for m in models])
        params[name] = stacked.requires_grad_(p.requires_grad)
    for name, _ in first.named_buffers():
        buffers[name] = stack([dict(m.named_buffers())[name] for m in models])
    return params, buffers

