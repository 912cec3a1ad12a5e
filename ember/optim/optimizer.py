"""Optimizer: param_groups, per-parameter state, the step loop, state_dict, zero_grad, hooks.

Note [array-level updates]: an optimizer's step is not recorded by autograd, so algorithms work on
the backend arrays (`param._array`, `grad._array`, the state tensors' `_array`) with in-place ufuncs
(`a *= b`, `xp.sqrt(a, out=b)`): a handful of array calls per parameter and no Tensor wrappers.
The base class bumps each updated parameter's version counter, so autograd still notices that a
tensor saved for backward was changed in place. Each algorithm keeps PyTorch's order of
operations (its single-tensor path) so float64 trajectories agree to rounding. A 0-d parameter is
updated through (1,)-shaped views (Note [0-d parameters]); a tensor lr rounds as PyTorch's 0-d tensor
arithmetic does (Note [tensor lr]).

`foreach`, `fused`, `capturable` and `differentiable` are accepted and stored in the param groups for
signature and checkpoint compatibility. There is one NumPy path, and the step is never recorded by
autograd (so `differentiable=True` does not make it differentiable); `foreach=True` only selects
PyTorch's foreach formulas where they round differently (ASGD's eta, RAdam's step size, a tensor lr
in Adamax and NAdam) and its refusals (Adam's tensor lr). Where PyTorch's CPU kernels fuse a
multiply-add (`add_(x, alpha=a)`, `lerp_`), ember rounds twice: float32 results may differ in the
last bit (L-BFGS, whose line search hangs on such bits, emulates the fused form).
"""
import functools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

from .. import _dtype as _dt
from .._tensor import Tensor, _make
from ..autograd.function import null_ctx
from ..ops._common import add_rounded_once, exact_scaled
from ..autograd.grad_mode import _State
from ..utils.hooks import RemovableHandle

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks a default that every param group must give (PyTorch's `required`)."""
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks = OrderedDict()
_global_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """hook(optimizer, args, kwargs) runs before every optimizer's step; it may return new (args, kwargs)."""
    handle = RemovableHandle(_global_pre_hooks)
    _global_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """hook(optimizer, args, kwargs) runs after every optimizer's step."""
    handle = RemovableHandle(_global_post_hooks)
    _global_post_hooks[handle.id] = hook
    return handle


def _with_hooks(step):
    """Wrap a step method with the pre/post hooks (installed once per class, like PyTorch's patch)."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self._optimizer_step_pre_hooks or _global_pre_hooks:
            for hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{step} must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {result}.")
                    args, kwargs = result
        out = step(self, *args, **kwargs)
        if self._optimizer_step_post_hooks or _global_post_hooks:
            for hook in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
                hook(self, args, kwargs)
        return out
    wrapper.hooked = True
    return wrapper


def _typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _value(x):
    """A hyperparameter as a Python number (PyTorch also accepts 1-element tensors for lr, betas...)."""
    return x.item() if isinstance(x, Tensor) else x


def lr_value(group):
    """The group's lr for arithmetic. Note [tensor lr]: PyTorch computes `lr / bias_correction`,
    `1 - lr * weight_decay` and the like with a tensor lr as 0-d tensor ops, rounding each result in the
    lr's dtype (float32 by default). A NumPy scalar of that dtype rounds the same way (NumPy treats the
    Python floats it meets as weak), so a tensor lr is returned as one; a number lr stays a number."""
    lr = group["lr"]
    return lr._array.reshape(-1)[0] if isinstance(lr, Tensor) else lr


def scalar_dtype():
    """The dtype of 0-d state such as `step`: float64 under a float64 default dtype, else float32."""
    return _dt.float64 if _dt.get_default_dtype() is _dt.float64 else _dt.float32


def round_to_scalar_dtype(value):
    """value rounded the way PyTorch's `torch.as_tensor(value)` in the default dtype rounds it."""
    return float(scalar_dtype().numpy.type(value))


def _xp(tensor):
    return null_ctx(tensor._device).xp


def zeros_state(param):
    """A zero tensor shaped like param (the usual optimizer state)."""
    return _make(_xp(param).zeros_like(param._array), param._device)


def full_state(param, value):
    return _make(_xp(param).full_like(param._array, value), param._device)


def scalar_state(value, dtype=None):
    """A 0-d CPU tensor holding value (what PyTorch keeps for `step`, `mu_product`, `eta`...)."""
    import numpy as np
    return _make(np.array(value, dtype=(dtype or scalar_dtype()).numpy))


def increment_step(state):
    """state["step"] += 1, returning the new count. Written through .item(): on a 0-d array that is ~10x
    cheaper than a ufunc, and exact (counts are integers)."""
    step = state["step"]._array
    value = step.item() + 1
    step[()] = value
    return value


def scaled_add(xp, a, b, alpha):
    """a + alpha * b as PyTorch's `a.add(b, alpha=alpha)`: for float32, one fused multiply-add rounding (the
    product and sum formed in float64, rounded once), which two float32 roundings miss in the last bit."""
    if a.dtype == xp.float32 and b.dtype == a.dtype:
        return add_rounded_once(xp, a, b, alpha)
    return a + b * alpha


def scaled_add_(xp, a, b, alpha):
    """a += alpha * b in place, as `a.add_(b, alpha=alpha)` (see scaled_add)."""
    if a.dtype == xp.float32 and b.dtype == a.dtype:
        xp.add(a, exact_scaled(xp, b, alpha), out=a, casting="unsafe")
    else:
        a += b * alpha


def lerp_(xp, self, end, weight):
    """self += weight * (end - self), in place, with PyTorch's two formulas (exact at weight 0 and 1)."""
    diff = end - self
    if abs(weight) < 0.5:
        diff *= weight
        self += diff
    else:
        diff *= 1 - weight
        xp.subtract(end, diff, out=self)


def addcdiv_(self, tensor1, tensor2, value):
    """self += value * tensor1 / tensor2 in PyTorch's order of operations."""
    tmp = tensor1 * value
    tmp /= tensor2
    self += tmp


def addcmul_(self, tensor1, tensor2, value):
    """self += value * tensor1 * tensor2 in PyTorch's order of operations: (value * tensor1) rounded, then
    for float32 one fused multiply-add with tensor2 (formed in float64, rounded once), as its CPU kernel."""
    tmp = tensor1 * value
    if self.dtype == tmp.dtype == tensor2.dtype == "float32":
        product = tmp.astype("float64")             # exact; tensor2 is cast in the in-place product (no copy)
        product *= tensor2
        self += product                               # same-kind cast back: one rounding
        return
    tmp *= tensor2
    self += tmp


def adam_moments(xp, param, grad, state, group):
    """The step Adam and RAdam share: maximize, weight decay (L2 or decoupled), the step count and the two
    moving averages, updated in place. Returns (lr, eps, beta1, beta2, step, exp_avg, exp_avg_sq)."""
    lr, weight_decay, eps = lr_value(group), group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    if group["maximize"]:
        grad = -grad
    step = increment_step(state)
    if weight_decay != 0:
        if group["decoupled_weight_decay"]:
            param *= 1 - lr * weight_decay
        else:
            grad = scaled_add(xp, grad, param, weight_decay)
    exp_avg, exp_avg_sq = state["exp_avg"]._array, state["exp_avg_sq"]._array
    lerp_(xp, exp_avg, grad, 1 - beta1)
    exp_avg_sq *= beta2
    addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
    return lr, eps, beta1, beta2, step, exp_avg, exp_avg_sq


def check_hyper(condition, message):
    """Raise PyTorch's ValueError for an invalid hyperparameter (before any state exists)."""
    if not condition:
        raise ValueError(message)


def check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    check_hyper(0.0 <= lr, f"Invalid learning rate: {lr}")


def check_betas(betas):
    check_hyper(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
    check_hyper(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")


def call_closure(closure):
    """closure() with grad mode on (step itself may run under no_grad)."""
    prev = _State.grad_enabled
    _State.grad_enabled = True
    try:
        return closure()
    finally:
        _State.grad_enabled = prev


class Optimizer:
    """Base class: holds param groups and per-parameter state; subclasses give `_init_state` and `_update`.

    `step()` runs `_update(xp, param, grad, state, group)` on arrays for every parameter that has a
    gradient (Note [array-level updates]); an optimizer with different needs overrides `step`.
    """
    # State tensors load_state_dict keeps in their saved dtype (others take the parameter's dtype).
    _scalar_state_keys = ("step",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _with_hooks(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, OrderedDict())
        self.defaults.setdefault("differentiable", False)
        for per_param in self.state.values():    # old checkpoints keep `step` as a number
            if isinstance(per_param, dict) and "step" in per_param and not isinstance(per_param["step"], Tensor):
                per_param["step"] = scalar_state(float(per_param["step"]))

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"

    # --- param groups ------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters (with its own options; missing ones come from `defaults`)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(tensors):
            raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(param))
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        param_group["params"] = tensors
        if names:
            param_group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in tensors}) != len(tensors):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"all optimizer param groups should be with/without names. cannot add param "
                                 f"group {which} to the optimizer")
        if not seen.isdisjoint(id(p) for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # --- the step ----------------------------------------------------------------------------------
    def _init_state(self, param, state, group):
        """Fill an empty per-parameter state (first step with a gradient)."""

    def _update(self, xp, param, grad, state, group):
        """One parameter's update on arrays, in place."""
        raise NotImplementedError

    def step(self, closure=None):
        """One optimization step; returns closure's loss when a closure (re-evaluating the model) is given."""
        loss = None if closure is None else call_closure(closure)
        state = self.state
        init, update = self._init_state, self._update
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                s = state[p]
                if not s:
                    init(p, s, group)
                param, grad = p._array, grad._array
                if param.dtype.kind == "c":         # complex: real and imaginary parts as independent reals
                    param, grad, s = _as_real(param), _as_real(grad), _real_state(s)
                elif not param.ndim:                  # 0-d: Note [0-d parameters]
                    param, grad, s = param.reshape(1), grad.reshape(1), _state_1d(s)
                update(null_ctx(p._device).xp, param, grad, s, group)
                p._bump_version()
        return loss

    def zero_grad(self, set_to_none=True):
        """Drop the gradients (set_to_none=True) or zero them in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if grad.grad_fn is not None:
                    grad.detach_()
                else:
                    grad._requires_grad = False
                try:
                    grad._array[...] = 0
                except (ValueError, TypeError):   # a read-only (broadcast) gradient: give it own memory
                    grad._array = _xp(grad).zeros(grad._array.shape, grad._array.dtype)
                grad._bump_version()

    # --- hooks -------------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), before each step."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None, after each step."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def _register(self, hooks, hook, prepend):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # --- checkpoints -------------------------------------------------------------------------------
    def state_dict(self):
        """{'state': {index: per-parameter state}, 'param_groups': [options + 'params' as indices]},
        PyTorch's layout (parameters are numbered in group order), so checkpoints move between the two.
        Like PyTorch, the state tensors are the live ones: deepcopy to keep a snapshot."""
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            start = len(index)
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a state_dict() (ember's or PyTorch's with tensors converted). Like PyTorch's, the state shares
        the tensors that need no dtype or device conversion with `state_dict` (see _cast)."""
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                group = next((g for g in state_dict["param_groups"] if key in g["params"]), {})
                float32_step = bool(group.get("capturable", False) or group.get("fused", False))
                state[param] = _cast(param, value, self._scalar_state_keys, float32_step=float32_step)
            else:
                state[key] = value
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.__setstate__({"state": state, "param_groups": saved_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


def _as_real(array):
    """A real view with a trailing axis of 2 (PyTorch's view_as_real)."""
    return array[..., None].view(array.real.dtype)


def _real_state(state):
    """The state with complex tensors replaced by real views (scalars such as `step` stay the same objects)."""
    return {k: _make(_as_real(v._array), v._device) if isinstance(v, Tensor) and v._array.dtype.kind == "c" else v
            for k, v in state.items()}


def _state_1d(state):
    """The state of a 0-d parameter with its 0-d tensors replaced by (1,)-shaped views of the same memory.

    Note [0-d parameters]: NumPy arithmetic on 0-d arrays returns immutable NumPy scalars, not arrays:
    `out=` refuses them and `buf *= m` on one rebinds a local instead of updating the state. So a 0-d
    parameter's update runs on (1,)-shaped views of the parameter, gradient and state (scalar state such
    as `step` included), where every temporary is an array; the state itself keeps the parameter's shape."""
    return {k: _make(v._array.reshape(1), v._device) if isinstance(v, Tensor) and not v._array.ndim else v
            for k, v in state.items()}


Optimizer.step = _with_hooks(Optimizer.step)     # subclasses' own step methods are wrapped on definition


def _cast(param, value, keep, key=None, float32_step=False):
    """A saved state value as PyTorch's load_state_dict takes it: a tensor under a key in `keep` (`step`) as
    saved (float32 on param's device in a capturable or fused group), every other tensor on param's device
    and, when param is floating, in param's dtype. As in PyTorch a tensor needing no conversion is not
    copied: the loaded state shares it with the state_dict (so two optimizers loaded from one state_dict,
    or an optimizer and the one it was saved from, step the same tensors; deepcopy to keep them apart)."""
    if isinstance(value, Tensor):
        if key in keep:
            return value.to(dtype=_dt.float32, device=param.device) if float32_step else value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)
    if isinstance(value, dict):
        return {k: _cast(param, v, keep, k, float32_step) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v, keep) for v in value)
    return value
