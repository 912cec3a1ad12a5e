"""Each op saves for backward exactly what PyTorch saves (issue 12).

PyTorch's backward node of an op keeps some of its inputs and/or outputs (grad_fn._saved_*); modifying one
of those in place after the op makes backward raise "one of the variables needed for gradient computation
has been modified by an inplace operation", and modifying anything else is allowed. ember must raise in
exactly the same cases: saving less lets wrong gradients through, saving more refuses valid programs.

For every differentiable case of the op database (op_db.py, cases_*.py) and the nn.functional cases below,
this modifies, under no_grad and after the op, each input and then each output in turn, runs backward, and
compares the outcome with PyTorch's: with every input requiring grad, and (multi-input cases) with one input
at a time requiring grad, since PyTorch saves only what the gradients it has to compute use (its outputs it
saves whenever it records). Cases whose backward PyTorch itself cannot run (vander in 2.13) are skipped.
"""
import warnings

import numpy as np
import pytest

import ember
from op_db import OP_CASES, C, _idx


def F(m):
    return m.nn.functional


def _f64(m, values):
    return m.tensor(values, dtype=m.float64)


# nn.functional ops (op_db covers the tensor ops): each as PyTorch's fused node or composite saves
NN_CASES = [
    C("F.relu", lambda m, x: F(m).relu(x), [(3, 4)]),
    C("F.relu6", lambda m, x: F(m).relu6(x), [(3, 4)]),
    C("F.elu", lambda m, x: F(m).elu(x), [(3, 4)]),
    C("F.selu", lambda m, x: F(m).selu(x), [(3, 4)]),
    C("F.celu", lambda m, x: F(m).celu(x, 0.7), [(3, 4)]),
    C("F.gelu", lambda m, x: F(m).gelu(x), [(3, 4)]),
    C("F.gelu", lambda m, x: F(m).gelu(x, approximate="tanh"), [(3, 4)], variant="tanh"),
    C("F.silu", lambda m, x: F(m).silu(x), [(3, 4)]),
    C("F.mish", lambda m, x: F(m).mish(x), [(3, 4)]),
    C("F.softplus", lambda m, x: F(m).softplus(x), [(3, 4)]),
    C("F.softplus", lambda m, x: F(m).softplus(x, beta=2, threshold=1), [(3, 4)], variant="beta"),
    C("F.leaky_relu", lambda m, x: F(m).leaky_relu(x, 0.1), [(3, 4)]),
    C("F.hardtanh", lambda m, x: F(m).hardtanh(x), [(3, 4)]),
    C("F.hardswish", lambda m, x: F(m).hardswish(x), [(3, 4)]),
    C("F.hardsigmoid", lambda m, x: F(m).hardsigmoid(x), [(3, 4)]),
    C("F.hardshrink", lambda m, x: F(m).hardshrink(x), [(3, 4)]),
    C("F.softshrink", lambda m, x: F(m).softshrink(x), [(3, 4)]),
    C("F.tanhshrink", lambda m, x: F(m).tanhshrink(x), [(3, 4)]),
    C("F.softsign", lambda m, x: F(m).softsign(x), [(3, 4)]),
    C("F.logsigmoid", lambda m, x: F(m).logsigmoid(x), [(3, 4)]),
    C("F.threshold", lambda m, x: F(m).threshold(x, 0.1, 20.0), [(3, 4)]),
    C("F.sigmoid", lambda m, x: F(m).sigmoid(x), [(3, 4)]),
    C("F.tanh", lambda m, x: F(m).tanh(x), [(3, 4)]),
    C("F.softmax", lambda m, x: F(m).softmax(x, 1), [(3, 4)]),
    C("F.log_softmax", lambda m, x: F(m).log_softmax(x, 1), [(3, 4)]),
    C("F.softmin", lambda m, x: F(m).softmin(x, 1), [(3, 4)]),
    C("F.glu", lambda m, x: F(m).glu(x, 1), [(3, 4)]),
    C("F.prelu", lambda m, x, w: F(m).prelu(x, w), [((3, 4), (4,))]),
    C("F.rrelu", lambda m, x: F(m).rrelu(x, training=False), [(3, 4)]),
    # in-place forms: the result (elu_ ...) or a copy of the input (hardtanh_, silu_ ...) is what is saved
    C("F.elu_", lambda m, x: F(m).elu_(x), [(3, 4)]),
    C("F.elu", lambda m, x: F(m).elu(x, inplace=True), [(3, 4)], variant="inplace"),
    C("F.selu", lambda m, x: F(m).selu(x, inplace=True), [(3, 4)], variant="inplace"),
    C("F.celu", lambda m, x: F(m).celu(x, 0.7, inplace=True), [(3, 4)], variant="inplace"),
    C("F.leaky_relu_", lambda m, x: F(m).leaky_relu_(x, 0.1), [(3, 4)]),
    C("F.rrelu_", lambda m, x: F(m).rrelu_(x), [(3, 4)]),
    C("F.threshold_", lambda m, x: F(m).threshold_(x, 0.1, 20.0), [(3, 4)]),
    C("F.hardtanh_", lambda m, x: F(m).hardtanh_(x), [(3, 4)]),
    C("F.relu6", lambda m, x: F(m).relu6(x, inplace=True), [(3, 4)], variant="inplace"),
    C("F.silu", lambda m, x: F(m).silu(x, inplace=True), [(3, 4)], variant="inplace"),
    C("F.mish", lambda m, x: F(m).mish(x, inplace=True), [(3, 4)], variant="inplace"),
    C("F.hardsigmoid", lambda m, x: F(m).hardsigmoid(x, inplace=True), [(3, 4)], variant="inplace"),
    C("F.hardswish", lambda m, x: F(m).hardswish(x, inplace=True), [(3, 4)], variant="inplace"),
    C("F.normalize", lambda m, x: F(m).normalize(x, dim=1), [(3, 4)]),
    C("F.linear", lambda m, x, w, b: F(m).linear(x, w, b), [((3, 4), (5, 4), (5,))]),
    C("F.bilinear", lambda m, x, y, w, b: F(m).bilinear(x, y, w, b), [((3, 4), (3, 2), (5, 4, 2), (5,))]),
    C("F.layer_norm", lambda m, x, w, b: F(m).layer_norm(x, (4,), w, b), [((3, 4), (4,), (4,))]),
    C("F.layer_norm", lambda m, x: F(m).layer_norm(x, (4,)), [(3, 4)], variant="noaffine"),
    C("F.rms_norm", lambda m, x, w: F(m).rms_norm(x, (4,), w), [((3, 4), (4,))]),
    C("F.group_norm", lambda m, x, w, b: F(m).group_norm(x, 2, w, b), [((2, 4, 3), (4,), (4,))]),
    C("F.batch_norm", lambda m, x, w, b: F(m).batch_norm(x, None, None, w, b, training=True),
      [((5, 3), (3,), (3,))]),
    C("F.batch_norm", lambda m, x, w, b: F(m).batch_norm(x, _f64(m, [0.0] * 3), _f64(m, [1.0] * 3), w, b),
      [((5, 3), (3,), (3,))], variant="eval"),
    C("F.instance_norm", lambda m, x: F(m).instance_norm(x), [(2, 3, 5)]),
    C("F.local_response_norm", lambda m, x: F(m).local_response_norm(x, 2), [(2, 3, 5)]),
    C("F.embedding", lambda m, w: F(m).embedding(_idx(m, [0, 2, 2]), w), [(4, 3)]),
    C("F.embedding_bag", lambda m, w: F(m).embedding_bag(_idx(m, [0, 2, 2, 1]), w, _idx(m, [0, 2])),
      [(4, 3)]),
    C("F.cosine_similarity", lambda m, x, y: F(m).cosine_similarity(x, y), [((3, 4), (3, 4))]),
    C("F.pairwise_distance", lambda m, x, y: F(m).pairwise_distance(x, y), [((3, 4), (3, 4))]),
    C("F.pdist", lambda m, x: F(m).pdist(x), [(4, 3)]),
    C("F.mse_loss", lambda m, x, y: F(m).mse_loss(x, y), [((3, 4), (3, 4))]),
    C("F.l1_loss", lambda m, x, y: F(m).l1_loss(x, y), [((3, 4), (3, 4))]),
    C("F.smooth_l1_loss", lambda m, x, y: F(m).smooth_l1_loss(x, y), [((3, 4), (3, 4))]),
    C("F.huber_loss", lambda m, x, y: F(m).huber_loss(x, y), [((3, 4), (3, 4))]),
    C("F.binary_cross_entropy", lambda m, x, y: F(m).binary_cross_entropy(x, y),
      [((3, 4), (3, 4))], low=0.1, high=0.9),
    C("F.binary_cross_entropy_with_logits", lambda m, x, y: F(m).binary_cross_entropy_with_logits(x, y),
      [((3, 4), (3, 4))]),
    C("F.binary_cross_entropy_with_logits",
      lambda m, x, y, p: F(m).binary_cross_entropy_with_logits(x, y, pos_weight=p),
      [((3, 4), (3, 4), (4,))], variant="pos_weight",
      torch_backward_fails="PyTorch refuses a pos_weight that requires grad"),
    C("F.cross_entropy", lambda m, x: F(m).cross_entropy(x, _idx(m, [0, 2, 1])), [(3, 4)]),
    C("F.cross_entropy", lambda m, x, y: F(m).cross_entropy(x, y.softmax(1)),
      [((3, 4), (3, 4))], variant="probs"),
    C("F.nll_loss", lambda m, x: F(m).nll_loss(x, _idx(m, [0, 2, 1])), [(3, 4)]),
    C("F.kl_div", lambda m, x, y: F(m).kl_div(x, y, reduction="batchmean"),
      [((3, 4), (3, 4))], low=0.1, high=0.9),
    C("F.poisson_nll_loss", lambda m, x, y: F(m).poisson_nll_loss(x, y), [((3, 4), (3, 4))], low=0.1, high=2),
    C("F.gaussian_nll_loss", lambda m, x, y, v: F(m).gaussian_nll_loss(x, y, v),
      [((3, 4), (3, 4), (3, 4))], low=0.1),
    C("F.hinge_embedding_loss", lambda m, x: F(m).hinge_embedding_loss(x, _f64(m, [1.0, -1.0, 1.0, -1.0])),
      [(3, 4)]),
    C("F.soft_margin_loss", lambda m, x, y: F(m).soft_margin_loss(x, y.sign()), [((3, 4), (3, 4))],
      torch_backward_fails="PyTorch refuses a target that requires grad"),
    C("F.multilabel_soft_margin_loss", lambda m, x, y: F(m).multilabel_soft_margin_loss(x, (y > 0).double()),
      [((3, 4), (3, 4))]),
    C("F.multi_margin_loss", lambda m, x: F(m).multi_margin_loss(x, _idx(m, [0, 2, 1])), [(3, 4)]),
    C("F.multilabel_margin_loss",
      lambda m, x: F(m).multilabel_margin_loss(x, _idx(m, [[0, 2, -1, 0], [1, -1, 0, 0], [3, 2, 1, 0]])),
      [(3, 4)]),
    C("F.cosine_embedding_loss", lambda m, x, y: F(m).cosine_embedding_loss(x, y, _f64(m, [1.0, -1.0, 1.0])),
      [((3, 4), (3, 4))]),
    C("F.margin_ranking_loss", lambda m, x, y: F(m).margin_ranking_loss(x, y, _f64(m, [1.0, -1.0, 1.0])),
      [((3,), (3,))]),
    C("F.triplet_margin_loss", lambda m, x, y, z: F(m).triplet_margin_loss(x, y, z),
      [((3, 4), (3, 4), (3, 4))]),
    C("F.max_pool2d", lambda m, x: F(m).max_pool2d(x, 2, return_indices=True),
      [(1, 2, 4, 4)], unique=True, variant="indices"),
    C("F.avg_pool2d", lambda m, x: F(m).avg_pool2d(x, 2), [(1, 2, 4, 4)]),
    C("F.avg_pool3d", lambda m, x: F(m).avg_pool3d(x, 2), [(1, 2, 4, 4, 4)]),
    C("F.adaptive_avg_pool2d", lambda m, x: F(m).adaptive_avg_pool2d(x, (3, 2)), [(1, 2, 5, 4)]),
    C("F.adaptive_avg_pool2d", lambda m, x: F(m).adaptive_avg_pool2d(x, 1), [(1, 2, 5, 4)], variant="one"),
    C("F.adaptive_max_pool2d", lambda m, x: F(m).adaptive_max_pool2d(x, (3, 2), return_indices=True),
      [(1, 2, 5, 4)], unique=True),
    C("F.lp_pool2d", lambda m, x: F(m).lp_pool2d(x, 2, 2), [(1, 2, 4, 4)], low=0.5),
    C("F.fractional_max_pool2d", lambda m, x: F(m).fractional_max_pool2d(
        x, 2, output_size=(2, 2), return_indices=True, _random_samples=_f64(m, [[[0.5, 0.5], [0.5, 0.5]]])),
      [(1, 2, 5, 5)], unique=True),
    C("F.pixel_shuffle", lambda m, x: F(m).pixel_shuffle(x, 2), [(1, 4, 2, 3)]),
    C("F.interpolate", lambda m, x: F(m).interpolate(x, scale_factor=2, mode="bilinear"), [(1, 2, 3, 3)]),
    C("F.interpolate", lambda m, x: F(m).interpolate(x, scale_factor=2, mode="nearest"),
      [(1, 2, 3, 3)], variant="nearest"),
    C("F.interpolate", lambda m, x: F(m).interpolate(x, size=(5, 4), mode="bicubic"),
      [(1, 2, 3, 3)], variant="bicubic"),
    C("F.grid_sample", lambda m, x, g: F(m).grid_sample(x, g.tanh(), align_corners=False),
      [((1, 2, 3, 3), (1, 2, 2, 2))]),
    C("F.pad", lambda m, x: F(m).pad(x, (1, 2), mode="reflect"), [(1, 2, 4)], variant="reflect"),
    C("F.pad", lambda m, x: F(m).pad(x, (1, 2), mode="replicate"), [(1, 2, 4)], variant="replicate"),
    C("F.pad", lambda m, x: F(m).pad(x, (1, 2), mode="circular"), [(1, 2, 4)], variant="circular"),
    C("F.unfold", lambda m, x: F(m).unfold(x, 2), [(1, 2, 3, 3)]),
    C("F.fold", lambda m, x: F(m).fold(x, (3, 3), 2), [(1, 8, 4)]),
    C("F.scaled_dot_product_attention", lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v),
      [((1, 3, 4), (1, 5, 4), (1, 5, 2))]),
    C("F.dropout", lambda m, x: F(m).dropout(x, 0.5, training=False), [(3, 4)]),
    C("F.affine_grid", lambda m, t: F(m).affine_grid(t, (1, 1, 2, 3), align_corners=False), [(1, 2, 3)]),
    C("F.conv2d", lambda m, x, w, b: F(m).conv2d(x, w, b), [((1, 2, 4, 4), (3, 2, 2, 2), (3,))]),
    C("F.one_hot_mul", lambda m, x: x * F(m).one_hot(_idx(m, [0, 1, 2]), 4), [(3, 4)]),
    C("F.ctc_loss", lambda m, x: F(m).ctc_loss(x.log_softmax(2), _idx(m, [[1, 2], [1, 1]]), _idx(m, [4, 4]),
                                               _idx(m, [2, 2])),
      [(4, 2, 3)]),
]
NN_CASES += [                      # PyTorch's CPU flash kernel (4-d, one head size) saves q, k, v, output
    C("F.sdpa4", lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v),
      [((2, 1, 3, 4), (2, 1, 5, 4), (2, 1, 5, 4))]),
    C("F.sdpa4", lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=True),
      [((2, 1, 3, 4), (2, 1, 5, 4), (2, 1, 5, 4))], variant="causal"),
    C("F.sdpa4", lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v),
      [((2, 1, 3, 4), (2, 1, 5, 4), (2, 1, 5, 6))], variant="ev"),
    C("F.sdpa4", lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v, scale=-0.3),
      [((1, 3, 4), (1, 5, 4), (1, 5, 4))], variant="negscale"),
]

_CASES = []
_seen = set()
for _case in OP_CASES + NN_CASES:
    if _case.grad and str(_case) not in _seen and _case.gradient_samples():
        _seen.add(str(_case))
        _CASES.append(_case)


def _outcome(m, case, arrays, grad_mask, where, k):
    """'ok', 'modified' or another error, after modifying input/output k; None when there is no such one."""
    inputs = []
    for a, needs in zip(arrays, grad_mask):
        x = m.tensor(a.copy(), dtype=m.float64, requires_grad=needs)
        inputs.append(x * 1 if needs else x)       # a non-leaf: modifying it in place is allowed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = case.fn(m, *inputs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(o, m.Tensor)]
    loss_terms = [o for o in outs if o.requires_grad]
    targets = inputs if where == "input" else outs
    if k >= len(targets) or not loss_terms:
        return None
    try:
        with m.no_grad():
            t = targets[k]
            if t.dtype == m.bool:
                t.logical_not_()
            else:
                t.add_(1)
        sum(o.sum() for o in loss_terms).backward()
    except RuntimeError as e:
        return "modified" if "modified by an inplace operation" in str(e) else f"error: {str(e)[:80]}"
    return "ok"


def _torch_backward_works(torch, case, arrays, grad_mask):
    """PyTorch's own backward runs without any modification; where it raises, the case must say why
    (OpCase.torch_backward_fails: vander's raises in 2.13, nothing to compare), else the test fails."""
    inputs = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=n) for a, n in zip(arrays, grad_mask)]
    inputs = [x * 1 if n else x for x, n in zip(inputs, grad_mask)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = case.fn(torch, *inputs)
        outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
                if isinstance(o, torch.Tensor) and o.requires_grad]
        if outs:
            sum(o.sum() for o in outs).backward()
    except RuntimeError:
        if not case.torch_backward_fails:
            raise
        return False
    return True


def _grad_masks(n):
    masks = [(True,) * n]
    if n > 1:
        masks += [tuple(i == j for j in range(n)) for i in range(n)]
    return masks


def _divergences(torch, case):
    arrays = case.arrays(case.gradient_samples()[0], "float64")
    found = []
    for mask in _grad_masks(len(arrays)):
        if not _torch_backward_works(torch, case, arrays, mask):
            continue
        for where in ("input", "output"):
            k = 0
            while True:
                want = _outcome(torch, case, arrays, mask, where, k)
                if want is None:
                    break
                got = _outcome(ember, case, arrays, mask, where, k)
                if got != want:
                    found.append(f"requires_grad={mask} modify {where} {k}: ember {got}, torch {want}")
                k += 1
    return found


@pytest.mark.parametrize("case", [pytest.param(c, id=str(c), marks=c.marks("saved")) for c in _CASES])
def test_saves_what_pytorch_saves(torch, case):
    found = _divergences(torch, case)
    assert not found, f"{case}:\n" + "\n".join(found)


# --- without torch: the rule on a few ops, with PyTorch's outcome written down ---------------------------

def _raises_modified(fn):
    try:
        fn()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
        return True
    return False


def _modify_then_backward(m, make, modify):
    x = m.tensor([[0.3, -1.2, 2.0], [0.7, 1.5, -0.4]], dtype=m.float64, requires_grad=True) * 1
    out = make(m, x)
    with m.no_grad():
        (x if modify == "input" else out).add_(1)
    return lambda: out.sum().backward()


EXPECTED = [  # (name, op, what is modified, PyTorch raises)
    ("max_pool1d output (saves indices)", lambda m, x: m.nn.functional.max_pool1d(x[None], 2), "output",
     False),
    ("max_pool1d input", lambda m, x: m.nn.functional.max_pool1d(x[None], 2), "input", True),
    ("conv1d input", lambda m, x: m.conv1d(x[None], m.ones(1, 2, 2, dtype=m.float64)), "input", True),
    ("remainder by a scalar input", lambda m, x: x % 1.5, "input", False),
    ("svd input (saves U, S, Vh)", lambda m, x: m.linalg.svd(x)[1], "input", False),
    ("svdvals output", lambda m, x: m.linalg.svdvals(x), "output", True),
    ("logaddexp input", lambda m, x: m.logaddexp(x, x.detach()), "input", True),
    ("erfinv output (saves the input)", lambda m, x: m.erfinv(x / 3), "output", False),
    ("sgn output", lambda m, x: m.sgn(x), "output", True),
    ("norm 1 output", lambda m, x: m.norm(x, 1), "output", True),
    ("kron input", lambda m, x: m.kron(x, x.detach()), "input", False),
    ("erfcx output (saves input and result)", lambda m, x: m.special.erfcx(x), "output", True),
    ("complex input (saves the parts)", lambda m, x: m.view_as_real(m.complex(x, x.detach())), "input", True),
    ("polar input (saves only the result)", lambda m, x: m.view_as_real(m.polar(x, x.detach())), "input", False),
    ("selu_ result (EluBackward1 saves it)", lambda m, x: m.selu_(x), "output", True),
    ("threshold_ result (keeps a copy of the input)", lambda m, x: m.threshold_(x, 0.5, 2.0), "output", False),
]


@pytest.mark.parametrize("name, make, modify, raises", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_saved_values_without_torch(name, make, modify, raises):
    assert _raises_modified(_modify_then_backward(ember, make, modify)) is raises
    try:
        import torch
    except ImportError:
        return
    assert _raises_modified(_modify_then_backward(torch, make, modify)) is raises     # the expectation holds


def test_saved_index_output_is_version_checked():
    # max(dim) saves its indices: modifying them in place is caught, modifying the values is not
    x = ember.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    values, indices = x.max(1)
    with ember.no_grad():
        values.add_(1)
    values.sum().backward()
    values, indices = x.max(1)
    with ember.no_grad():
        indices.zero_()
    assert _raises_modified(lambda: values.sum().backward())
