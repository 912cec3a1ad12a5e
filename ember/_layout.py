"""Memory layouts, PyTorch's torch.layout: ember.strided (dense tensors), ember.sparse_coo (ember/sparse/_coo_array.py)
and ember.sparse_csr / ember.sparse_csc (ember/sparse/_csr.py)."""


class layout:
    """A tensor's memory layout. The instances are module constants; there are no others."""
    __slots__ = ("_name",)

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'ember.layout' instances")

    def __repr__(self):
        return f"ember.{self._name}"

    def __reduce__(self):
        # pickled by name (ember.strided), so unpickling gives the constant back and `is` comparisons hold
        return self._name


def _constant(name):
    value = object.__new__(layout)
    value._name = name
    return value


strided = _constant("strided")
sparse_coo = _constant("sparse_coo")
sparse_csr = _constant("sparse_csr")
sparse_csc = _constant("sparse_csc")
_BY_NAME = {"strided": strided, "sparse_coo": sparse_coo, "sparse_csr": sparse_csr, "sparse_csc": sparse_csc}


_C10_NAMES = {"strided": "Strided", "sparse_coo": "Sparse", "sparse_csr": "SparseCsr", "sparse_csc": "SparseCsc"}


def c10_name(layout):
    """PyTorch's name of a layout in its messages ("can't convert SparseCsr layout tensor ...")."""
    return _C10_NAMES[layout._name]


def _get_layout(name):
    """The layout a PyTorch pickle names (torch.serialization._get_layout('torch.strided'))."""
    found = _BY_NAME.get(name.rpartition(".")[2]) if isinstance(name, str) else None
    if found is None:
        raise RuntimeError(f"Unknown layout {name!r}: ember has the layouts {sorted(_BY_NAME)}")
    return found
