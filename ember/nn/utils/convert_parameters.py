"""parameters_to_vector / vector_to_parameters."""
from ..._tensor import Tensor
from ...ops import joining

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_device(param, old):
    if old is not None and param.device != old:
        raise TypeError(f"Found two parameters on different devices, this is currently not supported. ({old} and "
                        f"{param.device})")
    return param.device


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    device = None
    flat = []
    for p in parameters:
        device = _check_device(p, device)
        flat.append(p.reshape(-1))
    return joining.cat(flat)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of vec into the parameters' data (rebinding .data, as PyTorch does)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    offset = 0
    for p in parameters:
        device = _check_device(p, device)
        n = p.numel()
        p.data = vec[offset:offset + n].view_as(p).data
        offset += n
