"""Nested containers of tensors (PyTorch's torch.utils._pytree, the part ember needs): the tensors of a value
built from tuples, lists (named tuples too) and dicts, in order."""
from .._tensor import Tensor

__all__ = ["tensor_leaves"]


def tensor_leaves(value):
    """The tensors in a (nested) tuple, list or dict, in order; a tensor is its own one leaf."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensor_leaves(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensor_leaves(v)]
    return []
