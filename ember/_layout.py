"""Memory layouts, PyTorch's torch.layout: ember.strided (every ember tensor's Tensor.layout) and the
sparse_coo constant code compares layouts with. ember has no sparse tensors: no tensor has sparse_coo."""


class layout:
    """A tensor's memory layout. The two instances are module constants; there are no others."""
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
_BY_NAME = {"strided": strided, "sparse_coo": sparse_coo}


def _get_layout(name):
    """The layout a PyTorch pickle names (torch.serialization._get_layout('torch.strided'))."""
    found = _BY_NAME.get(name.rpartition(".")[2]) if isinstance(name, str) else None
    if found is None:
        raise RuntimeError(f"Unknown layout {name!r}: ember has the layouts {sorted(_BY_NAME)}")
    return found
