"""Tensor (state and Python protocols; math lives in ember.ops) and Size."""
import numbers
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from . import _dtype as _dt, _settings
from ._device import CPU, to_device

__all__ = ["Tensor", "Size"]


class Size(tuple):
    """A tensor's shape: a tuple of ints with PyTorch's repr."""
    __slots__ = ()

    def __repr__(self):
        return f"ember.Size({list(self)})"

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, key):
        out = tuple.__getitem__(self, key)
        return Size(out) if isinstance(key, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __reduce__(self):
        return (Size, (tuple(self),))


class VersionCounter:
    """Shared by a tensor, its views and its detached aliases; every in-place change bumps it."""
    __slots__ = ("value",)

    def __init__(self, value=0):
        self.value = value


_new = object.__new__


def _make(array, device=CPU, requires_grad=False, grad_fn=None, out_nr=0, vc=None, cls=None):
    """Wrap a backend array without copying (the fast internal constructor)."""
    t = _new(cls or Tensor)
    t._array = array
    t._device = device
    t._requires_grad = requires_grad
    t.grad_fn = grad_fn
    t._grad = None
    t._vc = vc
    t._base = None
    t._out_nr = out_nr
    t._acc = None
    t._extra = None
    return t


def _check_storage(array, device):
    """Note [array storage]: a Tensor's storage is always an array of its device's backend, never a
    NumPy scalar (a 0-d result is a 0-d array). A NumPy scalar is immutable, so in-place updates of a
    tensor holding one would silently rebind a local instead of changing the tensor."""
    from .backends import backend_for
    expected = backend_for(device).xp.ndarray
    if not isinstance(array, expected):
        import sys
        caller = sys._getframe(2).f_code
        raise AssertionError(f"ember invariant: a {device} tensor must hold a {expected.__module__}."
                             f"{expected.__name__}, got {type(array).__module__}.{type(array).__name__} "
                             f"(made in {caller.co_filename}:{caller.co_name})")


def _make_checked(array, device=CPU, requires_grad=False, grad_fn=None, out_nr=0, vc=None, cls=None):
    """_make that asserts Note [array storage] (the test suite runs with it; see _settings.DEBUG)."""
    _check_storage(array, device)
    return _make_unchecked(array, device, requires_grad, grad_fn, out_nr, vc, cls)


_make_unchecked = _make
if _settings.DEBUG_INVARIANTS:
    _make = _make_checked


def wrap(array, requires_grad=False):
    """A Tensor sharing memory with a NumPy array of any strides (internal; see ember.from_numpy)."""
    if isinstance(array, np.generic) or not isinstance(array, np.ndarray):
        array = np.asarray(array)
    _dt.from_numpy(array.dtype)
    return _make(array, CPU, requires_grad)


_TENSOR_TYPE = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
                "complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor"}


def _type_name(t):
    return _TENSOR_TYPE[t.dtype.name]


class Tensor:
    """An n-dimensional array on a device, plus autograd bookkeeping. Math lives in ember.ops."""
    __slots__ = ("_array", "_device", "_requires_grad", "_grad", "grad_fn", "_vc", "_base", "_out_nr",
                 "_acc", "_extra", "__dict__", "__weakref__")
    __hash__ = object.__hash__                   # identity: tensors key optimizer state
    __array_priority__ = 1000                    # NumPy defers to our reflected operators

    def __new__(cls, *args, **kwargs):
        # torch.Tensor(data) / torch.Tensor(2, 3): the legacy constructor makes a default-dtype tensor.
        from . import ops
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            if isinstance(args[0], Tensor):
                return args[0].detach() if cls is Tensor else args[0]
            return ops.creation.tensor(args[0], dtype=_dt.get_default_dtype(), device=kwargs.get("device"))
        return ops.creation.empty(*args, dtype=_dt.get_default_dtype(), device=kwargs.get("device"))

    # --- metadata ---------------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._array.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._array.shape)
        return self._array.shape[_wrap_dim(dim, self._array.ndim)]

    @property
    def dtype(self):
        return _dt._FROM_NUMPY[self._array.dtype]

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def is_meta(self):
        return self._device.type == "meta"

    @property
    def is_cpu(self):
        return self._device.type == "cpu"

    @property
    def layout(self):
        return "strided"

    @property
    def ndim(self):
        return self._array.ndim

    def dim(self):
        return self._array.ndim

    ndimension = dim

    def numel(self):
        return self._array.size

    nelement = numel

    def element_size(self):
        return self._array.dtype.itemsize

    @property
    def itemsize(self):
        return self._array.dtype.itemsize

    @property
    def nbytes(self):
        return self._array.size * self._array.dtype.itemsize

    def stride(self, dim=None):
        itemsize = self._array.dtype.itemsize
        strides = tuple(s // itemsize for s in self._array.strides)
        if dim is None:
            return strides
        return strides[_wrap_dim(dim, self._array.ndim)]

    def storage_offset(self):
        base = _root(self._array)
        if base is None:
            return 0
        return (_address(self._array) - _address(base)) // self._array.dtype.itemsize

    def data_ptr(self):
        return _address(self._array)

    # --- storage (ember/storage.py) --------------------------------------------------------------------
    def untyped_storage(self):
        """The memory this tensor views (shared by its views), as PyTorch's UntypedStorage (sizes in bytes)."""
        from .storage import UntypedStorage
        if self._device.type != "cpu":
            raise RuntimeError(f"untyped_storage: ember exposes the storage of CPU tensors only (got {self._device})")
        return UntypedStorage.of(self._array)

    def set_(self, source=None, storage_offset=0, size=None, stride=None):
        """Make self view another tensor's memory (set_(tensor)), a storage (set_(storage, offset, size,
        stride)), or a new empty storage (set_()). Nothing is copied; self's history is cut as in PyTorch."""
        from .storage import UntypedStorage
        from .ops.sampling import _CPP_NAME
        array = self._array
        if source is None:
            new = self._backend().xp.empty((0,), dtype=array.dtype)
        elif isinstance(source, Tensor):
            if source._array.dtype != array.dtype:
                raise RuntimeError(f"Could not set tensor of type {_CPP_NAME.get(source.dtype.name, source.dtype.name)} "
                                   f"to a tensor of type {_CPP_NAME.get(self.dtype.name, self.dtype.name)}")
            if source._device is not self._device:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                                   f"{self._device} and {source._device}! (set_)")
            new = source._array
        elif isinstance(source, UntypedStorage):
            if self._device.type != "cpu":
                raise RuntimeError(f"set_: a CPU storage cannot back a {self._device} tensor")
            itemsize = array.dtype.itemsize
            if size is None:
                size = (source.nbytes() // itemsize,)
            size = tuple(int(n) for n in size)
            if stride is None:
                stride, step = [], 1
                for n in reversed(size):
                    stride.append(step)
                    step *= max(n, 1)
                stride = stride[::-1]
            new = source.view(array.dtype, size, tuple(int(st) for st in stride), int(storage_offset))
        else:
            raise TypeError(f"set_(): expected a Tensor or an UntypedStorage, got {type(source).__name__}")
        self._array = new
        self._base = None                         # no longer a view of its old base
        if self._extra is not None:
            self._extra.pop("view_fn", None)
            self._extra.pop("multi_output_view", None)
        self._bump_version()
        return self

    def resize_(self, *sizes, memory_format=None):
        """Give self the new shape, C-contiguous over its storage from its storage_offset: the data stays
        where it was in memory (so shrinking keeps the leading elements); growing past the storage moves
        self to new memory holding the old bytes, the rest uninitialised (zeros in ember). Unlike
        PyTorch, other tensors over the old storage do not follow a growing resize."""
        from .ops._shapes import parse_shape
        if self._requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        if len(sizes) == 1 and not isinstance(sizes[0], int):
            sizes = tuple(sizes[0])
        if any(int(n) < 0 for n in sizes):
            raise RuntimeError("numel: integer multiplication overflow")
        shape = parse_shape(sizes)
        array = self._array
        if shape == array.shape and memory_format is None:
            return self
        n = 1
        for d in shape:
            n *= d
        if self._device.type != "cpu":
            new = self._backend().xp.empty(shape, dtype=array.dtype)
            new.reshape(-1)[:min(n, array.size)] = array.reshape(-1)[:min(n, array.size)]
        else:
            from .storage import UntypedStorage
            storage = UntypedStorage.of(array)
            offset = self.storage_offset()
            itemsize = array.dtype.itemsize
            needed = (offset + n) * itemsize
            if needed > storage.nbytes():             # grow: new memory with the old bytes at the front
                grown = UntypedStorage(needed)
                kept = min(storage.nbytes(), needed)
                grown._bytes[:kept] = storage._bytes[:kept]
                storage = grown
            order = list(range(len(shape)))
            if memory_format is not None and memory_format.name in ("channels_last", "channels_last_3d"):
                order = [0, *range(2, len(shape)), 1]
            strides, step = [0] * len(shape), 1
            for d in reversed(order):
                strides[d] = step
                step *= max(shape[d], 1)
            new = storage.view(array.dtype, shape, tuple(strides), offset)
        self._array = new
        self._bump_version()
        return self

    def resize_as_(self, other, memory_format=None):
        return self.resize_(tuple(other.shape), memory_format=memory_format)

    def is_contiguous(self, memory_format=None):
        a = self._array
        if a.flags.c_contiguous:
            return True
        expected = 1                              # size-1 dims may have any stride, as in PyTorch
        for size, stride in zip(reversed(a.shape), reversed(self.stride())):
            if size != 1 and stride != expected:
                return False
            expected *= size
        return True

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return self.dtype.is_complex

    def is_signed(self):
        return self.dtype.is_signed

    def get_device(self):
        return -1 if self._device.type == "cpu" else (self._device.index or 0)

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return "ember." + _type_name(self)
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            names = {v: k for k, v in _TYPE_NAMES.items()}
            dtype = names[dtype.rsplit(".", 1)[-1]]
        return self.to(_dt.to_dtype(dtype))

    # --- autograd state ------------------------------------------------------------------------------
    @property
    def requires_grad(self):
        # A view reports its base's flag, as in PyTorch, even when made under no_grad or before the
        # base started requiring grad.
        return self._requires_grad or (self._base is not None and self._base._requires_grad)

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to "
                                   "use a computed variable in a subgraph that doesn't require "
                                   "differentiation use var_no_grad = var.detach().")
            return
        if value and self.dtype.category < _dt.FLOAT:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        if self.grad_fn is not None:
            return False
        # A view whose base got history through an in-place op on another view is no leaf either: its
        # history is regenerated from the base's when it is next used (Note [stale views]).
        base = self._base
        return base is None or base.grad_fn is None or self._extra is None or "view_fn" not in self._extra

    @property
    def grad(self):
        if self.grad_fn is not None and self._grad is None and not self.retains_grad:
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                          ".grad attribute won't be populated during autograd.backward(). If you indeed "
                          "want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() "
                          "on the non-leaf Tensor.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value._array.shape != self._array.shape:
                raise RuntimeError(f"assigned grad has data of a different size: grad {tuple(value.shape)} "
                                   f"vs tensor {tuple(self.shape)}")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: grad {value.dtype} vs "
                                   f"tensor {self.dtype}")
            if value._device is not self._device:
                raise RuntimeError(f"assigned grad has data located on a different device: grad "
                                   f"{value._device} vs tensor {self._device}")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def _version(self):
        return 0 if self._vc is None else self._vc.value

    def _bump_version(self):
        if self._vc is None:
            self._vc = VersionCounter(1)
        else:
            self._vc.value += 1

    @property
    def data(self):
        # Unlike detach(), .data has a version counter of its own: in-place changes through it are
        # invisible to autograd's checks, as in PyTorch.
        return _make(self._array, self._device)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be a Tensor, not {type(value).__name__}")
        self._array = value._array
        self._device = value._device

    @property
    def output_nr(self):
        return self._out_nr

    @property
    def is_view_(self):
        return self._base is not None

    def _is_view(self):
        return self._base is not None

    def detach(self):
        """A new tensor sharing data and version counter, cut from the graph."""
        if self._vc is None:
            self._vc = VersionCounter()
        return _make(self._array, self._device, False, None, 0, self._vc)   # not a view, as in PyTorch

    def detach_(self):
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        if self.grad_fn is not None:
            # A node that saved this tensor must refuse it now (PyTorch: "a saved tensor that has been
            # detached in-place"); moving the version on makes the saved-tensor check catch it.
            self._bump_version()
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self.retains_grad:
            return
        ref = weakref.ref(self)

        def store(grad):
            # A copy, as PyTorch clones: the incoming gradient may also become a leaf's .grad.
            t = ref()
            if t is not None:
                t._grad = ops.clone(grad) if t._grad is None else t._grad + grad
        self._add_node_hook(store)
        self._extra_dict()["retains_grad"] = True

    @property
    def retains_grad(self):
        return self._extra is not None and self._extra.get("retains_grad", False)

    def _extra_dict(self):
        if self._extra is None:
            self._extra = {}
        return self._extra

    def _add_node_hook(self, fn):
        node = self.grad_fn
        hooks = node._tensor_pre_hooks
        if hooks is None:
            hooks = node._tensor_pre_hooks = {}
            node._runs_pre_backward = True       # the engine's pre-backward step runs tensor hooks
        return add_hook(hooks.setdefault(self._out_nr, OrderedDict()), fn)

    def register_hook(self, hook):
        """hook(grad) runs when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self._add_node_hook(hook)
        return add_hook(self._extra_dict().setdefault("hooks", OrderedDict()), hook)

    def register_post_accumulate_grad_hook(self, hook):
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        return add_hook(self._extra_dict().setdefault("post_accumulate_hooks", OrderedDict()), hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the .grad of the leaves (see autograd.backward)."""
        _autograd_backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # --- conversion --------------------------------------------------------------------------------
    def item(self):
        if self._array.size != 1:
            raise RuntimeError(f"a Tensor with {self._array.size} elements cannot be converted to Scalar")
        self._check_materialized("item")
        return self._backend().to_numpy(self._array).reshape(()).item()

    def tolist(self):
        self._check_materialized("tolist")
        return self._backend().to_numpy(self._array).tolist()

    def numpy(self, *, force=False):
        if self._device.type != "cpu":
            if not force:
                raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() "
                                "to copy the tensor to host memory first.")
            return self._backend().to_numpy(self._array)
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if self.dtype is _dt.bfloat16 and not force:
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self._array

    def __array__(self, dtype=None, copy=None):
        array = self._backend().to_numpy(self._array) if self._device.type != "cpu" else self._array
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # NumPy ufuncs applied to a CPU tensor (np.exp(t)) give a tensor back, as they do with PyTorch's
        if self._device.type != "cpu" or array.dtype not in _dt._FROM_NUMPY:
            return array
        return _make(array if array.ndim or not return_scalar else np.asarray(array), CPU)

    def _backend(self):
        from .backends import backend_for
        return backend_for(self._device)

    def _check_materialized(self, what):
        if self._device.type == "meta":
            raise RuntimeError(f"Cannot copy out of meta tensor; no data! ({what})")

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._array.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __index__(self):
        if self.dtype.category != _dt.INT or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self._array.ndim == 0 and self._device.type != "meta":
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol):
        # Plain pickling (multiprocessing, copy) carries the values; checkpoints use ember.save.
        # NumPy pickles only a view's own elements, so no copy is needed here.
        if self.grad_fn is not None and self._requires_grad:
            raise RuntimeError("refusing to pickle a non-leaf tensor that requires grad: its autograd graph "
                               "cannot cross a process boundary. Pickle tensor.detach() to send the values.")
        return (_rebuild, (self._backend().to_numpy(self._array), str(self._device),
                           self._requires_grad, type(self)))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.")
        if id(self) in memo:
            return memo[id(self)]
        new = _make(self._array.copy(), self._device, self._requires_grad, cls=type(self))
        if self._grad is not None:
            new._grad = _make(self._grad._array.copy(), self._device)
        if self.__dict__:
            import copy
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = new
        return new

    def to(self, *args, **kwargs):
        device, dtype, copy = _parse_to(self, args, kwargs)
        return ops.creation._to(self, device, dtype, copy)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(to_device(device if device is not None else "cuda"))

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def bfloat16(self):
        _dt.check_bfloat16()
        return self.to(_dt.bfloat16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def short(self):
        return self.to(_dt.int16)

    def char(self):
        return self.to(_dt.int8)

    def byte(self):
        return self.to(_dt.uint8)

    def bool(self):
        return self.to(_dt.bool_)

    def cfloat(self):
        return self.to(_dt.complex64)

    def cdouble(self):
        return self.to(_dt.complex128)

    # --- Python operators (named methods are bound from the ops registry) ----------------------------
    # + - * / and reflected + - * are installed at the end of this file: Note [operator fast path].
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __rtruediv__(self, other):
        return ops.arithmetic._rdiv(self, other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __floordiv__(self, other):
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ops.floor_divide(ops._common._scalar_like(other, self), self)

    def __ifloordiv__(self, other):
        return self.floor_divide_(other)

    def __mod__(self, other):
        return ops.remainder(self, other)

    def __rmod__(self, other):
        return ops.remainder(ops._common._scalar_like(other, self), self)

    def __imod__(self, other):
        return self.remainder_(other)

    def __pow__(self, other):
        if other.__class__ is int and other != 1 and self._array.dtype.kind == "f":
            return _PowScalar.apply_binary(self, other)             # pow()'s own fast path, one call sooner
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.arithmetic._rpow(self, other)

    def __ipow__(self, other):
        return self.pow_(other)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __imatmul__(self, other):
        return self.copy_(ops.matmul(self, other))

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __invert__(self):
        return ops.bitwise_not(self)

    def __and__(self, other):
        return ops.bitwise_and(self, other)

    __rand__ = __and__

    def __iand__(self, other):
        return self.bitwise_and_(other)

    def __or__(self, other):
        return ops.bitwise_or(self, other)

    __ror__ = __or__

    def __ior__(self, other):
        return self.bitwise_or_(other)

    def __xor__(self, other):
        return ops.bitwise_xor(self, other)

    __rxor__ = __xor__

    def __ixor__(self, other):
        return self.bitwise_xor_(other)

    def __lshift__(self, other):
        return ops.bitwise_left_shift(self, other)

    def __rshift__(self, other):
        return ops.bitwise_right_shift(self, other)

    def __eq__(self, other):
        return ops.eq(self, other)

    def __ne__(self, other):
        return ops.ne(self, other)

    def __lt__(self, other):
        return ops.lt(self, other)

    def __le__(self, other):
        return ops.le(self, other)

    def __gt__(self, other):
        return ops.gt(self, other)

    def __ge__(self, other):
        return ops.ge(self, other)

    def __getitem__(self, index):
        return ops.indexing.getitem(self, index)

    def __setitem__(self, index, value):
        ops.indexing.setitem(self, index, value)

    @property
    def T(self):
        if self._array.ndim > 2:
            warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
                          "deprecated; use x.mT or x.permute(*reversed(range(x.ndim))).", UserWarning,
                          stacklevel=2)
        return ops.permute(self, tuple(range(self._array.ndim - 1, -1, -1)))

    @property
    def mT(self):
        if self._array.ndim == 0:
            warnings.warn("Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases.",
                          UserWarning, stacklevel=2)
            return self
        if self._array.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                               f"{self._array.ndim}-D tensor.")
        return ops.transpose(self, -2, -1)

    @property
    def H(self):
        return self.T.conj() if self.is_complex() else self.T

    @property
    def mH(self):
        if self._array.ndim == 0:
            warnings.warn("Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().", UserWarning,
                          stacklevel=2)
            return self.conj() if self.is_complex() else self
        return self.mT.conj() if self.is_complex() else self.mT

    @property
    def real(self):
        return ops.real(self)

    @property
    def imag(self):
        return ops.imag(self)

    # new_* factories follow the source tensor's dtype and device by default.
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return ops.creation.tensor(data, dtype=dtype or self.dtype, device=device or self._device,
                                   requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return ops.creation.zeros(*size, dtype=dtype or self.dtype, device=device or self._device,
                                  requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return ops.creation.ones(*size, dtype=dtype or self.dtype, device=device or self._device,
                                 requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return ops.creation.empty(*size, dtype=dtype or self.dtype, device=device or self._device,
                                  requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return ops.creation.full(size, fill_value, dtype=dtype or self.dtype, device=device or self._device,
                                 requires_grad=requires_grad)


_TYPE_NAMES = {_dt._BY_NAME[name]: type_name for name, type_name in _TENSOR_TYPE.items()}


# Note [operator fast path]: a float tensor with a Python float/int, or with a tensor of the very same
# dtype, needs no promotion (the cases promote() also short-cuts), so + - * / call the primitive's
# apply_binary (Note [apply fast path] in autograd/function.py) instead of the public function, whose
# keyword arguments and checks cost ~1 us a call, a fifth of a small op. _arithmetic_operator writes that
# guard once; the operators are installed at the end of this file, once their primitives are imported.
def _arithmetic_operator(name, op, public, reflected=False):
    """Tensor.<name>: `op.apply_binary(self, other)` when no promotion is needed, else `public(self, other)`.
    A reflected operator (`2.0 - t`) runs only for a non-tensor left operand: its fast path takes Python
    scalars alone."""
    same_dtype_class = None if reflected else Tensor    # None matches no class: no tensor operand

    def operator(self, other):
        dtype = self._array.dtype
        if dtype.kind == "f" and (other.__class__ is float or other.__class__ is int or
                                  other.__class__ is same_dtype_class and other._array.dtype is dtype):
            return op.apply_binary(self, other)
        return public(self, other)
    operator.__name__ = name
    operator.__qualname__ = f"Tensor.{name}"
    return operator


def _rebuild(array, device, requires_grad, cls):
    t = _make(array, to_device(device) if device != "cpu" else CPU, requires_grad, cls=cls)
    if device != "cpu":
        from .backends import backend_for
        t._array = backend_for(t._device).from_numpy(array)
    return t


def _root(array):
    base = array
    while isinstance(base.base, np.ndarray):
        base = base.base
    return base if base is not array else None


def _address(array):
    return array.__array_interface__["data"][0] if isinstance(array, np.ndarray) else 0


def _wrap_dim(dim, ndim):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _parse_to(tensor, args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg._device, arg.dtype
        elif isinstance(arg, _dt.dtype) or (arg in (float, int, bool, complex)):
            dtype = arg
        elif isinstance(arg, bool):
            copy = arg
        elif arg is not None:
            device = arg
    return (to_device(device) if device is not None else None,
            _dt.to_dtype(dtype) if dtype is not None else None, copy)


from . import ops  # noqa: E402  (ops import Tensor; operators above resolve `ops` at call time)
from .ops.arithmetic import (Add as _Add, Div as _Div, Mul as _Mul, PowScalar as _PowScalar,  # noqa: E402
                              RsubScalar as _RsubScalar, Sub as _Sub)
from .autograd import backward as _autograd_backward  # noqa: E402
from .autograd.graph import add_hook  # noqa: E402

# The arithmetic operators: see Note [operator fast path] above.
Tensor.__add__ = _arithmetic_operator("__add__", _Add, ops.add)
Tensor.__radd__ = _arithmetic_operator("__radd__", _Add, ops.add, reflected=True)
Tensor.__sub__ = _arithmetic_operator("__sub__", _Sub, ops.sub)
Tensor.__rsub__ = _arithmetic_operator("__rsub__", _RsubScalar, ops.rsub, reflected=True)
Tensor.__mul__ = _arithmetic_operator("__mul__", _Mul, ops.mul)
Tensor.__rmul__ = _arithmetic_operator("__rmul__", _Mul, ops.mul, reflected=True)
Tensor.__truediv__ = _arithmetic_operator("__truediv__", _Div, ops.div)
