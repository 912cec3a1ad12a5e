"""PyTorch's torch._dynamo, as far as programs written for PyTorch 2 reach into it: reset(), config,
OptimizedModule, list_backends(), disable(), explain's neighbours.

Note [ember.compile]: ember has no graph compiler. `ember.compile` returns a callable that runs the
function eagerly (PyTorch's own backend="eager" does the same after tracing), and a compiled Module is
an OptimizedModule wrapping the original, as in PyTorch, so that code reaching for `model._orig_mod` or
saving a compiled model's state_dict (keys start with `_orig_mod.`) behaves as it does there. Why there
is no replaying compiler yet, and what it would take to build one that is never silently wrong: the
closing notes of issue 15 (eager ember is within ~1.5x of a Python-level graph builder's floor; going
further means skipping the Python of ember's ops, which needs array-level capture through the backend
seam, ember/_backends, with guards on everything Python read).
"""
import functools
import types

from . import exc
from .eval_frame import OptimizedModule

__all__ = ["reset", "config", "OptimizedModule", "list_backends", "disable", "allow_in_graph",
           "assume_constant_result", "is_compiling", "exc"]

# The settings programs set (`torch._dynamo.config.suppress_errors = True`, cache sizes): kept, read by
# nothing, since ember runs eagerly.
config = types.SimpleNamespace(suppress_errors=False, cache_size_limit=8, recompile_limit=8,
                               accumulated_cache_size_limit=256, accumulated_recompile_limit=256,
                               verbose=False, capture_scalar_outputs=False,
                               capture_dynamic_output_shape_ops=False, optimize_ddp=True,
                               automatic_dynamic_shapes=True, assume_static_by_default=True)

# PyTorch's registered backend names: each is accepted, and each runs the function eagerly here.
_BACKENDS = {"inductor": (), "cudagraphs": (), "openxla": (), "tvm": (),
             "eager": ("debug",), "aot_eager": ("debug",), "aot_eager_decomp_partition": ("debug",),
             "aot_ts": ("experimental",), "ts": ("experimental",), "openxla_eval": ("experimental",)}


def list_backends(exclude_tags=("debug", "experimental")):
    """The backend names ember.compile accepts, without those tagged with any of exclude_tags."""
    excluded = set(exclude_tags or ())
    return sorted(name for name, tags in _BACKENDS.items() if not excluded.intersection(tags))


def reset():
    """Forget compiled state; ember keeps none."""


def is_compiling():
    """False: ember never traces a function for compilation."""
    return False


def disable(fn=None, recursive=True, *, reason=None):
    """Run fn without compiling it, which is how ember runs everything; usable as a decorator."""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    return fn


def allow_in_graph(fn):
    """Let fn appear in a compiled graph as one call (every call does, in ember)."""
    return fn


def assume_constant_result(fn):
    return fn
