"""Size: a tensor's shape, PyTorch's torch.Size (a tuple of ints that stays a Size under +, * and slicing)."""
import operator

_tuple_new = tuple.__new__


class Size(tuple):
    """A tensor's shape: a tuple of ints with PyTorch's repr; `+ tuple`, `* int` and slices give a Size."""
    __slots__ = ()

    def __new__(cls, sizes=()):
        self = _tuple_new(cls, sizes)
        for d in self:
            if d.__class__ is not int:             # bools, NumPy ints, integer 0-d tensors: by __index__
                return _tuple_new(cls, [_index(item, i) for i, item in enumerate(self)])
        return self

    def __repr__(self):
        return f"ember.Size({list(self)})"

    def numel(self):
        """The number of elements a tensor of this size holds (1 for Size([]))."""
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, key):
        out = tuple.__getitem__(self, key)
        return _tuple_new(Size, out) if isinstance(key, slice) else out

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented                  # a list: TypeError, as for a tuple (and PyTorch)
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, times):
        return _tuple_new(Size, tuple.__mul__(self, times))

    __rmul__ = __mul__

    def __reduce__(self):
        return (Size, (tuple(self),))


def _index(item, position):
    try:
        if getattr(item, "ndim", 0) == 1 and len(item) == 1:      # PyTorch takes a one-element tensor too
            item = item[0]
        return operator.index(item)
    except TypeError:
        raise TypeError(f"torch.Size() takes an iterable of 'int' (item {position} is "
                        f"'{type(item).__name__}')") from None


def size_of(shape):
    """A Size from a backend array's shape (Python ints already): no checks, for Tensor.shape."""
    return _tuple_new(Size, shape)
