"""Part of ember.nn.functional: the loss functions (re-exported by basic.py)."""
import builtins
import math
import warnings

from ... import _dtype as _dt
from ..._tensor import Tensor, _make
from ...autograd.grad_mode import _State
from ...ops import comparison, creation, softmax_family
from ...ops._shapes import broadcast_shapes
from ...ops.smooth_activations import LogSigmoid
from ...ops.loss import CrossEntropy, MultiMarginLoss, NllLoss, pointwise_loss
from ...ops.special_functions import xlogy
from ...ops.views import broadcast_tensors
from .normalization import pairwise_distance
from ...amp._dispatch import AUTOCAST, autocast_run

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss",
           "gaussian_nll_loss", "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]


def _reduction(size_average, reduce, reduction):
    """PyTorch's legacy size_average/reduce flags folded into `reduction`, which is then checked."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                      "instead.", UserWarning, stacklevel=3)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _apply_reduction(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _warn_size(name, input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      f"same size. ({name}: input {tuple(input.shape)}, target {tuple(target.shape)})", stacklevel=3)


def _no_grad_argument(function, argument, tensor):
    """PyTorch's fused kernels without a derivative for an argument (a loss's weight, soft_margin_loss's target)
    refuse it requiring grad while grad mode is on, rather than leave it without a gradient."""
    if tensor is not None and tensor._requires_grad and _State.grad_enabled:
        raise RuntimeError(f"The function '{function}' is not differentiable with respect to argument '{argument}'. "
                           "This input cannot have requires_grad True.")


def _promote(input, target):
    if isinstance(target, Tensor) and target.dtype is not input.dtype:
        dtype = _dt.promote_types(input.dtype, target.dtype)
        return input.to(dtype), target.to(dtype)
    return input, target


def _promote_to_input(kernel, input, target):
    """The promotion of a loss kernel that writes into a tensor of input's dtype (huber_loss, soft_margin_loss):
    computed in the operands' result type (a 0-d operand is weak, as in PyTorch's promotion), which must
    cast to input's dtype. Returns (input, target, the result's dtype)."""
    dtype = _dt.result_type(input, target)
    if kernel == "soft_margin" and dtype.category < _dt.FLOAT:
        dtype = _dt.get_default_dtype()            # its formula computes in floating point
    if dtype.category > input.dtype.category:
        raise RuntimeError(f"result type {_dt.scalar_type_name(dtype)} can't be cast to the desired output type "
                           f"{_dt.scalar_type_name(input.dtype)}")
    if dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for '{_dt.scalar_type_name(dtype)}'")
    return input.to(dtype), target.to(dtype), input.dtype


def _elementwise(kind, name, input, target, reduction, weight=None, **params):
    if target._array.shape != input._array.shape:       # (the arrays' shapes: plain tuples, no Size made)
        _warn_size(name, input, target)
        broadcast_shapes(tuple(input.shape), tuple(target.shape), op=name)
    if kind == "huber":
        input, target, out_dtype = _promote_to_input(kind, input, target)
        return _elementwise_loss(kind, input, target, reduction, weight, **params).to(out_dtype)
    input, target = _promote(input, target)
    return _elementwise_loss(kind, input, target, reduction, weight, **params)


def _elementwise_loss(kind, input, target, reduction, weight, **params):
    if kind == "l1" and weight is None:
        # PyTorch's l1_loss is composite, abs(input - target) then the reduction: its nodes, and create_graph
        # gradients that depend on the operands (through sgn, whose own gradient is 0)
        if input.shape != target.shape:
            input, target = broadcast_tensors(input, target)
        loss = (input - target).abs()
        return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    if weight is None:
        return pointwise_loss(kind, input, target, reduction, **params)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    # PyTorch composes the weighted forms from differentiable ops (so weight gets its gradient too): the
    # unreduced loss times weight, and for 'mean' the sum over weight.sum() (mse, l1) or the plain mean (huber)
    if kind == "mse":
        loss = (input - target) ** 2
    elif kind == "l1":
        loss = (input - target).abs()
    else:
        loss = pointwise_loss(kind, input, target, "none", **params)
    loss = loss * weight
    if reduction == "mean":
        return loss.mean() if kind == "huber" else loss.sum() / weight.sum()
    return loss.sum() if reduction == "sum" else loss


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """mean((input - target)^2)."""
    if "mse_loss" in AUTOCAST:
        return autocast_run("mse_loss", mse_loss, input, target, size_average, reduce, reduction, weight)
    return _elementwise("mse", "mse_loss", input, target, _reduction(size_average, reduce, reduction), weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """mean(|input - target|)."""
    if "l1_loss" in AUTOCAST:
        return autocast_run("l1_loss", l1_loss, input, target, size_average, reduce, reduction, weight)
    return _elementwise("l1", "l1_loss", input, target, _reduction(size_average, reduce, reduction), weight)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere."""
    if "smooth_l1_loss" in AUTOCAST:
        return autocast_run("smooth_l1_loss", smooth_l1_loss, input, target, size_average, reduce, reduction, beta)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _elementwise("smooth_l1", "smooth_l1_loss", input, target, _reduction(size_average, reduce, reduction),
                        beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere."""
    if "huber_loss" in AUTOCAST:
        return autocast_run("huber_loss", huber_loss, input, target, reduction, delta, weight)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _elementwise("huber", "huber_loss", input, target, _reduction(None, None, reduction), weight,
                        delta=float(delta))


# --- classification ----------------------------------------------------------------------------------

def _class_inputs(name, input, target):
    """(input, target, unbatched) with input (N, C, d...) and target (N, d...); checks batch sizes."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have at least 1 dimension (got a 0-d tensor)")
    unbatched = input.ndim == 1
    if unbatched:
        if target.ndim != 0:
            raise RuntimeError(f"{name}: 1D input of shape {tuple(input.shape)} needs a 0D target, got target of "
                               f"shape {tuple(target.shape)}")
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    if target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0]}). ({name}: input {tuple(input.shape)}, target {tuple(target.shape)})")
    if tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"{name}: expected target of shape {(input.shape[0],) + tuple(input.shape[2:])} for input "
                           f"of shape {tuple(input.shape)}, got {tuple(target.shape)}")
    return input, target, unbatched


def _check_targets(name, target, classes, ignore_index):
    if target.dtype.category >= _dt.FLOAT or target.dtype is _dt.bool_:
        raise RuntimeError(f"{name}: expected target of integer class indices (Long), got {target.dtype}; "
                           "use probabilities of the input's shape for soft targets")
    if target.dtype is not _dt.int64 and target.dtype is not _dt.uint8:     # PyTorch's kernels take only these
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_dt.scalar_type_name(target.dtype)} "
                           f"({name}: convert class indices with target.long())")
    a = target._array
    if not a.size:
        return
    bad = (a < 0) | (a >= classes)
    bad &= a != ignore_index
    if bad.any():
        value = int(a[bad].reshape(-1)[0])
        raise IndexError(f"Target {value} is out of bounds. ({name}: class indices must be in [0, {classes - 1}] "
                         f"for {classes} classes, or ignore_index={ignore_index})")


def _check_weight(name, weight, classes, input):
    if weight is None:
        return None
    if weight.ndim != 1 or weight.shape[0] != classes:
        raise RuntimeError(f"{name}: weight tensor should be defined either for all {classes} classes or no classes "
                           f"but got weight tensor of shape: {list(weight.shape)}")
    if weight.dtype is not input.dtype:                # PyTorch's kernel refuses it (no promotion)
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(input.dtype)} but found "
                           f"{_dt.scalar_type_name(weight.dtype)}")
    return weight._array


def _finish(out, unbatched, reduction):
    return out.squeeze(0) if unbatched and reduction == "none" else out


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """-log_softmax(input)[target] (class indices) or -sum(target * log_softmax(input)) (probabilities)."""
    if "cross_entropy_loss" in AUTOCAST:
        return autocast_run("cross_entropy_loss", cross_entropy, input, target, weight, size_average, ignore_index,
                            reduce, reduction, label_smoothing)
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{input.dtype.name}'")
    if target.dtype.category >= _dt.FLOAT:
        if ignore_index >= 0:       # (PyTorch's test: the default -100, or any negative index, passes)
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    input, target, unbatched = _class_inputs("cross_entropy", input, target)
    _no_grad_argument("nll_loss_forward", "weight", weight)          # PyTorch's cross_entropy ends in nll_loss
    classes = input.shape[1]
    _check_targets("cross_entropy", target, classes, ignore_index)
    w = _check_weight("cross_entropy", weight, classes, input)
    out = CrossEntropy.apply(input, target._array, w, ignore_index=ignore_index, reduction=reduction,
                             label_smoothing=float(label_smoothing))
    return _finish(out, unbatched, reduction)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    if target.shape != input.shape:
        raise RuntimeError(f"cross_entropy: expected target probabilities of the input's shape {tuple(input.shape)}, "
                           f"got {tuple(target.shape)}")
    dim = 0 if input.ndim == 1 else 1
    classes = input.shape[dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    logp = softmax_family.log_softmax(input, dim)
    if weight is not None:
        shape = [1] * input.ndim
        shape[dim] = classes
        logp = logp * weight.reshape(shape)
    loss = -(logp * target).sum(dim)
    if reduction == "mean":
        return loss.sum() / (input.numel() // classes if input.numel() else 1)
    return loss.sum() if reduction == "sum" else loss


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """-input[target] weighted and reduced (input holds log-probabilities)."""
    if "nll_loss" in AUTOCAST:
        return autocast_run("nll_loss", nll_loss, input, target, weight, size_average, ignore_index, reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    input, target, unbatched = _class_inputs("nll_loss", input, target)
    _no_grad_argument("nll_loss_forward", "weight", weight)
    classes = input.shape[1]
    _check_targets("nll_loss", target, classes, ignore_index)
    w = _check_weight("nll_loss", weight, classes, input)
    out = NllLoss.apply(input, target._array, w, ignore_index=ignore_index, reduction=reduction)
    return _finish(out, unbatched, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log p + (1 - t) log(1 - p)) with each log clamped at -100."""
    if "binary_cross_entropy" in AUTOCAST:
        return autocast_run("binary_cross_entropy", binary_cross_entropy, input, target, weight, size_average, reduce,
                            reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) "
                         "is deprecated. Please ensure they have the same size.")
    _no_grad_argument("binary_cross_entropy", "weight", weight)
    if target.dtype is not input.dtype:           # PyTorch does not promote here
        raise RuntimeError(f"Found dtype {_dt.scalar_type_name(target.dtype)} but expected "
                           f"{_dt.scalar_type_name(input.dtype)}")
    a = input._array
    if a.size and (a.min() < 0 or a.max() > 1):
        raise RuntimeError("all elements of input should be between 0 and 1")
    if weight is not None:
        weight = weight.expand(input.shape) if weight.shape != input.shape else weight
    return pointwise_loss("bce", input, target, reduction, weight)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """BCE on sigmoid(input), computed from the logits without overflow (NUM-3)."""
    if "binary_cross_entropy_with_logits" in AUTOCAST:
        return autocast_run("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits, input, target, weight,
                            size_average, reduce, reduction, pos_weight)
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    _no_grad_argument("binary_cross_entropy_with_logits", "weight", weight)
    _no_grad_argument("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    input, target = _promote(input, target)
    return pointwise_loss("bce_logits", input, target, reduction, weight, pos_weight)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), stable."""
    if "soft_margin_loss" in AUTOCAST:
        return autocast_run("soft_margin_loss", soft_margin_loss, input, target, size_average, reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    _no_grad_argument("soft_margin_loss", "target", target)          # PyTorch has no derivative for it
    input, target, out_dtype = _promote_to_input("soft_margin", input, target)
    return pointwise_loss("soft_margin", input, target, reduction).to(out_dtype)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log(target) - input) (input holds log-probabilities); 'batchmean' divides by the batch size."""
    if "kl_div" in AUTOCAST:
        return autocast_run("kl_div", kl_div, input, target, size_average, reduce, reduction, log_target)
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, "mean")
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # PyTorch's formula: xlogy(t, t) is 0 at t == 0 (NaN for t < 0; its gradient in t is NaN at 0, as there)
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _apply_reduction(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input) or input - target * log(input + eps), plus Stirling if full."""
    if "poisson_nll_loss" in AUTOCAST:
        return autocast_run("poisson_nll_loss", poisson_nll_loss, input, target, log_input, full, size_average, eps,
                            reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = comparison.where(target > 1, target, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + comparison.where(target > 1, stirling, 0.0)
    return _apply_reduction(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log(var) + (input - target)^2 / var), var clamped at eps (without blocking its gradient)."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = creation.full(input.shape, var, dtype=input.dtype, device=input.device)
    elif not isinstance(var, Tensor):
        raise TypeError(f"gaussian_nll_loss(): var must be a Tensor or a float, not {type(var).__name__}")
    elif (var._array < 0).any():
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:          # homoscedastic: one variance per row
            var = var.unsqueeze(-1)
        # PyTorch's rule: same rank, and the sizes of var where it differs from input sum to 1 (one
        # broadcast dimension: (10, 2, 1) or (4, 1, 32, 32) for input (10, 2, 3) or (4, 3, 32, 32))
        elif not (input.ndim == var.ndim and
                  builtins.sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    # PyTorch clamps a copy of var without recording it: the gradient passes straight through
    clamped = var + (var.detach().clamp(min=eps) - var.detach())
    loss = 0.5 * (clamped.log() + (input - target) ** 2 / clamped)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _apply_reduction(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    if "cosine_embedding_loss" in AUTOCAST:
        return autocast_run("cosine_embedding_loss", cosine_embedding_loss, input1, input2, target, margin,
                            size_average, reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: expected inputs of equal shape, 1D or 2D, got "
                           f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag = ((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)
    cos = prod / mag.sqrt()
    zeros = creation.zeros_like(cos)
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    loss = comparison.where(target == 1, pos, zeros) + comparison.where(target == -1, neg, zeros)
    return _apply_reduction(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin)."""
    if "margin_ranking_loss" in AUTOCAST:
        return autocast_run("margin_ranking_loss", margin_ranking_loss, input1, input2, target, margin, size_average,
                            reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return _apply_reduction(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """input where target is 1, max(0, margin - input) where target is -1."""
    if "hinge_embedding_loss" in AUTOCAST:
        return autocast_run("hinge_embedding_loss", hinge_embedding_loss, input, target, margin, size_average, reduce,
                            reduction)
    reduction = _reduction(size_average, reduce, reduction)
    zeros = creation.zeros_like(input)
    margin_part = comparison.where(target != 1, (margin - input).clamp_min(0), zeros)
    self_part = comparison.where(target != -1, input, zeros)
    return _apply_reduction(margin_part + self_part, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per-class logistic loss averaged over classes."""
    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * LogSigmoid.apply(input) + (1 - target) * LogSigmoid.apply(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / input.shape[-1]
    return _apply_reduction(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """sum over i != y of max(0, margin - x[y] + x[i])^p / C (multi-class hinge)."""
    if "multi_margin_loss" in AUTOCAST:
        return autocast_run("multi_margin_loss", multi_margin_loss, input, target, p, margin, weight, size_average,
                            reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    unbatched = input.ndim <= 1
    if unbatched:
        input = input.reshape(1, -1)
        target = target.reshape(1)
    classes = input.shape[1]
    _check_targets("multi_margin_loss", target, classes, -(10 ** 18))
    _no_grad_argument("multi_margin_loss", "weight", weight)
    if weight is not None and weight.dtype is not input.dtype:     # PyTorch's kernel does not promote
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(input.dtype)} but found "
                           f"{_dt.scalar_type_name(weight.dtype)}")
    loss = MultiMarginLoss.apply(input, target, weight, p=p, margin=margin, reduction=reduction)
    return loss.squeeze(0) if unbatched and reduction == "none" else loss


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C."""
    if "multilabel_margin_loss" in AUTOCAST:
        return autocast_run("multilabel_margin_loss", multilabel_margin_loss, input, target, size_average, reduce,
                            reduction)
    reduction = _reduction(size_average, reduce, reduction)
    unbatched = input.ndim <= 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1, -1)
    xp = input._backend().xp
    t = target._array
    classes = input.shape[1]
    # targets are listed up to the first -1
    listed = xp.cumprod(t >= 0, axis=1).astype(bool)
    is_target = xp.zeros(input.shape, dtype=bool)
    rows = xp.nonzero(listed)
    is_target[rows[0], t[rows]] = True
    pairs = _make((listed[:, :, None] & ~is_target[:, None, :]).astype(input._array.dtype), input.device)
    x_j = input.gather(1, _make(xp.where(listed, t, 0), input.device))              # (N, C)
    margin = 1 - (x_j.unsqueeze(2) - input.unsqueeze(1))                             # (N, C, C)
    hinge = comparison.where(margin > 0, margin, 0.0)       # PyTorch's: no gradient at the kink (z = 0)
    loss = (hinge * pairs).sum((1, 2)) / classes
    if unbatched and reduction == "none":
        loss = loss.squeeze(0)
    return _apply_reduction(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with pairwise p-norm distances."""
    if "triplet_margin_loss" in AUTOCAST:
        return autocast_run("triplet_margin_loss", triplet_margin_loss, anchor, positive, negative, margin, p, eps,
                            swap, size_average, reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = comparison.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _apply_reduction((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """triplet_margin_loss with any distance function (pairwise_distance by default)."""
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = comparison.minimum(d_neg, dist(positive, negative))
    return _apply_reduction((margin + d_pos - d_neg).clamp_min(0), _reduction(None, None, reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss (alpha recursion in log space, vectorised over batch)."""
    if "ctc_loss" in AUTOCAST:
        return autocast_run("ctc_loss", ctc_loss, log_probs, targets, input_lengths, target_lengths, blank, reduction,
                            zero_infinity)
    from .ctc import ctc_loss as _ctc
    return _ctc(log_probs, targets, input_lengths, target_lengths, blank, _reduction(None, None, reduction),
                zero_infinity)

