"""Parameter, Buffer and the placeholders of lazy modules (UninitializedParameter, UninitializedBuffer)."""
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


class UninitializedTensorMixin:
    """Shared by the placeholders of lazy modules: no shape until materialize() gives one."""
    __slots__ = ()
    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor `shape` (uninitialised values) and turn it into cls_to_become."""
        from ..ops.creation import empty
        self.data = empty(shape, device=device if device is not None else self._device,
                          dtype=dtype if dtype is not None else self.dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                           "initialized one. Call `forward` to initialize the parameters before accessing their "
                           "attributes.")

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to "
                           "initialize the parameters before calling `module.share_memory()`.")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad,))

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, self._device, self.dtype)
        return memo[id(self)]


def is_lazy(param):
    """Whether param is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter whose shape is not known yet (lazy modules); materialize() makes it a Parameter.

    Deviation: ops on it are not intercepted one by one as in PyTorch; most fail on its `shape`.
    """
    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        from ..ops.creation import empty
        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass


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


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (lazy modules); materialize() makes it a plain Tensor."""
    __slots__ = ()
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        from ..ops.creation import empty
        data = empty(0, device=device, dtype=dtype)
        t = _make(data._array, data._device, cls=cls)
        t.requires_grad = requires_grad
        t.__dict__["persistent"] = persistent
        return t

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        pass

    def to(self, *args, **kwargs):
        # a converted buffer placeholder stays one (PyTorch keeps this subclass; a parameter's
        # conversion is a plain Tensor, which Module._apply writes back through .data), so that
        # module.double() / .to(device) before the first forward still materialises with the new dtype
        out = super().to(*args, **kwargs)
        if out is self:
            return self
        twin = type(self)(self.requires_grad, out._device, out.dtype)
        twin.__dict__.update(self.__dict__)
        return twin
