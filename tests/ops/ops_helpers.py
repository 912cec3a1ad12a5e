"""Helpers for the generic op tests: building inputs for ember and torch, comparing results, and a
finite-difference gradient check (ember.autograd.gradcheck is used instead when it exists)."""
import numpy as np

import ember

TOLERANCES = {  # dtype -> (rtol, atol)
    "float16": (2e-3, 2e-3), "bfloat16": (1.6e-2, 1e-2), "float32": (2e-5, 1e-5), "float64": (1e-7, 1e-9),
    "complex64": (2e-5, 1e-5), "complex128": (1e-7, 1e-9),
}


def dtype_name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def ember_input(array, requires_grad=False):
    t = ember.from_numpy(array)
    return t.requires_grad_() if requires_grad else t


def torch_input(torch, array, requires_grad=False):
    if array.dtype.name == "bfloat16":
        t = torch.from_numpy(array.astype(np.float32)).to(torch.bfloat16)
    else:
        t = torch.from_numpy(array)
    return t.requires_grad_() if requires_grad else t


def to_array(t):
    """NumPy values of an ember or torch tensor (bfloat16 widened to float32)."""
    if isinstance(t, ember.Tensor):
        t = t.detach()
        if t.dtype is ember.bfloat16:
            t = t.float()
        return np.asarray(t.numpy())
    t = t.detach()
    if hasattr(t, "resolve_conj"):
        t = t.resolve_conj().resolve_neg()
    if str(t.dtype) == "torch.bfloat16":
        t = t.float()
    return t.numpy()


def assert_same(got, want, rtol=None, atol=None, path="output"):
    """ember result `got` equals torch result `want`: structure, shapes, dtypes and values."""
    import torch
    if isinstance(want, torch.Tensor):
        assert isinstance(got, ember.Tensor), f"{path}: expected a Tensor, got {type(got).__name__}"
        assert tuple(got.shape) == tuple(want.shape), f"{path}: shape {tuple(got.shape)} != {tuple(want.shape)}"
        assert dtype_name(got.dtype) == dtype_name(want.dtype), \
            f"{path}: dtype {dtype_name(got.dtype)} != {dtype_name(want.dtype)}"
        a, b = to_array(got), to_array(want)
        name = dtype_name(want.dtype)
        if name in TOLERANCES:
            r, t = TOLERANCES[name]
            np.testing.assert_allclose(a, b, rtol=rtol or r, atol=atol or t, equal_nan=True, err_msg=path)
        else:
            np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)), f"{path}: expected a sequence, got {type(got).__name__}"
        assert len(got) == len(want), f"{path}: {len(got)} results, torch gives {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol, atol, f"{path}[{i}]")
        for field in ("values", "indices"):
            if hasattr(want, field):
                assert hasattr(got, field), f"{path}: missing named field {field}"
    else:
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        assert got == want, f"{path}: {got} != {want}"


def flat_tensors(out):
    """The tensors of a (possibly nested) result, in order."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat_tensors(o)]
    return [out] if hasattr(out, "requires_grad") else []


def differentiable_outputs(out):
    return [t for t in flat_tensors(out) if t.requires_grad]


def weights_like(outputs, module, seed=0):
    rng = np.random.default_rng(seed)
    return [module.from_numpy(rng.uniform(0.5, 1.5, tuple(o.shape)).astype(np.float64)).to(o.dtype)
            for o in outputs]


def weighted_loss(outputs, weights):
    total = 0
    for o, w in zip(outputs, weights):
        total = total + (o * w).sum()
    return total


def _numeric_vjp(fn, arrays, weights, eps):
    """d/dx_i of sum(w * fn(x)) by central differences, one input element at a time."""
    def loss(values):
        with ember.no_grad():
            outs = differentiable_like(fn(*[ember.from_numpy(v) for v in values]))
            return sum(float((o.double() * w).sum()) for o, w in zip(outs, weights))
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros(a.shape)
        for j in np.ndindex(a.shape):
            values = [x.copy() for x in arrays]
            values[i][j] += eps
            up = loss(values)
            values[i][j] -= 2 * eps
            down = loss(values)
            g[j] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def differentiable_like(out):
    """Float/complex tensors of a result (what gradients flow through)."""
    return [t for t in flat_tensors(out) if t.dtype.is_floating_point or t.dtype.is_complex]


def ember_gradcheck(name="gradcheck"):
    """ember.autograd.gradcheck (or gradgradcheck) once the autograd package ships it, else None."""
    found = getattr(ember.autograd, name, None)
    if found is not None and not callable(found):
        found = getattr(found, name, None)
    if found is None:
        try:
            import importlib
            found = getattr(importlib.import_module("ember.autograd.gradcheck"), name, None)
        except ImportError:
            return None
    return found if callable(found) else None


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Analytical gradients of a random weighting of fn's outputs equal central differences."""
    gradcheck = ember_gradcheck()
    if gradcheck is not None:
        def float_outputs(*xs):
            outs = differentiable_outputs(fn(*xs))
            return tuple(outs) if len(outs) != 1 else outs[0]
        assert gradcheck(float_outputs, tuple(inputs), eps=eps, atol=atol, rtol=rtol)
        return
    outputs = differentiable_outputs(fn(*inputs))
    assert outputs, "no output requires grad"
    weights = [w.detach() for w in weights_like(outputs, ember)]
    analytic = ember.autograd.grad(weighted_loss(outputs, weights), inputs, allow_unused=True)
    arrays = [np.array(x.detach().numpy(), dtype=np.float64) for x in inputs]
    numeric = _numeric_vjp(fn, arrays, weights, eps)
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        a = np.zeros(n.shape) if a is None else a.detach().numpy()
        np.testing.assert_allclose(a, n, rtol=rtol, atol=atol, err_msg=f"gradient of input {k}")
