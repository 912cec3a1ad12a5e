"""Loss primitives: fused cross_entropy / nll_loss and one Op for the elementwise losses.

Note [fused losses]: a loss is one graph node. cross_entropy keeps log-probabilities from its
forward and its backward is softmax - one_hot (scaled by weight, smoothing and reduction), a few
array passes instead of the log_softmax -> gather -> mean chain. With create_graph the gradient is
rebuilt from Tensor ops so it can be differentiated again.
"""
from .._backends import errstate
from .._tensor import Tensor, _make
from ..autograd.function import Op
from ..autograd.grad_mode import _State

__all__ = []

REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _class_column(t):
    return t.reshape(t.shape[:1] + (1,) + t.shape[1:])


def _reduce(xp, loss, reduction, denom):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction != "mean":
        return total
    with errstate(invalid="ignore", divide="ignore"):     # every target ignored: NaN, as in PyTorch
        return total / denom


def _grad_scale(grad, reduction, denom):
    """The gradient reaching each loss element, as an array or Tensor (class axis inserted)."""
    if reduction == "none":
        return _class_column(grad)
    if reduction != "mean":
        return grad
    if isinstance(grad, Tensor):
        return grad / denom
    with errstate(divide="ignore", invalid="ignore"):     # every target ignored: denom 0
        return grad / denom


def _select_valid(xp, valid_col, value, device=None):
    """value where the target is not ignored, else 0: selected, since value is inf/NaN when every target
    is ignored (mean over a zero total weight), and PyTorch's gradient is 0 there."""
    if device is None:
        return xp.where(valid_col, value, 0)
    from .comparison import Where
    return Where.apply(valid_col, value, 0.0)


class CrossEntropy(Op):
    """cross_entropy with class-index targets over dim 1: -w[t] * log_softmax(x)[t], smoothed, reduced."""
    node_name = "NllLossBackward0"                    # PyTorch's cross_entropy ends in nll_loss
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing):
        xp = ctx.xp
        shifted = input - input.max(axis=1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        valid = target != ignore_index
        t = xp.where(valid, target, 0)
        tcol = _class_column(t)
        picked = xp.take_along_axis(logp, tcol, axis=1)[:, 0]
        wt = weight[t] * valid if weight is not None else valid.astype(input.dtype)
        loss = -picked * wt
        classes = input.shape[1]
        wb = weight.reshape((1, classes) + (1,) * (input.ndim - 2)) if weight is not None else None
        if label_smoothing:
            smooth = -(logp * wb).sum(axis=1) if wb is not None else -logp.sum(axis=1)
            loss = loss * (1 - label_smoothing) + smooth * valid * (label_smoothing / classes)
        denom = wt.sum()
        ctx.state = (logp, tcol, valid, wt, wb, denom, reduction, label_smoothing)
        ctx.save_for_backward(input)
        return _reduce(xp, loss, reduction, denom).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        logp, tcol, valid, wt, wb, denom, reduction, eps = ctx.state
        classes = logp.shape[1]
        total_w = wb.sum() if wb is not None else classes
        if _State.grad_enabled:                      # create_graph: differentiable rebuild
            from .softmax_family import softmax
            (input,) = ctx.saved_tensors
            p = softmax(input, 1)
            s = _grad_scale(grad, reduction, _make(ctx.xp.asarray(denom), grad._device))
            onehot = ctx.xp.zeros(logp.shape, dtype=logp.dtype)
            ctx.xp.put_along_axis(onehot, tcol, 1, axis=1)
            vcol = _class_column(valid)
            coef = _select_valid(ctx.xp, vcol, s * _make(_class_column(wt) * (1 - eps), grad._device), grad._device)
            smooth = _select_valid(ctx.xp, vcol, s * (eps / classes), grad._device)
            gx = p * (coef + smooth * float(total_w)) - coef * _make(onehot, grad._device)
            if eps:
                gx = gx - smooth * (_make(wb, grad._device) if wb is not None else 1.0)
            return gx, None, None
        s = _grad_scale(grad._array, reduction, denom)
        vcol = _class_column(valid)
        coef = _select_valid(ctx.xp, vcol, s * (_class_column(wt) * (1 - eps)))
        gx = ctx.xp.exp(logp)
        if eps:
            smooth = _select_valid(ctx.xp, vcol, s * (eps / classes))
            gx *= coef + smooth * total_w
            gx -= smooth * wb if wb is not None else smooth
        else:
            gx *= coef
        picked = ctx.xp.take_along_axis(gx, tcol, axis=1)
        ctx.xp.put_along_axis(gx, tcol, picked - coef, axis=1)
        return _make(gx.astype(logp.dtype, copy=False), grad._device), None, None


class NllLoss(Op):
    """-w[t] * input[t] over dim 1 (input holds log-probabilities), reduced."""
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction):
        xp = ctx.xp
        valid = target != ignore_index
        t = xp.where(valid, target, 0)
        tcol = _class_column(t)
        picked = xp.take_along_axis(input, tcol, axis=1)[:, 0]
        wt = weight[t] * valid if weight is not None else valid.astype(input.dtype)
        denom = wt.sum()
        ctx.state = (input.shape, input.dtype, tcol, wt, valid, denom, reduction)
        ctx.save_for_backward(input, target, weight)  # as PyTorch, for the version check only
        return _reduce(xp, -picked * wt, reduction, denom).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        # -w[t] * scale at each (row, target), 0 elsewhere and on ignored rows (selected: the scale is
        # inf/NaN when every target is ignored, and PyTorch's gradient is 0 there)
        ctx.saved_tensors                              # noqa: B018 (the version check)
        shape, dtype, tcol, wt, valid, denom, reduction = ctx.state
        xp = ctx.xp
        picker = xp.zeros(shape, dtype=dtype)
        vcol = _class_column(valid)
        if not _State.grad_enabled:
            s = _grad_scale(grad._array, reduction, denom)
            xp.put_along_axis(picker, tcol, _select_valid(xp, vcol, -_class_column(wt) * s), axis=1)
            return _make(picker, grad._device), None, None
        xp.put_along_axis(picker, tcol, -_class_column(wt), axis=1)
        hit = xp.zeros(shape, dtype=bool)
        xp.put_along_axis(hit, tcol, vcol, axis=1)
        s = _grad_scale(grad, reduction, _make(xp.asarray(denom), grad._device))
        return _select_valid(xp, hit, _make(picker, grad._device) * s, grad._device), None, None


# --- elementwise losses -------------------------------------------------------------------------------
# Each kind: forward(xp, x, t, extra, **params) -> elementwise loss array;
#            grads(x, t, extra, needs, **params) -> (d loss/dx, d loss/dt) as Tensors (or None).

class MultiMarginLoss(Op):
    """multi_margin_loss over (N, C) rows: sum over i != y of max(0, margin - x[y] + x[i])^p (times
    weight[y]) / C, reduced. One node, as PyTorch's (it saves input, target and weight): its gradient is each
    row's slopes times the upstream gradient, multiplied (a NaN or inf upstream reaches the whole row), and
    a NaN margin term counts as inactive (0), as in PyTorch's kernel."""
    node_name = "MultiMarginLossBackward0"

    @staticmethod
    def forward(ctx, input, target, weight, p, margin, reduction):
        xp = ctx.xp
        n, c = input.shape
        cols = target[:, None]
        z = margin - xp.take_along_axis(input, cols, 1) + input
        active = (z > 0) & (xp.arange(c) != cols)
        h = xp.where(active, z if p == 1 else z * z, 0)
        if weight is not None:
            h = h * weight[target][:, None]
        ctx.p, ctx.margin, ctx.reduction = p, margin, reduction
        ctx.save_for_backward(input, target, weight)
        return _reduce(xp, h.sum(1) / c, reduction, n)

    @staticmethod
    def backward(ctx, grad):
        from .comparison import where
        input, target, weight = ctx.saved_tensors
        xp = ctx.xp
        n, c = input.shape
        cols = target.unsqueeze(1)
        g = 1.0 / (n * c) if ctx.reduction == "mean" else 1.0 / c
        z = ctx.margin - input.gather(1, cols) + input
        is_target = _make(xp.arange(c) == target._array[:, None], input.device)
        active = (z > 0) & ~is_target
        if ctx.p == 1:                            # constant slopes (in the input's dtype)
            h = _make(xp.where(active._array, g, 0).astype(input._array.dtype), input.device)
        else:
            h = where(active, z * (2 * g), 0.0)
        if weight is not None:
            h = h * weight[target].unsqueeze(1)
        h = where(is_target, -h.sum(1, keepdim=True), h)
        return h * (grad.unsqueeze(1) if ctx.reduction == "none" else grad), None, None


def _mse(xp, x, t, extra):
    d = x - t
    return d * d


def _mse_grads(x, t, extra, needs):
    d = (x - t) * 2
    return d, -d if needs[1] else None


def _smooth_l1(xp, x, t, extra, beta):
    d = xp.abs(x - t)
    if beta == 0:
        return d
    return xp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


def _smooth_l1_grads(x, t, extra, needs, beta):
    from .comparison import where
    d = x - t
    g = d.sign() if beta == 0 else where(d.abs() >= beta, d.sign(), d / beta)    # NaN: d / beta, as in PyTorch
    return g, -g if needs[1] else None


def _huber(xp, x, t, extra, delta):
    d = xp.abs(x - t)
    return xp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))


def _huber_grads(x, t, extra, needs, delta):
    d = x - t
    g = d.clamp(-delta, delta)
    return g, -g if needs[1] else None


def _bce(xp, x, t, extra):
    # PyTorch clamps each log at -100 so p in {0, 1} gives a finite loss (NUM-3)
    with errstate(divide="ignore"):
        log_p = xp.maximum(xp.log(x), -100)
        log_q = xp.maximum(xp.log1p(-x), -100)
    return -(t * log_p + (1 - t) * log_q)


_BCE_EPS = 9.999999960041972e-13   # PyTorch's EPSILON: the float32 1e-12, in float64 too


def _bce_grads(x, t, extra, needs):
    gx = (x - t) / (x * (1 - x)).clamp(min=_BCE_EPS)
    gt = None
    if needs[1]:
        gt = (-x).log1p().clamp(min=-100) - x.log().clamp(min=-100)
    return gx, gt


def _bce_logits(xp, x, t, pos_weight):
    # (1 - t) x + lw * softplus(-x), lw = 1 + (pos_weight - 1) t; softplus via logaddexp never overflows
    soft = xp.logaddexp(0, -x)
    if pos_weight is None:
        return (1 - t) * x + soft
    return (1 - t) * x + (1 + (pos_weight - 1) * t) * soft


def _bce_logits_grads(x, t, pos_weight, needs):
    s = x.sigmoid()
    if pos_weight is None:
        gx = s - t
    else:
        gx = s * (1 + (pos_weight - 1) * t) - pos_weight * t
    gt = None
    if needs[1]:
        gt = -x if pos_weight is None else -x + (pos_weight - 1) * _softplus_neg(x)
    return gx, gt


def _softplus_neg(x):
    from .smooth_activations import Softplus
    return Softplus.apply(-x, beta=1, threshold=20)


def _soft_margin(xp, x, t, extra):
    return xp.logaddexp(0, -t * x)


def _soft_margin_grads(x, t, extra, needs):
    # no gradient for the target: PyTorch has no derivative for it (F.soft_margin_loss refuses one that needs it)
    return -t * (-t * x).sigmoid(), None


KINDS = {"mse": (_mse, _mse_grads), "smooth_l1": (_smooth_l1, _smooth_l1_grads),
         "huber": (_huber, _huber_grads), "bce": (_bce, _bce_grads),
         "bce_logits": (_bce_logits, _bce_logits_grads), "soft_margin": (_soft_margin, _soft_margin_grads)}


class PointwiseLoss(Op):
    """reduce(weight * f(input, target)) for an elementwise loss f named by `kind` (see KINDS)."""
    broadcasts = True

    @staticmethod
    def forward(ctx, input, target, weight, extra, kind, reduction, params):
        xp = ctx.xp
        loss = KINDS[kind][0](xp, input, target, extra, **params)
        if weight is not None:
            loss = loss * weight
        ctx.kind, ctx.reduction, ctx.params, ctx.numel = kind, reduction, params, loss.size
        ctx.save_for_backward(input, target, weight, extra)
        if reduction == "none":
            return loss.astype(input.dtype, copy=False)
        total = loss.sum() if loss.size else xp.asarray(0, dtype=input.dtype)
        if reduction == "mean":
            total = total / loss.size if loss.size else xp.asarray(xp.nan, dtype=input.dtype)
        return xp.asarray(total).astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        input, target, weight, extra = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if ctx.kind == "mse" and weight is None and not _State.grad_enabled and grad.__class__ is Tensor and \
                input._array.shape == target._array.shape and input._array.ndim and \
                input._array.dtype == target._array.dtype == grad._array.dtype:
            return _mse_plain_backward(ctx, grad, input, target, needs)
        gx, gt = KINDS[ctx.kind][1](input, target, extra, needs, **ctx.params)
        scale = grad / ctx.numel if ctx.reduction == "mean" else grad
        if weight is not None:
            scale = scale * weight
        grad_input = gx * scale if needs[0] else None
        grad_target = gt * scale if needs[1] and gt is not None else None
        return grad_input, grad_target, None, None


def _mse_plain_backward(ctx, grad, input, target, needs):
    """PointwiseLoss.backward for mse without create_graph (Note [plain backward] in autograd/engine.py): the
    same formula (_mse_grads) run on the arrays (same bits, no op machinery)."""
    gx, gt = _mse_grads(input._array, target._array, None, needs)
    scale = grad._array / ctx.numel if ctx.reduction == "mean" else grad._array
    device = grad._device
    return (_make(gx * scale, device) if needs[0] else None,
            _make(gt * scale, device) if needs[1] else None, None, None)


# one subclass per kind so grad_fn carries PyTorch's node name (MseLossBackward0, ...)
_NODE_NAMES = {"mse": "MseLoss", "smooth_l1": "SmoothL1Loss", "huber": "HuberLoss",
               "bce": "BinaryCrossEntropy", "bce_logits": "BinaryCrossEntropyWithLogits",
               "soft_margin": "SoftMarginLoss"}
_KIND_OPS = {kind: type(name, (PointwiseLoss,), {"node_name": name + "Backward0"})
             for kind, name in _NODE_NAMES.items()}


def pointwise_loss(kind, input, target, reduction, weight=None, extra=None, **params):
    return _KIND_OPS[kind].apply(input, target, weight, extra, kind=kind, reduction=reduction, params=params)
