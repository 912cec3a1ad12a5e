"""Tensor's Python protocols: the operators (+ - * / through one guarded fast path, see
Note [operator fast path]), comparisons, indexing (t[i], t[i] = v), len/iter/bool and the number conversions
(float(t), int(t), operator.index), NumPy's array protocol, repr/format, hashing, pickling and deepcopy. They
are written in the body of TensorProtocols, which is not a base class: _tensor.py copies its entries into
Tensor's own __dict__ (Tensor stays one class, each method found as fast as one written in its body). This
module imports ember.ops, so it is imported at the end of _tensor.py, once Tensor exists."""
import numbers

import numpy as np

from . import _dtype as _dt, ops
from ._device import CPU
from ._layout import c10_name, strided
from ._tensor import Tensor, _make, _rebuild
from .ops.arithmetic import (Add as _Add, Div as _Div, Mul as _Mul, PowScalar as _PowScalar,
                              RsubScalar as _RsubScalar, Sub as _Sub)


# Note [operator fast path]: a float tensor with a Python float/int, or with a tensor of the very same
# dtype, needs no promotion (the cases promote() also short-cuts), so + - * / call the primitive's
# apply_binary (Note [apply fast path] in autograd/function.py) instead of the public function, whose
# keyword arguments and checks cost ~1 us a call, a fifth of a small op. _arithmetic_operator writes that
# guard once; TensorProtocols below makes + - * / and the reflected + - * with it.
def _foreign(other):
    """An operand PyTorch's operators refuse: not a tensor, a number or an array (a list, a tuple, None, a str).
    The operator returns NotImplemented, so Python raises its own TypeError ("unsupported operand type(s) for +:
    'Tensor' and 'list'"), `t * [2.]` tries the list's repetition, and == and != fall back to identity."""
    return not isinstance(other, (Tensor, numbers.Number)) and not hasattr(other, "__array__")


_PLAIN = frozenset((Tensor, float, int, bool, complex))   # operands that need no _foreign check


def _arithmetic_operator(name, op, public, reflected=False, half_opmath=False):
    """Tensor.<name>: `op.apply_binary(self, other)` when no promotion is needed, else `public(self, other)`.
    A reflected operator (`2.0 - t`) runs only for a non-tensor left operand: its fast path takes Python
    scalars alone. With half_opmath (* and /) the fast path is float32/float64's only: float16 takes public's
    float32 arithmetic with a scalar (Note [half opmath] in ops/arithmetic.py)."""
    same_dtype_class = None if reflected else Tensor    # None matches no class: no tensor operand
    fast = "fd" if half_opmath else "efdg"              # the NumPy type codes of the dtypes taking the fast path

    def operator(self, other):
        dtype = self._array.dtype
        if dtype.char in fast and (other.__class__ is float or other.__class__ is int or
                                   other.__class__ is same_dtype_class and other._array.dtype is dtype):
            return op.apply_binary(self, other)
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return public(self, other)
    operator.__name__ = name
    operator.__qualname__ = f"Tensor.{name}"
    return operator


class TensorProtocols:
    """The Python protocols of Tensor; _tensor.py copies them into Tensor (see the module docstring)."""
    __hash__ = object.__hash__                   # identity: tensors key optimizer state
    __array_priority__ = 1000                    # NumPy defers to our reflected operators

    # --- Python operators (named methods are bound from the ops registry) ----------------------------
    # + - * / and reflected + - *: Note [operator fast path].
    __add__ = _arithmetic_operator("__add__", _Add, ops.add)
    __radd__ = _arithmetic_operator("__radd__", _Add, ops.add, reflected=True)
    __sub__ = _arithmetic_operator("__sub__", _Sub, ops.sub)
    __rsub__ = _arithmetic_operator("__rsub__", _RsubScalar, ops.rsub, reflected=True)
    __mul__ = _arithmetic_operator("__mul__", _Mul, ops.mul, half_opmath=True)
    __rmul__ = _arithmetic_operator("__rmul__", _Mul, ops.mul, reflected=True, half_opmath=True)
    __truediv__ = _arithmetic_operator("__truediv__", _Div, ops.div, half_opmath=True)

    def __iadd__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.add_(other)

    def __isub__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.sub_(other)

    def __imul__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.mul_(other)

    def __rtruediv__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.arithmetic._rdiv(self, other)

    def __itruediv__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.div_(other)

    def __floordiv__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.floor_divide(ops._common._scalar_like(other, self), self)

    def __ifloordiv__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.floor_divide_(other)

    def __mod__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.remainder(self, other)

    def __rmod__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.remainder(ops._common._scalar_like(other, self), self)

    def __imod__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.remainder_(other)

    def __pow__(self, other):
        if other.__class__ is int and other != 1 and self._array.dtype.char in "fd":
            return _PowScalar.apply_binary(self, other)             # pow()'s own fast path, one call sooner
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.pow(self, other)

    def __rpow__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.arithmetic._rpow(self, other)

    def __ipow__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.pow_(other)

    def __matmul__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.matmul(other, self)

    def __imatmul__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
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
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.bitwise_and(self, other)

    __rand__ = __and__

    def __iand__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.bitwise_and_(other)

    def __or__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.bitwise_or(self, other)

    __ror__ = __or__

    def __ior__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.bitwise_or_(other)

    def __xor__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.bitwise_xor(self, other)

    __rxor__ = __xor__

    def __ixor__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return self.bitwise_xor_(other)

    def __lshift__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.bitwise_left_shift(self, other)

    def __rshift__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.bitwise_right_shift(self, other)

    # --- comparisons and indexing ------------------------------------------------------------------
    def __eq__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):   # PyTorch: not comparable, so Python's identity
            return NotImplemented                              # answer (t == [1, 2] is False)
        return ops.eq(self, other)

    def __ne__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.ne(self, other)

    def __lt__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.lt(self, other)

    def __le__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.le(self, other)

    def __gt__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.gt(self, other)

    def __ge__(self, other):
        if other.__class__ not in _PLAIN and _foreign(other):
            return NotImplemented
        return ops.ge(self, other)

    def __getitem__(self, index):
        return ops.indexing.getitem(self, index)

    def __setitem__(self, index, value):
        ops.indexing.setitem(self, index, value)

    # --- container and number protocols -----------------------------------------------------------
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
        value = self._python_scalar()
        if value.__class__ is complex:
            if value.imag:
                raise RuntimeError("value cannot be converted to type double without overflow")
            return value.real
        return float(value)

    def __int__(self):
        return int(self._python_scalar())

    def __complex__(self):
        return complex(self._python_scalar())

    def _python_scalar(self):
        if self._array.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __index__(self):
        if self.dtype.category > _dt.INT or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    # --- NumPy's array protocol -------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        array = self._backend().to_numpy(self._array) if self._device.type != "cpu" else self._array
        if array.__class__ is not np.ndarray and self.layout is not strided:
            raise TypeError(f"can't convert {c10_name(self.layout)} layout tensor to numpy. Use Tensor.to_dense() "
                            "first.")
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # NumPy ufuncs applied to a CPU tensor (np.exp(t)) give a tensor back, as they do with PyTorch's
        if self._device.type != "cpu" or array.dtype not in _dt._FROM_NUMPY:
            return array
        return _make(array if array.ndim or not return_scalar else np.asarray(array), CPU)

    # --- text ---------------------------------------------------------------------------------------
    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self._array.ndim == 0 and self._device.type != "meta":
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    # --- copying and pickling ---------------------------------------------------------------------
    def __reduce_ex__(self, protocol):
        # Plain pickling (multiprocessing, copy) carries the values; checkpoints use ember.save.
        # NumPy pickles only a view's own elements, so no copy is needed here.
        if self.grad_fn is not None and self._requires_grad:
            raise RuntimeError("refusing to pickle a non-leaf tensor that requires grad: its autograd graph "
                               "cannot cross a process boundary. Pickle tensor.detach() to send the values.")
        if self.is_sparse or self.layout is not strided:     # COO, CSR/CSC: host arrays and the device's name
            host = self._backend().to_numpy
            a, device = self._array, str(self._device)
            if self.is_sparse:
                from .ops.sparse_ops import _rebuild_sparse
                return (_rebuild_sparse, (host(a.indices), host(a.values), a.shape, a.coalesced, self._requires_grad,
                                          type(self)) + ((device,) if device != "cpu" else ()))
            from .ops.sparse_csr_ops import _rebuild_compressed
            return (_rebuild_compressed, (self.layout, host(a.compressed), host(a.plain), host(a.values), a.shape,
                                          self._requires_grad, type(self)) + ((device,) if device != "cpu" else ()))
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
