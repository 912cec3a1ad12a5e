"""Parameter, Buffer, UninitializedParameter."""
from .._tensor import Tensor, _make


class Parameter(Tensor):
    """A tensor that a Module registers as a learnable parameter (requires_grad=True by default)."""
    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ..ops.creation import empty
            data = empty(0)
        t = _make(data._array, data._device, cls=cls)
        t._vc = data._vc                       # shares data (and its version) with `data`, like PyTorch
        t.requires_grad = requires_grad
        return t

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (Tensor.__reduce_ex__(self, protocol), self._requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = Parameter(_make(self._array.copy(), self._device), self._requires_grad)
        if self._grad is not None:
            new._grad = _make(self._grad._array.copy(), self._device)
        memo[id(self)] = new
        return new


def _rebuild_parameter(reduced, requires_grad):
    fn, args = reduced
    return Parameter(fn(*args), requires_grad)


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (lazy modules)."""
    __slots__ = ()

    def materialize(self, shape, device=None, dtype=None):
        from ..ops.creation import empty
        data = empty(shape, device=device or self.device, dtype=dtype or self.dtype)
        self._array = data._array
        self._device = data._device
        self.__class__ = Parameter


class Buffer(Tensor):
    """Marks a tensor to be registered as a module buffer when assigned as an attribute."""
    __slots__ = ()

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from ..ops.creation import empty
            data = empty(0)
        t = _make(data._array, data._device, cls=cls)
        t._vc = data._vc
        t.__dict__["persistent"] = persistent
        return t

    def __init__(self, data=None, *, persistent=True):
        pass
