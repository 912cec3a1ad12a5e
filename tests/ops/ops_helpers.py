"""Helpers for the generic op tests: building inputs for ember and torch, comparing results, and the
gradient check (ember.autograd.gradcheck on the differentiable outputs)."""
import numpy as np

import ember
from ember.autograd import gradcheck

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


def differentiable_result(fn):
    """fn with only its float outputs that require grad (one tensor, or a tuple of several), as gradcheck wants."""
    def outputs(*xs):
        outs = differentiable_outputs(fn(*xs))
        assert outs, "no output requires grad"
        return tuple(outs) if len(outs) != 1 else outs[0]
    return outputs


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """ember.autograd.gradcheck of fn's differentiable outputs: analytical gradients equal central differences."""
    assert gradcheck(differentiable_result(fn), tuple(inputs), eps=eps, atol=atol, rtol=rtol)
