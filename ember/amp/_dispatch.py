"""Autocast's state (per device type: enabled, dtype; the weight-cast cache and the nesting count) and the
dispatch that hooked ops call while a region is active.

An op on PyTorch's autocast lists starts with one line (ATen's op name, see _op_lists.py):

    if "mm" in AUTOCAST:
        return autocast_run("mm", mm, input, mat2)

AUTOCAST is empty while no autocast is enabled, so autocast off costs one dict lookup. autocast_run casts the
op's floating-point tensor arguments as the op's policy says (the casts are differentiable `to`s, so gradients
flow back in the inputs' dtypes) and runs the op with autocast excluded, as PyTorch's autocast kernels run
their op below the Autocast dispatch key: ops that the op calls are not cast again.

The state is per process (like ember's grad mode), not per thread as in PyTorch.
"""
from .. import _dtype as _dt
from .._tensor import Tensor
from ._op_lists import BANNED_MESSAGES, POLICIES

AUTOCAST = {}                     # ATen op name -> {device type: policy}, for the device types enabled now
AUTOCAST_NAMES = frozenset(name for table in POLICIES.values() for name in table)     # on any device's list

_enabled = {"cpu": False, "cuda": False}
_dtypes = {"cpu": _dt.bfloat16, "cuda": _dt.float16}
_cast_cache = {}                  # id(float32 leaf) -> (leaf, its lower-precision copy), while nesting > 0
_settings = {"cache_enabled": True, "nesting": 0}

_CASTABLE = (_dt.float16, _dt.bfloat16, _dt.float32)     # PyTorch's eligible floating dtypes (not float64)


def rebuild():
    """Refill AUTOCAST from the enabled device types' lists (on every enable/disable)."""
    AUTOCAST.clear()
    for device_type, on in _enabled.items():
        if on:
            for name, policy in POLICIES.get(device_type, {}).items():
                AUTOCAST.setdefault(name, {})[device_type] = policy


def _first_tensor(args, kwargs):
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor):
            return value
        if type(value) in (list, tuple):
            for item in value:
                if isinstance(item, Tensor):
                    return item
    return None


def _cast_one(t, device_type, to):
    if t._device.type != device_type or t.dtype is to or t.dtype not in _CASTABLE:
        return t
    # PyTorch caches the lower-precision copies of float32 leaves that require grad (the weights): a
    # module that uses a weight several times casts it once per outermost region.
    if (to is _dtypes[device_type] and t.dtype is _dt.float32 and _settings["cache_enabled"]
            and t._requires_grad and t.grad_fn is None and t._base is None):
        hit = _cast_cache.get(id(t))
        if hit is not None and hit[0] is t:
            return hit[1]
        copy = t.to(to)
        _cast_cache[id(t)] = (t, copy)          # keeps t alive, so its id is not reused while cached
        return copy
    return t.to(to)


def _cast(value, device_type, to):
    if isinstance(value, Tensor):
        return _cast_one(value, device_type, to)
    if type(value) in (list, tuple):            # tensor lists: cat, stack, multi_dot
        return type(value)([_cast(v, device_type, to) for v in value])
    return value


def _tensors(args, kwargs):
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor):
            yield value
        elif type(value) in (list, tuple):
            yield from (v for v in value if isinstance(v, Tensor))


def _widest(args, kwargs, device_type):
    """PyTorch's promote: float32 if any eligible argument is float32, else the region's dtype."""
    lower = _dtypes[device_type]
    current = lower
    for t in _tensors(args, kwargs):
        if t._device.type != device_type or not t.dtype.is_floating_point or t.dtype is _dt.float64:
            continue
        if current is _dt.float32 or t.dtype is _dt.float32:
            current = _dt.float32
        elif not (current is lower and t.dtype is lower):
            raise RuntimeError("Unexpected floating ScalarType in at::autocast::prioritize")
    return current


def _eligible(t, device_type):
    return (t is not None and t._device.type == device_type and t.dtype.is_floating_point
            and t.dtype is not _dt.float64)


def autocast_run(name, fn, *args, **kwargs):
    """Run fn(*args, **kwargs), the ATen op `name`, under the policy the enabled autocast gives it."""
    policies = AUTOCAST[name]
    first = _first_tensor(args, kwargs)
    device_type = first._device.type if first is not None else None
    policy = policies.get(device_type)
    if policy is None:
        # autocast is on for another device type only: the op runs as is, the ops it calls still autocast
        del AUTOCAST[name]
        try:
            return fn(*args, **kwargs)
        finally:
            AUTOCAST[name] = policies
    if policy == "lower" or policy == "fp32" or policy == "promote":
        to = (_dtypes[device_type] if policy == "lower" else _dt.float32 if policy == "fp32"
              else _widest(args, kwargs, device_type))
        args = [_cast(a, device_type, to) for a in args]
        kwargs = {k: _cast(v, device_type, to) for k, v in kwargs.items()}
    elif policy == "fp32_opt":
        if _eligible(first, device_type) and kwargs.get("dtype") is None:
            kwargs["dtype"] = _dt.float32
    elif policy == "fp32_dim":
        if _eligible(first, device_type):
            kwargs["dtype"] = _dt.float32
    else:                                        # banned
        raise RuntimeError(BANNED_MESSAGES[name])
    saved = AUTOCAST.copy()
    AUTOCAST.clear()
    try:
        return fn(*args, **kwargs)
    finally:
        AUTOCAST.update(saved)


def autocast_args(names, *tensors):
    """The inline form, for an op that ember computes in one primitive where PyTorch's composite calls a listed
    op (tensordot and multi_dot call mm, einsum bmm): `tensors` cast as the first of `names` with a policy on
    their device type says (lower, fp32 or promote), returned as a list; no exclusion is needed since the op
    calls no other hooked op afterwards."""
    first = _first_tensor(tensors, {})
    if first is None:
        return list(tensors)
    device_type = first._device.type
    for name in names:
        policy = AUTOCAST.get(name, {}).get(device_type)
        if policy is not None:
            to = (_dtypes[device_type] if policy == "lower" else _dt.float32 if policy == "fp32"
                  else _widest(tensors, {}, device_type))
            return [_cast(t, device_type, to) for t in tensors]
    return list(tensors)


def lower_dtype(device_type, name):
    """The region's lower dtype when `name` runs in lower precision on device_type now, else None."""
    policy = AUTOCAST.get(name, {}).get(device_type)
    return _dtypes[device_type] if policy == "lower" else None


def run_without_autocast(fn, *args, **kwargs):
    """fn with autocast excluded: in-place ops and out= calls are not autocast in PyTorch."""
    saved = AUTOCAST.copy()
    AUTOCAST.clear()
    try:
        return fn(*args, **kwargs)
    finally:
        AUTOCAST.update(saved)


def clear_cache():
    _cast_cache.clear()
