"""Tensor: its state (slots, construction, metadata, storage, autograd bookkeeping) and the attribute views
T/mT/H/mH/real/imag. Its Python protocols are in _tensor_protocols.py and its conversions in
_tensor_conversions.py; the end of this file copies both into the class. Math lives in ember.ops."""
import types
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from . import _dtype as _dt, _settings
from ._device import CPU, to_device
from ._layout import sparse_coo as _sparse_coo, sparse_csc as _sparse_csc, sparse_csr as _sparse_csr, \
    strided as _strided
from . import _memory_format as _mf
from ._memory_format import contiguous_format as _contiguous_format, preserve_format as _preserve_format
from ._size import Size, size_of as _size_of
from .sparse._coo_array import SparseCOOArray as _SparseCOO
from .sparse._csr import SparseCompressedArray as _SparseCompressed

_SPARSE_STORAGES = (_SparseCOO, _SparseCompressed)

__all__ = ["Tensor", "Size"]


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
    t._grad_fn = grad_fn
    t._grad = None
    t._vc = vc
    t._base = None
    t._out_nr = out_nr
    t._acc = None
    # Note [inference tensors]: what inference_mode makes is an inference tensor (Tensor.is_inference); the
    # flag lives in _extra, so outside inference mode this costs one attribute test per tensor.
    t._extra = {"inference": True} if _grad_mode.inference else None
    return t


def _check_storage(array, device):
    """Note [array storage]: a Tensor's storage is always an array of its device's backend, never a
    NumPy scalar (a 0-d result is a 0-d array). A NumPy scalar is immutable, so in-place updates of a
    tensor holding one would silently rebind a local instead of changing the tensor."""
    from ._backends import backend_for
    expected = backend_for(device).xp.ndarray
    if array.__class__ in _SPARSE_STORAGES:          # a sparse storage holds arrays of its device's backend
        array = array.values
    if not isinstance(array, expected):
        import sys
        caller = sys._getframe(2).f_code
        raise AssertionError(f"ember invariant: a {device} tensor must hold a {expected.__module__}."
                             f"{expected.__name__}, got {type(array).__module__}.{type(array).__name__} "
                             f"(made in {caller.co_filename}:{caller.co_name})")


def _compressed_layout(array):
    return _sparse_csr if array.kind == "csr" else _sparse_csc


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


def _torch_strides(shape, strides):
    """PyTorch's strides where NumPy's are 0 for a dim of size 1 (made by indexing with None, PyTorch's unsqueeze):
    size * stride of the dim after it, 1 for the last. No element's address changes (the dim is only ever at index
    0). A broadcast dim (size > 1, stride 0) keeps its 0."""
    out = list(strides)
    following = 1                                    # size * stride of the dim after (1 past the last)
    for d in range(len(shape) - 1, -1, -1):
        if out[d] == 0 and shape[d] == 1:
            out[d] = following
        following = shape[d] * out[d]
    return tuple(out)


class Tensor:
    """An n-dimensional array on a device, plus autograd bookkeeping. Math lives in ember.ops."""
    __slots__ = ("_array", "_device", "_requires_grad", "_grad", "_grad_fn", "_vc", "_base", "_out_nr",
                 "_acc", "_extra", "__dict__", "__weakref__")

    def __new__(cls, *args, **kwargs):
        # torch.Tensor(data), Tensor(2, 3), Tensor(tensor) (an alias of any dtype): the legacy constructor in
        # the default dtype (ember/_legacy_tensors.py). A subclass gets an instance of itself, as in PyTorch.
        t = _legacy.default_new(args, kwargs)
        if cls is not Tensor:
            new = _new(cls)
            for slot in _STATE_SLOTS:
                setattr(new, slot, getattr(t, slot))
            t = new
        return t

    # --- metadata ---------------------------------------------------------------------------------
    @property
    def shape(self):
        return _size_of(self._array.shape)

    def size(self, dim=None):
        if dim is None:
            return _size_of(self._array.shape)
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
        cls = self._array.__class__
        if cls is _SparseCOO:
            return _sparse_coo
        return _strided if cls is not _SparseCompressed else _compressed_layout(self._array)

    @property
    def is_sparse(self):
        """A sparse COO tensor (Note [sparse storage] in ember/sparse/_coo_array.py)."""
        return self._array.__class__ is _SparseCOO

    @property
    def is_sparse_csr(self):
        """A sparse CSR tensor (Note [compressed storage] in ember/sparse/_csr.py)."""
        return self._array.__class__ is _SparseCompressed and self._array.kind == "csr"

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
        if self._array.__class__ is _SparseCOO:
            raise RuntimeError("nbytes is not defined for sparse tensors.  If you want the size of the constituent "
                               "tensors, add the nbytes of the indices and values.  If you want the size of the  "
                               "equivalent dense tensor, multiply numel() by element_size()")
        return self._array.size * self._array.dtype.itemsize

    def stride(self, dim=None):
        array = self._array
        itemsize = array.dtype.itemsize
        strides = tuple(s // itemsize for s in array.strides)
        if 0 in strides and 1 in array.shape and array.size:
            strides = _torch_strides(array.shape, strides)
        if dim is None:
            return strides
        return strides[_wrap_dim(dim, array.ndim)]

    def storage_offset(self):
        base = _root(self._array)
        if base is None:
            return 0
        return (_address(self._array) - _address(base)) // self._array.dtype.itemsize

    def data_ptr(self):
        if self._array.__class__ in _SPARSE_STORAGES:
            raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")
        return _address(self._array)

    # --- storage (ember/storage.py) --------------------------------------------------------------------
    def untyped_storage(self):
        """The memory this tensor views (shared by its views), as PyTorch's UntypedStorage (sizes in bytes)."""
        from .storage import UntypedStorage
        if self._device.type != "cpu":
            raise RuntimeError(f"untyped_storage: ember exposes the storage of CPU tensors only (got {self._device})")
        if self._array.__class__ is _SparseCOO:
            raise NotImplementedError("Cannot access storage of SparseTensorImpl")
        if self._array.__class__ is _SparseCompressed:
            raise NotImplementedError("Cannot access storage of SparseCsrTensorImpl")
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
            self._extra.pop("view_version", None)
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
        if memory_format is not None:
            _mf.check_type(memory_format, "resize_")
            if memory_format is _preserve_format:
                raise RuntimeError("Unsupported memory formatPreserve")
            _mf.check_rank(memory_format, len(shape))
        array = self._array
        if shape == array.shape and memory_format is None:
            return self
        n = 1
        for d in shape:
            n *= d
        if self._device.type != "cpu":            # a device array has no shared storage: copy in memory order
            from .ops.creation import layout_order
            xp, kept = self._backend().xp, min(n, array.size)
            new = _mf.empty(shape, array.dtype, xp, _contiguous_format if memory_format is None else memory_format)
            if self._device.type == "cuda":
                new[...] = 0
                flat = new.transpose(layout_order(shape, new.strides)).reshape(-1)
                flat[:kept] = array.transpose(layout_order(array.shape, array.strides)).reshape(-1)[:kept]
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
            fmt = _contiguous_format if memory_format is None else memory_format
            new = storage.view(array.dtype, shape, _mf.format_strides(shape, fmt), offset)
        self._array = new
        self._bump_version()
        return self

    def resize_as_(self, other, memory_format=None):
        return self.resize_(tuple(other.shape), memory_format=memory_format)

    def is_contiguous(self, *, memory_format=_contiguous_format):
        a = self._array
        if memory_format is not _contiguous_format:
            _mf.check_type(memory_format, "is_contiguous")
            # preserve_format reads as contiguous_format; a sparse tensor answers as for contiguous_format
            if memory_format is not _preserve_format and a.__class__ not in _SPARSE_STORAGES:
                return _mf.is_contiguous_as(a.shape, self.stride(), memory_format)
        if a.flags.c_contiguous:
            return True
        if a.__class__ is _SparseCOO:
            return False
        if a.__class__ is _SparseCompressed:
            raise RuntimeError("Sparse CSR tensors do not have is_contiguous")
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

    def is_inference(self):
        """Made under inference_mode (a view: its base was). Note [inference tensors]: ember keeps the flag
        but not PyTorch's restrictions on such tensors (in place outside the mode, saved for backward)."""
        owner = self._base if self._base is not None else self
        return owner._extra is not None and "inference" in owner._extra

    # --- autograd state ------------------------------------------------------------------------------
    @property
    def requires_grad(self):
        # A view requires grad when it does itself (requires_grad_() or a grad_fn) or its base does, as in
        # PyTorch: made under no_grad or before the base started requiring grad (Note [views] in ops/views.py).
        return self._requires_grad or (self._base is not None and self._base._requires_grad)

    @property
    def grad_fn(self):
        if self._base is None:
            return self._grad_fn
        return _view_grad_fn(self)        # regenerated when the base changed in place (Note [stale views])

    @grad_fn.setter
    def grad_fn(self, node):
        self._grad_fn = node

    @requires_grad.setter
    def requires_grad(self, value):
        if self._grad_fn is not None:             # its own node: PyTorch's C++ is_leaf() regenerates nothing
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
        # A view whose base got history through an in-place op is no leaf either: its grad_fn is regenerated
        # from the base's (Note [stale views]).
        return (self._grad_fn if self._base is None else _view_grad_fn(self)) is None

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
        out = _make(self._array, self._device)
        if out._extra is not None or self._extra is not None or self._base is not None:
            _alias_inference(out, self)
        return out

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be a Tensor, not {type(value).__name__}")
        if self._acc is not None and (value._array.dtype != self._array.dtype or value._device is not self._device):
            self._acc = None                      # a new one for new graphs; old graphs cast to the old dtype
        if self._base is not None:                # a view over other memory: see _rebase_view in ops/inplace.py
            from .autograd.graph import next_sequence_nr
            self._extra_dict()["data_set_at"] = next_sequence_nr()
        self._array = value._array
        self._device = value._device

    @property
    def output_nr(self):
        return self._out_nr

    def _is_view(self):
        return self._base is not None

    def detach(self):
        """A new tensor sharing data and version counter, cut from the graph."""
        if self._vc is None:
            self._vc = VersionCounter()
        out = _make(self._array, self._device, False, None, 0, self._vc)   # not a view, as in PyTorch
        if out._extra is not None or self._extra is not None or self._base is not None:
            _alias_inference(out, self)
        return out

    def detach_(self):
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        fn = self._grad_fn
        if fn is not None:
            # A node that saved this tensor as an input must refuse it now (PyTorch: "a saved tensor that has
            # been detached in-place"): the saved-entry check looks for this mark (autograd/graph.py
            # check_detached). The version does not move, as in PyTorch: saved outputs stay valid.
            self._extra_dict()["detached_from"] = (weakref.ref(fn), self._out_nr)    # not keeping the graph alive
        self._grad_fn = None
        self._out_nr = 0
        self._requires_grad = False
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            if not self.requires_grad:
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
        node = self.grad_fn                      # kept apart from the tensor hooks: it runs after them, and
        if node._retains_grad is None:           # moves with the tensor to a new grad_fn (graph.move_retains_grad)
            node._retains_grad = {}
            node._runs_pre_backward = True
        node._retains_grad[self._out_nr] = store
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
        if not self.requires_grad:                # a view's: its base's too (Note [views] in ops/views.py)
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self._add_node_hook(hook)
        return add_hook(self._extra_dict().setdefault("hooks", OrderedDict()), hook)

    def register_post_accumulate_grad_hook(self, hook):
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        return add_hook(self._extra_dict().setdefault("post_accumulate_hooks", OrderedDict()), hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the .grad of the leaves (see autograd.backward)."""
        _autograd_backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # --- the backend behind _array --------------------------------------------------------------
    def _backend(self):
        from ._backends import backend_for
        return backend_for(self._device)

    def _check_materialized(self, what):
        if self._device.type == "meta":
            raise RuntimeError(f"Cannot copy out of meta tensor; no data! ({what})")

    # --- transposes and complex parts (views) -------------------------------------------------------
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

    @real.setter
    def real(self, value):                       # t.real = v writes through the view, as in PyTorch
        ops.real(self).copy_(value)

    @property
    def imag(self):
        return ops.imag(self)

    @imag.setter
    def imag(self, value):
        ops.imag(self).copy_(value)

    # --- in place through views ----------------------------------------------------------------------
    def fill_diagonal_(self, fill_value, wrap=False):
        """Fill the main diagonal (every index equal) in place; with wrap=True a tall matrix's diagonal starts
        again every width + 1 rows, as NumPy's fill_diagonal. Done by fill_ on diagonal views of self, so
        autograd records it as PyTorch does (CopySlices; the diagonal gets no gradient)."""
        shape = self._array.shape
        if len(shape) < 2:
            raise RuntimeError("dimensions must larger than 1")
        if len(shape) > 2 and any(n != shape[0] for n in shape):
            raise RuntimeError("all dimensions of input must be of equal length")
        if isinstance(fill_value, Tensor):            # a Scalar in PyTorch: its value, never its gradient
            fill_value = fill_value.item()
        diagonal = self
        while diagonal.ndim > 1:                  # x[i, i, ..., i]: each step ties one more dim to the end
            diagonal = diagonal.diagonal(0, 0, -1)
        diagonal.fill_(fill_value)
        height, width = shape[0], shape[-1]
        if wrap and len(shape) == 2 and height > width + 1 and width:
            # Block b is rows b*(width+1) ... b*(width+1)+width-1, a width x width diagonal, and the row after
            # it is skipped. Blocks 1..k, each with its skipped row, are one (k, width+1, width) view; what
            # rows are left (fewer than width+1) hold the last block, whole or cut off.
            period = width + 1
            k = height // period - 1
            if k > 0:
                blocks = self[period:(k + 1) * period].view(k, period, width)
                blocks[:, :width].diagonal(0, 1, 2).fill_(fill_value)
            if (k + 1) * period < height:
                self[(k + 1) * period:].diagonal().fill_(fill_value)
        return self


def _alias_inference(out, src):
    """detach() and .data alias src: an inference tensor exactly when src is one, in inference mode or not."""
    out._extra = {"inference": True} if src.is_inference() else None


_STATE_SLOTS = ("_array", "_device", "_requires_grad", "_grad", "_grad_fn", "_vc", "_base", "_out_nr", "_acc",
                "_extra")


# Tensor.__reduce_ex__ (_tensor_protocols.py) pickles a reference to ember._tensor._rebuild: it stays here,
# so that tensors pickled before keep loading.
def _rebuild(array, device, requires_grad, cls):
    t = _make(array, to_device(device) if device != "cpu" else CPU, requires_grad, cls=cls)
    if device != "cpu":
        from ._backends import backend_for
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


from .autograd.grad_mode import _State as _grad_mode  # noqa: E402  (_make reads it: Note [inference tensors])
from . import ops  # noqa: E402  (ops import Tensor; methods above resolve `ops` at call time)
from .autograd import backward as _autograd_backward  # noqa: E402
from .autograd.graph import add_hook, refresh_view as _view_grad_fn  # noqa: E402
from ._tensor_protocols import TensorProtocols  # noqa: E402  (these two import ops, so they come last)
from ._tensor_conversions import TensorConversions  # noqa: E402
from . import _legacy_tensors as _legacy  # noqa: E402  (Tensor.__new__'s legacy constructor)

_CLASS_BOOKKEEPING = frozenset(vars(type("Empty", (), {})))   # __module__, __doc__, __dict__, __weakref__


def _copy_into_tensor(methods):
    """Put the methods, properties and constants written in the body of `methods` (a class in another
    module) into Tensor's own __dict__, named Tensor.<name> as if written in its body. Not a mixin base: a
    base class's module would have to exist before Tensor, so it could not import ember.ops (which imports
    Tensor) for its methods to call."""
    for name, value in vars(methods).items():
        if name in _CLASS_BOOKKEEPING:
            continue
        assert name not in Tensor.__dict__, f"Tensor.{name} is defined twice"
        for fn in (value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,):
            if isinstance(fn, types.FunctionType):
                fn.__qualname__ = f"Tensor.{fn.__name__}"
        setattr(Tensor, name, value)


_copy_into_tensor(TensorProtocols)
_copy_into_tensor(TensorConversions)
# Tensor.as_strided_, and ember.as_strided_ as PyTorch has it too: as_strided in place, made as t_ is
ops._registry.PUBLIC["as_strided_"] = ops.views._restride_inplace("as_strided_", ops.slicing.as_strided)
