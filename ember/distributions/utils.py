"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits, lazy_property,
the triangular-matrix packing helpers, and the standard-normal draw every reparameterised sampler uses."""
import numbers

import ember

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060  # the Euler-Mascheroni constant


def broadcast_all(*values):
    """Broadcast tensors and numbers together; numbers become tensors of the first tensor's dtype and
    device (the default dtype when every value is a number)."""
    if not all(isinstance(v, (ember.Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, ember.Tensor or objects "
                         "implementing __torch_function__.")
    if all(isinstance(v, ember.Tensor) for v in values):
        return ember.broadcast_tensors(*values)
    like = next((v for v in values if isinstance(v, ember.Tensor)), None)
    options = {"dtype": like.dtype, "device": like.device} if like is not None else \
        {"dtype": ember.get_default_dtype()}
    return ember.broadcast_tensors(*[v if isinstance(v, ember.Tensor) else ember.tensor(v, **options)
                                     for v in values])


def _standard_normal(shape, dtype, device):
    """N(0, 1) draws of `shape` as PyTorch's distributions take them: empty(shape).normal_()."""
    return ember.empty(shape, dtype=dtype, device=device).normal_()


def _sum_rightmost(value, dim):
    """Sum out the `dim` rightmost dimensions of value."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """Probabilities from logits: a sigmoid of log-odds (binary) or a softmax over the last dimension."""
    if is_binary:
        return ember.sigmoid(logits)
    return ember.softmax(logits, dim=-1)


def clamp_probs(probs):
    """Probabilities clamped into [eps, 1 - eps] with eps the dtype's machine epsilon."""
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """Logits from (clamped) probabilities: log-odds (binary) or log-probabilities."""
    clamped = clamp_probs(probs)
    if is_binary:
        return ember.log(clamped) - ember.log1p(-clamped)
    return ember.log(clamped)


class lazy_property:
    """A method computed once per instance (with grad enabled) and then stored as an instance attribute."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    """What a lazy_property looks like on the class: a property for documentation tools, and still a
    lazy_property for Distribution's argument validation (which skips parameters not yet computed)."""

    def __init__(self, wrapped):
        property.__init__(self, wrapped)
        lazy_property.__init__(self, wrapped)


def _tril_mask(n, diag, device):
    rows = ember.arange(n, device=device)
    return rows < rows.view(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat, diag=0):
    """The lower-triangular entries (below diagonal `diag`) of (a batch of) D x D matrices, row by row."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag, mat.device)]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of tril_matrix_to_vec: (a batch of) vectors into lower-triangular D x D matrices."""
    # D solves D**2 + (1 + 2 diag) D - |diag| (diag + 1) - 2 len = 0 (the positive root)
    linear = 1 + 2 * diag
    n = (-linear + (linear ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(n) - n > ember.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as the "
                         "lower triangular part of a square D x D matrix.")
    n = round(n)
    mat = vec.new_zeros(tuple(vec.shape[:-1]) + (n, n))
    mat[..., _tril_mask(n, diag, vec.device)] = vec
    return mat


def _is_number(value):
    return isinstance(value, numbers.Number)


def _expanded_param(self, cls, batch_shape, _instance, params):
    """_expanded for a distribution given by probs or by logits: the copy's _param (what _new and param_shape
    read) is whichever of the two self was made with."""
    new = _expanded(self, cls, batch_shape, _instance, params)
    new._param = new.logits if "logits" in self.__dict__ else new.probs
    return new


def _new_like_param(self, *args, **kwargs):
    """Distribution._new of a distribution given by probs or by logits: a tensor like that parameter."""
    return self._param.new(*args, **kwargs)


param_shape_of_param = property(lambda self: self._param.size(),
                                doc="The shape of the parameter (probs or logits) the distribution was made with.")


def _expanded(self, cls, batch_shape, _instance, params, event_shape=None):
    """The copy `expand` returns: the tensor attributes named in `params` (name -> how many trailing
    parameter dimensions to keep) that self holds, expanded to batch_shape, and the base initialised without
    validation (PyTorch validates only at construction)."""
    new = self._get_checked_instance(cls, _instance)
    batch_shape = ember.Size(batch_shape)
    for name, trailing in params.items():
        if name in self.__dict__:
            value = self.__dict__[name]
            setattr(new, name, value.expand(batch_shape + value.shape[value.dim() - trailing:]))
    from .distribution import Distribution
    Distribution.__init__(new, batch_shape, self.event_shape if event_shape is None else event_shape,
                          validate_args=False)
    new._validate_args = self._validate_args
    return new
