"""The primitives behind nn.functional's linear layers: Linear (linear's fused matmul and bias), Bilinear
(bilinear's contraction) and Embedding with its gradient (embedding, embedding_bag); the argument checks and
compositions stay in nn/_functional/linear.py."""
import math

from ..autograd.function import Op
from ..autograd.grad_mode import _State
from .._tensor import Tensor, _make
from .views import ReshapeCopy


class Linear(Op):
    """input @ weight.T + bias in one node (one GEMM each way, no transpose or broadcast-add nodes): PyTorch's
    addmm. Recorded, it sees 2-D inputs (linear() below puts PyTorch's views around it); unrecorded, it folds
    the batch dims of any input into rows itself."""
    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias):
        # fold batch dims into rows: NumPy's batched matmul with a transposed 2-D operand skips BLAS (~40x slower)
        rows = input.reshape(math.prod(input.shape[:-1]), input.shape[-1]) if input.ndim != 2 else input
        out = _product(ctx, rows, weight.T)           # small ones on one BLAS thread: Note [BLAS threads per product]
        if bias is not None:
            out += bias
        needs = ctx.needs_input_grad                  # as PyTorch's addmm: each operand for the other's gradient
        ctx.save_for_backward(input if needs[1] else None, weight if needs[0] else None)
        ctx.input_shape, ctx.weight_shape = input.shape, weight.shape
        return out.reshape(input.shape[:-1] + (weight.shape[0],)) if input.ndim != 2 else out

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_input = grad_weight = grad_bias = None
        if not _State.grad_enabled and grad.__class__ is Tensor and grad._array.ndim == 2:
            return _plain_backward(ctx, grad, input, weight, needs)
        g2 = grad.reshape(math.prod(grad.shape[:-1]), grad.shape[-1]) if grad.ndim != 2 else grad
        if needs[0]:
            grad_input = g2 @ weight
            if len(ctx.input_shape) != 2:
                grad_input = grad_input.reshape(ctx.input_shape)
        if needs[1]:
            x2 = input.reshape(g2.shape[0], input.shape[-1]) if input.ndim != 2 else input
            grad_weight = g2.mT @ x2
        if len(needs) > 2 and needs[2]:
            grad_bias = g2.sum(0)
        return grad_input, grad_weight, grad_bias


def _plain_backward(ctx, grad, input, weight, needs):
    """Linear.backward without create_graph (Note [plain backward] in autograd/engine.py): the two GEMMs on
    arrays, the same backend calls the tensor formula makes (matmul's kernel on g2 @ weight and g2.mT @ x),
    so the gradients are the same bits; the bias sum stays the tensor op."""
    g = grad._array
    device = grad._device
    grad_input = grad_weight = grad_bias = None
    if needs[0]:
        grad_input = _make(_product(ctx, g, weight._array), device)
        if len(ctx.input_shape) != 2:
            grad_input = grad_input.reshape(ctx.input_shape)
    if needs[1]:
        x = input._array
        grad_weight = _make(_product(ctx, g.T, x.reshape(g.shape[0], x.shape[-1]) if x.ndim != 2 else x), device)
    if len(needs) > 2 and needs[2]:
        grad_bias = grad.sum(0)
    return grad_input, grad_weight, grad_bias


def _product(ctx, a, b):
    """Matmul's kernel on arrays: the backend's product, rounded back to a's dtype (bfloat16 answers in float32)."""
    out = ctx.backend.matmul(a, b)
    return out if out.dtype is a.dtype else out.astype(a.dtype, copy=False)


class LinearMm(Linear):
    """Linear without bias: PyTorch's mm."""
    node_name = "MmBackward0"


def linear(input, weight, bias):
    """input @ weight.T + bias for a 2-D weight (bias None or 1-D, all of one dtype). Recorded, the graph is
    PyTorch's: mm (no bias) or addmm on the rows, and for a 1-D input unsqueeze/squeeze (view/view with bias),
    for an N-D input a view to rows and an unsafe view (view with bias) back; unrecorded, one fused call."""
    op = LinearMm if bias is None else Linear
    if input._array.ndim == 2 or not _State.grad_enabled or not (
            input._requires_grad or weight._requires_grad or (bias is not None and bias._requires_grad)):
        return op.apply(input, weight, bias)
    in_features = input.shape[-1]
    if input.ndim == 1:
        if bias is None:
            return op.apply(input.unsqueeze(0), weight, None).squeeze(0)
        return op.apply(input.view(1, in_features), weight, bias).view(weight.shape[0])
    out = op.apply(input.reshape(math.prod(input.shape[:-1]), in_features), weight, bias)
    shape = tuple(input.shape[:-1]) + (weight.shape[0],)
    return ReshapeCopy.apply(out, shape) if bias is None else out.view(shape)


class Bilinear(Op):
    """out[b, o] = sum_ij x1[b, i] weight[o, i, j] x2[b, j]: (B, I) @ (I, O*J), then J contracted with x2 (two
    GEMM-shaped steps). One node, as PyTorch's _trilinear, saving each operand for the others' gradients."""
    node_name = "TrilinearBackward0"

    @staticmethod
    def forward(ctx, x1, x2, weight):
        out_features, i, j = weight.shape
        tmp = ctx.backend.matmul(x1, weight.transpose(1, 0, 2).reshape(i, out_features * j)).reshape(
            -1, out_features, j)
        needs = ctx.needs_input_grad
        ctx.weight_shape = weight.shape
        ctx.save_for_backward(x1 if needs[1] or needs[2] else None, x2 if needs[0] or needs[2] else None,
                              weight if needs[0] or needs[1] else None)
        out = (tmp * x2[:, None, :]).sum(-1)
        return out if out.dtype is x1.dtype else out.astype(x1.dtype, copy=False)  # bfloat16 matmul: float32

    @staticmethod
    def backward(ctx, grad):
        x1, x2, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        out_features, i, j = ctx.weight_shape
        grad_x1 = grad_x2 = grad_weight = None
        if needs[0] or needs[1]:
            mixed = (grad @ weight.reshape(out_features, i * j)).reshape(-1, i, j)    # sum_o g[b, o] w[o, i, j]
            if needs[0]:
                grad_x1 = (mixed * x2.unsqueeze(1)).sum(-1)
            if needs[1]:
                grad_x2 = (mixed * x1.unsqueeze(2)).sum(1)
        if needs[2]:
            grad_weight = (grad.mT @ (x1.unsqueeze(2) * x2.unsqueeze(1)).reshape(-1, i * j)).reshape(
                out_features, i, j)
        return grad_x1, grad_x2, grad_weight


# --- embedding ---------------------------------------------------------------------------------------

class Embedding(Op):
    """weight[indices]; the gradient scatter-adds rows (padding_idx rows get none). The indices tensor is saved
    as PyTorch saves it: changed in place after the op, backward raises."""
    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.num_weights = weight.shape[0]
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        ctx.save_for_backward(indices)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        return EmbeddingGrad.apply(grad, indices, num_weights=ctx.num_weights, padding_idx=ctx.padding_idx,
                                   scale=ctx.scale), None


class EmbeddingGrad(Op):
    """Rows of grad summed into a (num_weights, dim) table by index."""
    node_name = "EmbeddingDenseBackward0"

    @staticmethod
    def forward(ctx, grad, indices, num_weights, padding_idx, scale):
        xp = ctx.xp
        ctx.save_for_backward(indices)
        flat = indices.reshape(-1)
        rows = grad.reshape(-1, grad.shape[-1])
        if scale:
            counts = xp.bincount(flat, minlength=num_weights)
            rows = rows / counts[flat][:, None]
        if padding_idx is not None:
            keep = flat != padding_idx
            flat, rows = flat[keep], rows[keep]
        out = xp.zeros((num_weights, grad.shape[-1]), dtype=grad.dtype)
        if flat.size:
            # sort + reduceat: much faster than add.at for large index arrays
            order = xp.argsort(flat, kind="stable")
            sorted_idx = flat[order]
            starts = xp.flatnonzero(xp.concatenate(([True], sorted_idx[1:] != sorted_idx[:-1])))
            out[sorted_idx[starts]] = xp.add.reduceat(rows[order], starts, axis=0)
        return out

    @staticmethod
    def backward(ctx, gg):
        (indices,) = ctx.saved_tensors
        return Embedding.apply(gg, indices, padding_idx=None, scale_grad_by_freq=False), None
