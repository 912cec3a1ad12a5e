"""Anomaly detection: record where each node was created, and fail on NaN gradients naming the culprit.

With anomaly mode on, every recorded node keeps the user's stack at its creation; in backward a NaN in a
node's gradients raises RuntimeError naming the node ("Function 'SqrtBackward0' returned nan values in
its 0th output.") followed by that stack, and any other error inside a node's backward is preceded by a
warning showing it. Off by default (it costs a stack capture per op).
"""
import functools
import os
import traceback
import warnings

__all__ = ["set_detect_anomaly", "detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]


class _Anomaly:
    enabled = False
    check_nan = True
    # Note [profiler backward]: while ember.profiler records, the engine takes this anomaly path for every
    # node (it reads the flag once per backward call) and _backward_with_trace hands each node's backward to
    # profiler(node, grads), which times it; None otherwise (ember/profiler/_instrument.py).
    profiler = None


class set_detect_anomaly:
    """Turn anomaly detection on or off (also a context manager restoring the previous state)."""

    def __init__(self, mode, check_nan=True):
        self.prev = (_Anomaly.enabled, _Anomaly.check_nan)
        _Anomaly.enabled, _Anomaly.check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _Anomaly.enabled, _Anomaly.check_nan = self.prev
        return False


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly detection: NaN gradients raise with the forward trace."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (_Anomaly.enabled, _Anomaly.check_nan)
        _Anomaly.enabled, _Anomaly.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        _Anomaly.enabled, _Anomaly.check_nan = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def is_anomaly_enabled():
    return _Anomaly.enabled


def is_anomaly_check_nan_enabled():
    return _Anomaly.check_nan


def _check_anomaly(node, results):
    if not _Anomaly.check_nan:
        return
    for i, grad in enumerate(results):
        if grad is not None and grad._array.dtype.kind in "fc" and bool(node.xp.isnan(grad._array).any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.\n"
                               f"{_forward_trace(node)}")


def _forward_trace(node):
    if not node._trace:
        return ("(No forward trace was recorded for it: anomaly detection must be enabled during the forward "
                "pass too.)")
    return f"Traceback of the forward call that created {node.name()}:\n" + "".join(node._trace)


def _backward_with_trace(node, grads):
    """Anomaly mode: a failing backward also reports where its node was created, as PyTorch warns."""
    profiler = _Anomaly.profiler
    try:
        return node._op.backward(node, *grads) if profiler is None else profiler(node, grads)
    except Exception:
        if _Anomaly.enabled:
            warnings.warn(f"Error detected in {node.name()}. {_forward_trace(node)}", UserWarning, stacklevel=2)
        raise


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def record_trace(node):
    """The user's stack at the op that created `node` (ember's own frames at the top are dropped)."""
    frames = traceback.extract_stack()[:-1]
    while frames and frames[-1].filename.startswith(_PACKAGE_DIR):
        frames.pop()
    node._trace = traceback.format_list(frames)
