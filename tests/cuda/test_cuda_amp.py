"""Autocast and GradScaler on the cuda device.

autocast("cuda", dtype=float16) casts by PyTorch's CUDA lists (aten/src/ATen/autocast_mode.h), which differ from
the CPU's: the table below writes out, op by op, the result dtype PyTorch gives under a CUDA region, independently
of ember's own copy of the lists (ember/amp/_op_lists.py), so a missing hook or a wrong list entry fails here.
GradScaler keeps its scale, growth tracker and inf checks on the device: a training loop with overflowing
gradients matches the same loop on the cpu, and the checks do not copy gradients to the host."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember._backends import cuda as backend

nn = ember.nn
H, S = ember.float16, ember.float32


def _i(values):
    return ember.tensor(values, device="cuda")


# name, fn(*inputs), input dtypes, expected result dtype (PyTorch 2.13 under torch.autocast("cuda", float16))
# lower: float32 in, float16 out
LOWER = [
    ("mm", lambda a, b: a @ b.T, (S, S), H),
    ("matmul", lambda a, b: ember.matmul(a, b.T), (S, S), H),
    ("bmm", lambda a, b: ember.bmm(a[None], b.T[None]), (S, S), H),
    ("addmm", lambda a, b: ember.addmm(a[:, :3], a, b.T), (S, S), H),
    ("mv", lambda a, b: ember.mv(a, b[0]), (S, S), H),
    ("einsum", lambda a, b: ember.einsum("ij,kj->ik", a, b), (S, S), H),
    ("linear", lambda a, b: F.linear(a, b), (S, S), H),
    ("conv1d", lambda a, b: F.conv1d(a[None], b[:, :3, None]), (S, S), H),
    ("prelu", lambda a, b: F.prelu(a, b[0, :1]), (S, S), H),
    ("sdpa", lambda a, b: F.scaled_dot_product_attention(a[None], b[None], b[None]), (S, S), H),
    ("chain_matmul", lambda a, b: ember.linalg.multi_dot([a, b.T, a]), (S, S), H),
    ("lstm_cell", lambda a, b: nn.LSTMCell(4, 3).cuda()(a)[0], (S, S), H),
    ("gru_cell", lambda a, b: nn.GRUCell(4, 3).cuda()(a), (S, S), H),
    ("rnn_tanh_cell", lambda a, b: nn.RNNCell(4, 3).cuda()(a), (S, S), H),
    ("lstm", lambda a, b: nn.LSTM(4, 3).cuda()(a[None])[0], (S, S), H),
    ("gru", lambda a, b: nn.GRU(4, 3, num_layers=2).cuda()(a[None])[0], (S, S), H),
]
# fp32: float16 in, float32 out
FP32 = [(name, fn, (H, H), S) for name, fn in [
    ("exp", lambda a, b: ember.exp(a)), ("log", lambda a, b: a.abs().log()), ("log1p", lambda a, b: a.abs().log1p()),
    ("log2", lambda a, b: ember.log2(a.abs())), ("log10", lambda a, b: ember.log10(a.abs())),
    ("expm1", lambda a, b: ember.expm1(a)), ("acos", lambda a, b: ember.acos(a / 4)),
    ("asin", lambda a, b: ember.asin(a / 4)), ("cosh", lambda a, b: ember.cosh(a)),
    ("sinh", lambda a, b: ember.sinh(a)), ("tan", lambda a, b: ember.tan(a)),
    ("erfinv", lambda a, b: ember.erfinv(a / 4)), ("reciprocal", lambda a, b: ember.reciprocal(a)),
    ("rsqrt", lambda a, b: ember.rsqrt(a.abs())), ("pow_scalar", lambda a, b: a ** 2),
    ("pow_tensor", lambda a, b: ember.pow(a.abs(), b)), ("rpow", lambda a, b: 2 ** a),
    ("softplus", lambda a, b: F.softplus(a)), ("layer_norm", lambda a, b: F.layer_norm(a, (4,))),
    ("rms_norm", lambda a, b: F.rms_norm(a, (4,))), ("group_norm", lambda a, b: F.group_norm(a[None], 1)),
    ("layer_norm_module", lambda a, b: nn.LayerNorm(4).cuda()(a)),
    ("frobenius_norm", lambda a, b: ember.norm(a, "fro", dim=(0, 1))),
    ("nuclear_norm", lambda a, b: ember.nuclear_norm(a)),
    ("cosine_similarity", lambda a, b: F.cosine_similarity(a, b)),
    ("dist", lambda a, b: ember.dist(a, b)), ("pdist", lambda a, b: F.pdist(a)), ("cdist", lambda a, b: ember.cdist(a, b)),
    ("renorm", lambda a, b: ember.renorm(a, 2, 0, 1.0)), ("logsumexp", lambda a, b: ember.logsumexp(a, 1)),
    ("mse_loss", lambda a, b: F.mse_loss(a, b)), ("l1_loss", lambda a, b: F.l1_loss(a, b)),
    ("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b)), ("huber_loss", lambda a, b: F.huber_loss(a, b)),
    ("nll_loss", lambda a, b: F.nll_loss(a, _i([0, 1, 3]))),
    ("cross_entropy", lambda a, b: F.cross_entropy(a, _i([0, 1, 3]))),
    ("kl_div", lambda a, b: F.kl_div(a, b, reduction="batchmean")),
    ("bce_with_logits", lambda a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid())),
    ("soft_margin_loss", lambda a, b: F.soft_margin_loss(a, b)),
    ("multi_margin_loss", lambda a, b: F.multi_margin_loss(a, _i([0, 1, 3]))),
    ("poisson_nll_loss", lambda a, b: F.poisson_nll_loss(a, b.abs())),
    ("cosine_embedding_loss", lambda a, b: F.cosine_embedding_loss(a, b, _i([1, -1, 1]))),
    ("hinge_embedding_loss", lambda a, b: F.hinge_embedding_loss(a, b)),
    ("margin_ranking_loss", lambda a, b: F.margin_ranking_loss(a[0], b[0], b[1].sign())),
    ("triplet_margin_loss", lambda a, b: F.triplet_margin_loss(a, b, a + b)),
    ("upsample_nearest", lambda a, b: F.interpolate(a[None], scale_factor=2)),
    ("upsample_bilinear", lambda a, b: F.interpolate(a[None, None], size=(4, 6), mode="bilinear")),
    ("upsample_module", lambda a, b: nn.Upsample(scale_factor=2, mode="nearest-exact")(a[None])),
    # PyTorch composites over listed ops: float32 through them
    ("softmin", lambda a, b: F.softmin(a, 1)), ("normalize", lambda a, b: F.normalize(a)),
    ("local_response_norm", lambda a, b: F.local_response_norm(a[None], 2)),
    ("gaussian_nll_loss", lambda a, b: F.gaussian_nll_loss(a, b, b.abs() + 1)),
    ("transformer_layer", lambda a, b: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0).cuda()(a[None])),
]]
# fp32_opt: float32 unless dtype= is given; fp32_dim (norm): always float32
FP32_OPT = [(name, fn, (H, H), S) for name, fn in [
    ("sum", lambda a, b: a.sum()), ("sum_dim", lambda a, b: ember.sum(a, 1)), ("prod", lambda a, b: a.prod(0)),
    ("cumsum", lambda a, b: a.cumsum(1)), ("cumprod", lambda a, b: ember.cumprod(a, 0)),
    ("softmax", lambda a, b: F.softmax(a, -1)), ("log_softmax", lambda a, b: a.log_softmax(0)),
    ("softmax_module", lambda a, b: nn.Softmax(1)(a)),
    ("vector_norm", lambda a, b: ember.linalg.vector_norm(a)), ("matrix_norm", lambda a, b: ember.linalg.matrix_norm(a)),
    ("norm", lambda a, b: a.norm()), ("norm_p", lambda a, b: ember.norm(a, 3, dim=1)),
]] + [
    ("sum_dtype", lambda a, b: a.sum(dtype=ember.float64), (H, H), ember.float64),
    ("softmax_dtype", lambda a, b: F.softmax(a, 0, dtype=ember.float16), (H, H), H),
]
# promote: the widest floating dtype of the arguments
PROMOTE = [
    ("addcmul", lambda a, b: ember.addcmul(a, b, a.float()), (H, H), S),
    ("addcdiv", lambda a, b: ember.addcdiv(a, b, a.float().abs() + 1), (H, H), S),
    ("atan2", lambda a, b: ember.atan2(a, b), (H, S), S),
    ("cross", lambda a, b: ember.linalg.cross(a[:, :3], b[:, :3]), (H, S), S),
    ("dot", lambda a, b: ember.dot(a[0], b[0]), (H, S), S),
    ("bilinear", lambda a, b: F.bilinear(a, b, ember.ones(2, 4, 4, device="cuda")), (H, H), S),
    ("tensordot", lambda a, b: ember.tensordot(a, b.T, 1), (H, S), S),
    ("scatter_add", lambda a, b: ember.scatter_add(a, 1, _i([[0, 1]] * 3), b[:, :2]), (H, S), S),
    ("index_put", lambda a, b: a.index_put((_i([0, 2]),), b[0, :4][None].expand(2, 4)), (H, S), S),
    ("grid_sample", lambda a, b: F.grid_sample(a[None, None], b[None, :, :2][..., None, :].expand(1, 3, 2, 2)
                                                .contiguous()), (H, S), S),
]
# not on the CUDA lists (some are on the CPU's): the ordinary dtype rules
UNLISTED = [
    ("sin", lambda a, b: a.sin(), (H, H), H), ("relu", lambda a, b: F.relu(a), (H, H), H),
    ("sqrt", lambda a, b: a.abs().sqrt(), (H, H), H), ("gelu", lambda a, b: F.gelu(a), (H, H), H),
    ("cat", lambda a, b: ember.cat([a, b]), (H, H), H), ("stack", lambda a, b: ember.stack([a, b]), (H, H), H),
    ("max_pool3d", lambda a, b: F.max_pool3d(a[None, None, None], (1, 1, 2)), (H, H), H),
    ("mean", lambda a, b: a.mean(), (H, H), H), ("batch_norm", lambda a, b: F.batch_norm(a, None, None,
                                                                                         training=True), (H, H), H),
    ("float64_untouched", lambda a, b: a @ b.T, (ember.float64, ember.float64), ember.float64),
    ("upsample_area", lambda a, b: F.interpolate(a[None], size=2, mode="area"), (H, H), H),
    ("multihead_attention", lambda a, b: nn.MultiheadAttention(4, 2).cuda()(a[None], a[None], a[None])[0], (S, S),
     H),
] + [(name, lambda a, b, fn=fn: fn(a), (H, H), H) for name, fn in [    # other kernels off the lists keep float16
    ("elu", F.elu), ("selu", F.selu), ("silu", F.silu), ("mish", F.mish), ("hardswish", F.hardswish),
    ("leaky_relu", F.leaky_relu), ("logsigmoid", F.logsigmoid), ("softsign", F.softsign),
    ("tanhshrink", F.tanhshrink), ("tanh", ember.tanh), ("sigmoid", ember.sigmoid), ("glu", F.glu),
    ("instance_norm", lambda a: F.instance_norm(a[None])), ("dropout", F.dropout), ("var", ember.var),
    ("logcumsumexp", lambda a: ember.logcumsumexp(a, 1)), ("erf", ember.erf), ("exp2", ember.exp2),
    ("logaddexp", lambda a: ember.logaddexp(a, a)), ("max_pool1d", lambda a: F.max_pool1d(a[None], 2)),
]]
CASES = LOWER + FP32 + FP32_OPT + PROMOTE + UNLISTED
# ops whose result, outside a region, has their first input's dtype (the others refuse float16 inputs there, or
# mixed dtypes)
CAST_BY_AUTOCAST = {c[0] for c in LOWER + FP32 + FP32_OPT[:-2]} - {"pdist", "cdist", "nuclear_norm",
                                                                     "transformer_layer"}


def _inputs(dtypes):
    rng = np.random.default_rng(0)
    return [ember.from_numpy(rng.uniform(-2, 2, size=(3, 4))).to("cuda", dtype) for dtype in dtypes]


@pytest.mark.parametrize("name, fn, dtypes, expected", [pytest.param(*c, id=c[0]) for c in CASES])
def test_cuda_autocast_result_dtype(name, fn, dtypes, expected, cuda_device):
    a, b = _inputs(dtypes)
    with ember.autocast("cuda", dtype=ember.float16):
        out = fn(a, b)
    assert out.dtype is expected, f"{name}: {out.dtype}, PyTorch gives {expected}"
    assert out.is_cuda and isinstance(out._array, backend.xp.ndarray)
    if name in CAST_BY_AUTOCAST:                    # outside the region the op keeps its input's dtype
        assert fn(a, b).dtype is dtypes[0]


def test_cuda_autocast_leaves_cpu_tensors_alone(cuda_device):
    a = ember.ones(2, 2)
    with ember.autocast("cuda"):
        assert (a @ a).dtype is S and ember.exp(a.half()).dtype is H
        assert (a.cuda() @ a.cuda()).dtype is H


def test_deprecated_cuda_amp_autocast(cuda_device):
    a = _inputs((S, S))[0]
    with pytest.warns(FutureWarning, match="torch.cuda.amp.autocast"):
        region = ember.cuda.amp.autocast()
    with region:
        assert (a @ a.T).dtype is H and ember.exp(a.half()).dtype is S
    with pytest.warns(FutureWarning):
        @ember.cuda.amp.autocast(dtype=ember.float16)
        def f(x):
            return F.softmax(x.half(), 0)
    assert f(a).dtype is S


def test_cuda_autocast_training_step(cuda_device):
    """A float32 model trained in a float16 region on cuda: float16 activations, float32 loss, float32 gradients
    (through the cast nodes), and the same step as on the cpu where no value rounds differently."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3)).cuda()
    x, y = _inputs((S,))[0], _i([0, 2, 1])
    with ember.autocast("cuda"):
        hidden = model[0](x)
        normed = model[1](hidden)
        logits = model[3](model[2](normed))
        loss = F.cross_entropy(logits, y)
    assert hidden.dtype is H and normed.dtype is S and logits.dtype is H and loss.dtype is S
    loss.backward()
    assert all(p.grad.dtype is S and p.grad.is_cuda for p in model.parameters())


# --- GradScaler -------------------------------------------------------------------------------------------

def _scaled_loop(device, steps=6, inf_at=(1, 4)):
    """(losses, scales, weights) of a tiny model trained with a GradScaler whose gradients overflow at inf_at."""
    ember.manual_seed(0)
    model = nn.Linear(3, 2).to(device)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    scaler = ember.amp.GradScaler(device, init_scale=2.0 ** 8, growth_interval=2)
    x = ember.linspace(-1, 1, 12).reshape(4, 3).to(device)
    losses, scales = [], []
    for step in range(steps):
        opt.zero_grad()
        loss = model(x).pow(2).mean() * (float("inf") if step in inf_at else 1.0)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
        scales.append(scaler.get_scale())
    assert scaler._scale.device.type == device and scaler._growth_tracker.device.type == device
    return losses, scales, [p.detach().cpu().numpy() for p in model.parameters()]


def test_grad_scaler_on_cuda_matches_cpu(cuda_device):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # clip_grad_norm_ of non-finite gradients
        cpu = _scaled_loop("cpu")
        gpu = _scaled_loop(cuda_device)
    assert gpu[1] == cpu[1] == [256.0, 128.0, 128.0, 256.0, 128.0, 128.0]
    np.testing.assert_array_equal(gpu[0], cpu[0])
    for a, b in zip(gpu[2], cpu[2]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_grad_scaler_checks_infs_on_the_device(cuda_device, monkeypatch):
    """unscale_ finds the overflow and divides by the scale without reading any gradient on the host."""
    model = nn.Linear(3, 2).cuda()
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    scaler = ember.amp.GradScaler("cuda", init_scale=4.0)
    scaler.scale(model(ember.ones(1, 3, device="cuda")).sum()).backward()
    with ember.no_grad():
        model.bias.grad[1] = float("nan")
    expected = model.weight.grad.cpu().numpy() / 4
    reads = []
    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__"):
        original = getattr(ember.Tensor, name)
        monkeypatch.setattr(ember.Tensor, name, lambda self, *a, _o=original, _n=name, **k: (
            reads.append(_n) if self.is_cuda else None) or _o(self, *a, **k))
    scaler.unscale_(opt)
    found = scaler._found_inf_per_device(opt)
    monkeypatch.undo()
    assert reads == [], f"unscale_ copied to the host: {reads}"
    assert [d.type for d in found] == ["cuda"] and found[ember.device("cuda:0")].item() == 1.0
    np.testing.assert_allclose(model.weight.grad.cpu().numpy(), expected)
    assert scaler.step(opt) is None                  # skipped: the weights keep their values
    scaler.update()
    assert scaler.get_scale() == 2.0


def test_grad_scaler_update_keeps_the_scale_finite_on_cuda(cuda_device):
    scaler = ember.amp.GradScaler("cuda", init_scale=3e38, growth_factor=2.0, growth_interval=1)
    p = nn.Parameter(ember.ones(2, device="cuda"))
    opt = ember.optim.SGD([p], lr=0.0)
    scaler.scale(p.sum()).backward()
    scaler.step(opt)
    scaler.update()                                  # 6e38 overflows float32: the scale stays
    assert scaler.get_scale() == pytest.approx(3e38) and scaler._get_growth_tracker() == 0
    assert scaler._scale.is_cuda and scaler._scale.dtype is S
