"""Activation checkpointing: keep less for backward, recompute it when backward needs it.

use_reentrant=False (recommended): the function runs once with its graph recorded, but every tensor an
op saves for backward is replaced by an index (autograd.graph.saved_tensors_hooks). The first time
backward unpacks one, the function is re-run on the same inputs (same RNG state) to regenerate all of
them. Works with autograd.grad and with parameters the function closes over.

use_reentrant=True: the function runs under no_grad inside a custom Function; its backward re-runs it
with grad enabled and calls backward on the recomputed outputs, so parameters the function uses get their
.grad accumulated directly (hence it does not support autograd.grad, as in PyTorch).
"""
import contextlib
import warnings

from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.graph import saved_tensors_hooks

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError"]


class CheckpointError(RuntimeError):
    """The recomputation did not reproduce what the original forward saved."""


def _rng_state():
    from .. import random
    return random.get_rng_state()


@contextlib.contextmanager
def _forked_rng(state):
    """Run with the global RNG set to `state`, restoring the caller's state afterwards."""
    if state is None:
        yield
        return
    from .. import random
    current = random.get_rng_state()
    random.set_rng_state(state)
    try:
        yield
    finally:
        random.set_rng_state(current)


def _detached(args):
    """The inputs as new leaves with the same data and requires_grad flags (for the recomputation)."""
    out = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.detach()
            d.requires_grad = a.requires_grad
            out.append(d)
        else:
            out.append(a)
    return out


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """function(*args, **kwargs), keeping only what is needed to recompute it during backward."""
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True.", stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got {determinism_check}")
    if use_reentrant:
        if context_fn is not None or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        return _ReentrantCheckpoint.apply(function, preserve_rng_state, *args)
    return _checkpoint_without_reentrant(function, args, kwargs, preserve_rng_state,
                                         determinism_check == "default")


class _Frame:
    """One checkpointed call: hands out indices while saving, recomputes the values on first unpack."""

    def __init__(self, function, args, kwargs, rng_state, check):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_state, self.check = rng_state, check
        self.count = 0
        self.values = None

    def pack(self, tensor):
        index = self.count
        self.count += 1
        return index

    def unpack(self, index):
        if self.values is None:
            self.values = self._recompute()
        return self.values[index]

    def _recompute(self):
        values = []

        def keep(tensor):
            values.append(tensor.detach())
            return None

        with _forked_rng(self.rng_state), enable_grad(), saved_tensors_hooks(keep, lambda _: None):
            self.function(*_detached(self.args), **self.kwargs)
        if self.check and len(values) != self.count:
            raise CheckpointError("ember.utils.checkpoint: A different number of tensors was saved during the "
                                  f"original forward and recomputation.\nNumber of tensors saved during forward: "
                                  f"{self.count}\nNumber of tensors saved during recomputation: {len(values)}")
        return values


def _checkpoint_without_reentrant(function, args, kwargs, preserve_rng_state, check):
    frame = _Frame(function, args, kwargs, _rng_state() if preserve_rng_state else None, check)
    with saved_tensors_hooks(frame.pack, frame.unpack):
        return function(*args, **kwargs)


class _ReentrantCheckpoint(Function):
    @staticmethod
    def forward(ctx, function, preserve_rng_state, *args):
        ctx.function = function
        ctx.rng_state = _rng_state() if preserve_rng_state else None
        ctx.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.constants = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        with no_grad():
            return function(*args)

    @staticmethod
    def backward(ctx, *grads):
        from ..autograd import backward
        args = list(ctx.constants)
        for i, t in zip(ctx.tensor_positions, ctx.saved_tensors):
            args[i] = t
        inputs = _detached(args)
        with _forked_rng(ctx.rng_state), enable_grad():
            outputs = ctx.function(*inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(a.grad if isinstance(a, Tensor) else None for a in inputs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or list of modules) in `segments` checkpointed chunks; the last runs normally."""
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly.", stacklevel=2)
        use_reentrant = True
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = len(functions) // segments

    def run(start, end):
        def forward(x):
            for f in functions[start:end + 1]:
                x = f(x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
