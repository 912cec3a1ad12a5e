"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode (context managers and decorators)."""
import functools

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _State:
    """Process-wide grad mode. Ops read `grad_enabled` on every call, so it is a plain class attribute."""
    grad_enabled = True
    inference = False


def is_grad_enabled():
    return _State.grad_enabled


def is_inference_mode_enabled():
    return _State.inference


class _GradModeContext:
    """Base for the context managers; instances also decorate functions (and generator functions)."""
    __slots__ = ("_prev", "_prev_inference")

    def __enter__(self):
        self._prev = _State.grad_enabled
        self._prev_inference = _State.inference
        self._enter_mode()
        return None

    def __exit__(self, *exc):
        _State.grad_enabled = self._prev
        _State.inference = self._prev_inference
        return False

    def clone(self):
        return self.__class__()

    def __call__(self, fn):
        import inspect
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                try:
                    with self.clone():
                        request = gen.send(None)
                    while True:
                        try:
                            response = yield request
                        except GeneratorExit:
                            with self.clone():
                                gen.close()
                            raise
                        with self.clone():
                            request = gen.send(response)
                except StopIteration as stop:
                    return stop.value
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable gradient recording: results of ops have requires_grad=False."""
    __slots__ = ()

    def __init__(self, orig_func=None):
        pass

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None and callable(orig_func):   # bare @no_grad use
            return self(orig_func)
        return self

    def _enter_mode(self):
        _State.grad_enabled = False


class enable_grad(_GradModeContext):
    """Enable gradient recording inside a no_grad region."""
    __slots__ = ()

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None and callable(orig_func):
            return self(orig_func)
        return self

    def __init__(self, orig_func=None):
        pass

    def _enter_mode(self):
        _State.grad_enabled = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode; takes effect at once (like PyTorch) and is undone on context exit."""
    __slots__ = ("mode",)

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'mode' must be bool, not {type(mode).__name__}")
        self._prev = _State.grad_enabled
        self._prev_inference = _State.inference
        self.mode = mode
        _State.grad_enabled = mode

    def __enter__(self):
        _State.grad_enabled = self.mode
        return None

    def _enter_mode(self):
        _State.grad_enabled = self.mode

    def clone(self):
        restore = _State.grad_enabled
        other = self.__class__(self.mode)
        _State.grad_enabled = restore
        return other


class inference_mode(_GradModeContext):
    """Like no_grad (ember keeps no extra inference-only state); `mode=False` is a no-op."""
    __slots__ = ("mode",)

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):
            self.mode = True
            return self(mode)
        return self

    def __init__(self, mode=True):
        if not callable(mode):
            self.mode = mode

    def _enter_mode(self):
        if self.mode:
            _State.grad_enabled = False
            _State.inference = True

    def clone(self):
        return self.__class__(self.mode)
