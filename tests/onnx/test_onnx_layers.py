"""ember.onnx.export op by op and layer by layer: every converter family is exported, checked by
onnx.checker (full_check) and run in onnxruntime, whose outputs must equal ember's eager outputs at the traced
batch size and, through a dynamic batch axis, at another one."""
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import ember as torch  # noqa: E402
import ember.nn.functional as F  # noqa: E402
from ember import nn  # noqa: E402
from ember.onnx import OnnxExporterError  # noqa: E402


class Fn(nn.Module):
    """A function as a module (its parameters, when it needs any, given as `params`)."""

    def __init__(self, fn, **params):
        super().__init__()
        self.fn = fn
        for name, p in params.items():
            setattr(self, name, nn.Parameter(p) if p.is_floating_point() else p)

    def forward(self, *args):
        return self.fn(self, *args)


def _flat(value):
    if isinstance(value, torch.Tensor):
        return [value]
    return [t for v in value for t in _flat(v)]


def roundtrip(model, make, batches=(2, 3), dynamic=True, rtol=1e-4, atol=1e-5, opset=None):
    """Export model(*make(batches[0])) with dim 0 of every input dynamic; check the model; compare
    onnxruntime with ember at each batch size. Returns the ONNXProgram."""
    if isinstance(model, nn.Module):
        model.eval()
    inputs = make(batches[0])
    names = [f"input_{i}" for i in range(len(inputs))]
    axes = {n: {0: "batch"} for n, t in zip(names, inputs) if dynamic and t.dim() > 0}
    program = torch.onnx.export(model, tuple(inputs), input_names=names, dynamic_axes=axes or None,
                                opset_version=opset)
    proto = program.model_proto
    onnx.checker.check_model(proto, full_check=True)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    for batch in batches if dynamic else batches[:1]:
        inputs = make(batch)
        with torch.no_grad():
            expected = _flat(model(*inputs))
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})
        assert len(got) == len(expected)
        for e, o in zip(expected, got):
            e = e.numpy()
            assert o.dtype == e.dtype, (o.dtype, e.dtype)
            assert o.shape == e.shape, (o.shape, e.shape)
            np.testing.assert_allclose(o, e, rtol=rtol, atol=atol)
    return program


def op_types(program):
    return [n.op_type for n in program.model_proto.graph.node]


def randn(*shape):
    return lambda b: (torch.randn(b, *shape),)


def modules(*items):
    return [pytest.param(m, id=m.__class__.__name__ if i is None else i) for m, i in items]


# -- elementwise --------------------------------------------------------------------------------------------

ELEMENTWISE = {
    "add": lambda m, x, y: x + y,
    "add_scalar_left": lambda m, x, y: 2.5 + x,
    "add_alpha": lambda m, x, y: torch.add(x, y, alpha=3),
    "sub": lambda m, x, y: x - y,
    "rsub_scalar": lambda m, x, y: 1.5 - x,
    "rsub_fn": lambda m, x, y: torch.rsub(x, y, alpha=2),
    "sub_alpha": lambda m, x, y: torch.sub(x, y, alpha=0.5),
    "mul_broadcast": lambda m, x, y: x * y[:1],
    "rmul": lambda m, x, y: 3 * x,
    "div": lambda m, x, y: x / (y.abs() + 1),
    "rdiv": lambda m, x, y: 2 / (y.abs() + 1),
    "div_floor": lambda m, x, y: torch.div(x * 4, y.abs() + 1, rounding_mode="floor"),
    "div_trunc": lambda m, x, y: torch.div(x * 4, y.abs() + 1, rounding_mode="trunc"),
    "floordiv_scalar": lambda m, x, y: x * 5 // 2,
    "rfloordiv": lambda m, x, y: 5 // (y.abs() + 1),
    "mod": lambda m, x, y: (x * 5) % 2,
    "rmod": lambda m, x, y: 5 % (y.abs() + 1),
    "fmod": lambda m, x, y: torch.fmod(x * 5, 2),
    "pow_scalar": lambda m, x, y: x ** 2,
    "rpow": lambda m, x, y: 2 ** x,
    "pow_tensor": lambda m, x, y: (x.abs() + 0.5) ** y,
    "neg_abs": lambda m, x, y: -x.abs(),
    "unary_chain": lambda m, x, y: torch.exp(x).log() + x.sin() * x.cos() + torch.tanh(y) + x.abs().sqrt()
    + torch.rsqrt(x.abs() + 1) + torch.reciprocal(y.abs() + 1) + x.floor() + y.ceil() + (x * 3).round()
    + x.sign() + torch.erf(x) + torch.log1p(x.abs()) + torch.expm1(x) + x.square() + torch.log2(x.abs() + 1)
    + torch.log10(x.abs() + 1) + torch.atan(x) + torch.sinh(x) + torch.cosh(x) + torch.asinh(x)
    + torch.asin(x.clamp(-0.9, 0.9)) + torch.acos(x.clamp(-0.9, 0.9)) + torch.atanh(x.clamp(-0.9, 0.9))
    + torch.acosh(x.abs() + 1),
    "maximum": lambda m, x, y: torch.maximum(x, y) + torch.minimum(x, y[0]),
    "max_elementwise": lambda m, x, y: torch.max(x, y) - torch.min(x, y),
    "inplace": lambda m, x, y: x.clone().add_(y).mul_(2).sub_(1).div_(4),
    "clamp": lambda m, x, y: x.clamp(-0.5, 0.5) + x.clamp(min=0) + x.clamp(max=0.1) + torch.clamp(x, y, y + 1),
    "clamp_min_max": lambda m, x, y: torch.clamp_min(x, 0.2) + torch.clamp_max(x, -0.2),
    "where": lambda m, x, y: torch.where(x > y, x, y) + torch.where(x > 0, x, 0.0),
    "masked_fill": lambda m, x, y: x.masked_fill(y > 0, -math.inf).exp(),
    "masked_fill_tensor_value": lambda m, x, y: x.masked_fill(y > 0, torch.tensor(2.0)),
    "compare": lambda m, x, y: torch.stack([(x > y), (x >= 0), (x < y), (0.1 <= x), (x == y), (x != 0)]).float(),
    "logical": lambda m, x, y: ((x > 0) & (y > 0)) | ~(x > y) ^ (y < 0),
    "logical_fns": lambda m, x, y: torch.logical_and(x > 0, y) .float() + torch.logical_not(x > 0).float()
    + torch.logical_or(x, y > 0).float() + torch.logical_xor(x > 0, y > 0).float(),
    "isnan_isinf": lambda m, x, y: torch.isnan(torch.where(x > 0.5, math.nan, x)).float()
    + torch.isinf(torch.where(y < -0.5, -math.inf, y)).float() + x.isnan().float(),
    "casts": lambda m, x, y: (x * 4).long() + (y * 4).int().long() + x.to(torch.float64).sum() + x.double()
    .float().sum() + (x > 0).to(torch.int64) + x.type_as(y).sum() + x.half().float().sum() * 0,
    "int_arith": lambda m, x, y: ((x * 10).long() // 3) + ((x * 10).long() % 3) - (y * 10).long().abs(),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise(name):
    fn = ELEMENTWISE[name]
    roundtrip(Fn(fn), lambda b: (torch.randn(b, 3, 4), torch.randn(b, 3, 4)))


def test_scalar_operand_dtypes_follow_promotion():
    # int tensor with a float scalar computes in float32; a float64 tensor keeps float64
    roundtrip(Fn(lambda m, i, d: (i * 1.5, i + 2, d * 2, d + i)),
              lambda b: (torch.randint(0, 5, (b, 3)), torch.randn(b, 3, dtype=torch.float64)))


# -- activations ------------------------------------------------------------------------------------------------

ACTIVATIONS = [nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.SELU(), nn.CELU(1.3), nn.GELU(),
               nn.GELU(approximate="tanh"), nn.SiLU(), nn.Mish(), nn.Softplus(), nn.Softplus(beta=2, threshold=3),
               nn.Hardtanh(-0.5, 2.0), nn.Hardsigmoid(), nn.Hardswish(), nn.Softsign(), nn.Tanhshrink(),
               nn.LogSigmoid(), nn.PReLU(), nn.PReLU(4, init=0.1), nn.Threshold(0.1, -2.0), nn.Sigmoid(), nn.Tanh(),
               nn.Softmax(dim=1), nn.LogSoftmax(dim=-1), nn.Softmin(dim=1), nn.GLU(dim=1), nn.Hardshrink(0.4),
               nn.Softshrink(0.3), nn.Softmax2d()]


@pytest.mark.parametrize("module", ACTIVATIONS, ids=lambda m: repr(m).replace(" ", ""))
def test_activation_modules(module):
    if isinstance(module, nn.PReLU) and module.num_parameters > 1:
        with torch.no_grad():
            module.weight.copy_(torch.tensor([0.1, -0.2, 0.3, 0.5]))
    roundtrip(module, lambda b: (torch.randn(b, 4, 5, 6) * 3,))


def test_activation_functions_inplace_and_scalars():
    roundtrip(Fn(lambda m, x: F.relu(x.clone(), inplace=True) + F.leaky_relu(x.clone(), 0.3, inplace=True)
                 + F.elu(x) + F.hardtanh(x, -0.2, 0.2) + F.relu6(x * 4) + torch.sigmoid(x) + F.silu(x)
                 + F.softmax(x, -1) + F.log_softmax(x, 0) + F.gelu(x) + F.threshold(x, 0.5, 0.0)),
              randn(3, 5))


# -- linear algebra -----------------------------------------------------------------------------------------------

def test_linear_and_bilinear_shapes():
    roundtrip(nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3, bias=False)), randn(4, 5))


def test_matmul_bmm_einsum_addmm():
    w = torch.randn(5, 6)
    model = Fn(lambda m, x, y: (x @ m.w, torch.bmm(x, y), torch.matmul(x[:, 0], m.w),
                                torch.einsum("bij,bjk->bik", x, y), torch.einsum("b i j -> b j i", x),
                                torch.addmm(m.bias, x[:, 0], m.w, beta=0.5, alpha=2.0), x[:, 0] @ m.w[:, 0],
                                torch.mm(x[0], m.w)), w=w, bias=torch.randn(6))
    roundtrip(model, lambda b: (torch.randn(b, 4, 5), torch.randn(b, 5, 3)))


# -- convolution ----------------------------------------------------------------------------------------------------

CONVS = modules(
    (nn.Conv1d(4, 6, 3), "conv1d"),
    (nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), "conv1d_groups_dilation"),
    (nn.Conv1d(4, 4, 4, padding="same"), "conv1d_same_even"),
    (nn.Conv1d(4, 4, 3, padding="valid", bias=False), "conv1d_valid"),
    (nn.Conv1d(4, 6, 3, padding=2, padding_mode="reflect"), "conv1d_reflect"),
    (nn.Conv1d(4, 6, 3, padding=1, padding_mode="circular"), "conv1d_circular"),
    (nn.Conv2d(4, 8, 3, padding=1), "conv2d"),
    (nn.Conv2d(4, 8, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=4), "conv2d_groups"),
    (nn.Conv2d(4, 4, 3, padding="same", dilation=2), "conv2d_same_dilation"),
    (nn.Conv2d(4, 4, 4, padding="same"), "conv2d_same_even"),
    (nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect"), "conv2d_reflect"),
    (nn.Conv2d(4, 6, 3, padding=(1, 2), padding_mode="replicate"), "conv2d_replicate"),
    (nn.Conv2d(4, 6, 3, padding=1, padding_mode="circular"), "conv2d_circular"),
    (nn.Conv2d(4, 6, 3, padding="same", padding_mode="reflect"), "conv2d_same_reflect"),
    (nn.Conv3d(4, 4, 3, padding=1, stride=2), "conv3d"),
    (nn.Conv3d(4, 4, 2, padding=1, padding_mode="replicate", groups=2), "conv3d_replicate"),
    (nn.ConvTranspose1d(4, 6, 3, stride=2), "convT1d"),
    (nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), "convT1d_output_padding"),
    (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), "convT2d"),
    (nn.ConvTranspose2d(4, 8, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=4,
                        dilation=(1, 2)), "convT2d_groups"),
)


@pytest.mark.parametrize("module", CONVS)
def test_convolutions(module):
    spatial = {"Conv1d": (9,), "ConvTranspose1d": (9,), "Conv2d": (9, 8), "ConvTranspose2d": (6, 5),
               "Conv3d": (6, 5, 4)}[type(module).__name__]
    roundtrip(module, randn(4, *spatial))


def test_convolution_functions():
    model = Fn(lambda m, x: (F.conv2d(x, m.w, None, 1, "same", 1, 2), F.conv2d(x, m.w, m.b, groups=2, padding=1),
                             F.conv_transpose2d(x, m.wt, m.b, stride=2, padding=1, output_padding=1, groups=2),
                             F.conv1d(x[:, :, 0], m.w[:, :, 0], stride=2, groups=2)),
               w=torch.randn(6, 2, 3, 3), b=torch.randn(6), wt=torch.randn(4, 3, 3, 3))
    roundtrip(model, randn(4, 5, 5))


# -- normalisation, pooling, dropout, embedding -----------------------------------------------------------------------

def _trained_stats(module):
    module.train()
    with torch.no_grad():
        for _ in range(3):
            shape = {nn.BatchNorm1d: (8, 4, 5), nn.BatchNorm2d: (8, 4, 5, 5)}[type(module)]
            module(torch.randn(*shape) * 2 + 1)
    return module


NORMS = modules(
    (_trained_stats(nn.BatchNorm1d(4)), "batchnorm1d"),
    (_trained_stats(nn.BatchNorm2d(4)), "batchnorm2d"),
    (nn.BatchNorm2d(4, affine=False), "batchnorm2d_no_affine"),
    (nn.LayerNorm(5), "layernorm"),
    (nn.LayerNorm((4, 5), elementwise_affine=False), "layernorm_2d_no_affine"),
    (nn.LayerNorm(5, bias=False), "layernorm_no_bias"),
    (nn.GroupNorm(2, 4), "groupnorm"),
    (nn.GroupNorm(4, 4, affine=False), "groupnorm_no_affine"),
    (nn.InstanceNorm1d(4), "instancenorm1d"),
    (nn.InstanceNorm2d(4, affine=True), "instancenorm2d_affine"),
    (nn.LocalResponseNorm(3), "local_response_norm"),
)


@pytest.mark.parametrize("module", NORMS)
def test_normalisation(module):
    if getattr(module, "weight", None) is not None:
        with torch.no_grad():
            module.weight.normal_()
            if getattr(module, "bias", None) is not None:
                module.bias.normal_()
    shape = (4, 5) if isinstance(module, (nn.BatchNorm1d, nn.InstanceNorm1d)) else (4, 5, 5)
    if isinstance(module, nn.LayerNorm) and len(module.normalized_shape) == 2:
        shape = (3, 4, 5)
    roundtrip(module, lambda b: (torch.randn(b, *shape) * 2 + 0.5,), atol=1e-4)


def test_batchnorm_training_mode_export_refused():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(OnnxExporterError, match="batch_norm"):
        torch.onnx.export(bn, (torch.randn(4, 3),), training=torch.onnx.TrainingMode.TRAINING)


POOLS = modules(
    (nn.MaxPool1d(2), "maxpool1d"),
    (nn.MaxPool1d(3, stride=2, padding=1), "maxpool1d_pad"),
    (nn.MaxPool2d(2), "maxpool2d"),
    (nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True), "maxpool2d_ceil"),
    (nn.MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1)), "maxpool2d_dilation"),
    (nn.AvgPool1d(3, stride=2, padding=1), "avgpool1d"),
    (nn.AvgPool2d(2), "avgpool2d"),
    (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), "avgpool2d_exclude_pad"),
    (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), "avgpool2d_ceil"),
    (nn.AdaptiveAvgPool1d(1), "adaptive_avg1d_global"),
    (nn.AdaptiveAvgPool1d(4), "adaptive_avg1d"),
    (nn.AdaptiveAvgPool2d((1, 1)), "adaptive_avg2d_global"),
    (nn.AdaptiveAvgPool2d((2, 4)), "adaptive_avg2d"),
    (nn.AdaptiveAvgPool2d((None, 2)), "adaptive_avg2d_none"),
    (nn.AdaptiveMaxPool1d(2), "adaptive_max1d"),
    (nn.AdaptiveMaxPool2d(1), "adaptive_max2d_global"),
    (nn.AdaptiveMaxPool2d((4, 2)), "adaptive_max2d"),
)


@pytest.mark.parametrize("module", POOLS)
def test_pooling(module):
    spatial = (8,) if type(module).__name__.endswith("1d") else (8, 8)
    roundtrip(module, randn(3, *spatial))


def test_adaptive_pool_uneven_raises():
    with pytest.raises(OnnxExporterError, match="adaptive"):
        torch.onnx.export(nn.AdaptiveAvgPool2d(3), (torch.randn(1, 2, 8, 8),))


def test_dropout_removed_in_eval():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.AlphaDropout(0.2), nn.Unflatten(1, (1, 2, 2)),
                          nn.Dropout2d(0.3), nn.ReLU())
    program = roundtrip(model, randn(4))
    assert not {"Dropout", "RandomUniformLike", "RandomUniform"} & set(op_types(program))


def test_embedding():
    emb = nn.Embedding(10, 4, padding_idx=0)
    roundtrip(nn.Sequential(emb, nn.Flatten()), lambda b: (torch.randint(0, 10, (b, 3)),))
    roundtrip(Fn(lambda m, i: F.embedding(i, m.w), w=torch.randn(6, 3)), lambda b: (torch.randint(0, 6, (b, 2, 3)),))


# -- shapes ------------------------------------------------------------------------------------------------------------

SHAPES = {
    "flatten": lambda m, x: (nn.Flatten()(x), x.flatten(), x.flatten(1, 2), torch.flatten(x, 2)),
    "unflatten": lambda m, x: (nn.Unflatten(1, (2, 2))(x), x.unflatten(-1, (3, -1))),
    "view_reshape": lambda m, x: (x.view(x.shape[0], -1), x.reshape(-1, 6), x.view(x.size(0), 4, 2, 3),
                                  x.reshape((x.shape[0] * 4, 6))),
    "view_as": lambda m, x: x.view_as(x.transpose(1, 2).contiguous()) + x.reshape_as(x.transpose(1, 2)),
    "permute_transpose": lambda m, x: (x.permute(2, 0, 1), x.permute((0, 2, 1)), x.transpose(0, 2), x.mT,
                                       x.swapaxes(1, 2), x[0].t(), x[0].T),
    "split_chunk": lambda m, x: (*x.split(2, dim=1), *torch.split(x, [1, 5], dim=2), *x.chunk(3, -1),
                                 *x.unbind(1), x.narrow(2, 1, 3)),
    "cat_stack": lambda m, x: (torch.cat([x, x * 2], 1), torch.stack([x, -x], -1), torch.cat((x,), 0),
                               torch.concat([x, x], dim=-1)),
    "squeeze_unsqueeze": lambda m, x: (x[:, :1].squeeze(1), x.unsqueeze(0).unsqueeze(-1).squeeze(),
                                       x[:, None, ..., None], x.squeeze(0)),
    "expand_repeat": lambda m, x: (x[:, :1].expand(-1, 4, 6), x[:, :1].expand_as(x), x.repeat(1, 2, 1),
                                   x[0].repeat(2, 1, 1), torch.broadcast_to(x[:, :1], x.shape)),
    "slicing": lambda m, x: (x[:, 1:3], x[..., ::2], x[:, -1], x[:, 1:, -3:-1], x[0, 1], x[:, None, 2:],
                             x[-1:], x[:, :, 1::3]),
    "index_tensor": lambda m, x: (x[:, m.i], x[..., m.i], x[m.j]),
    "select": lambda m, x: (x.select(1, 2), x.select(-1, -1)),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_shape_ops(name):
    model = Fn(SHAPES[name], i=torch.tensor([2, 0, 1]), j=torch.tensor([0]))
    roundtrip(model, randn(4, 6))


# -- reductions ----------------------------------------------------------------------------------------------------------

REDUCTIONS = {
    "sum": lambda x: (x.sum(), x.sum(1), x.sum((1, 2), keepdim=True), x.sum(dim=-1, keepdim=False)),
    "mean": lambda x: (x.mean(), x.mean(-1), x.mean([0, 2], keepdim=True)),
    "max_min": lambda x: (x.max(), x.min(), *x.max(1), *x.min(-1, keepdim=True)),
    "amax_amin": lambda x: (x.amax(1), x.amin((1, 2)), x.amax(-1, keepdim=True)),
    "argmax_argmin": lambda x: (x.argmax(), x.argmax(1), x.argmin(-1, keepdim=True), x.argmax(keepdim=True)),
    "prod": lambda x: (x.prod(), x.prod(1), x.prod(2, keepdim=True)),
    "var_std": lambda x: (x.var(), x.var(1), x.std(-1, keepdim=True), x.var(1, unbiased=False),
                          x.std((1, 2), correction=0), torch.var(x, 2, correction=2)),
    "logsumexp": lambda x: (torch.logsumexp(x, 1), x.logsumexp((1, 2), keepdim=True)),
    "all_any": lambda x: ((x > 0).all(), (x > 0).any(1), (x > -1).all(-1, keepdim=True), x.any()),
    "cumsum": lambda x: (x.cumsum(1), torch.cumsum(x, -1)),
}


@pytest.mark.parametrize("opset", [17, 18])            # opset 17 takes most reductions' axes as an attribute
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions(name, opset):
    fn = REDUCTIONS[name]
    roundtrip(Fn(lambda m, x: fn(x)), lambda b: (torch.randn(b, 4, 5),), atol=1e-4, opset=opset)


def test_reductions_inside_layers_at_opset_17():
    model = Fn(lambda m, x: (nn.GroupNorm(2, 4)(x), x.norm(dim=1), F.normalize(x, p=1), x.var(1), x.amax(-1),
                             F.cosine_similarity(x, x.flip(0)), torch.linalg.vector_norm(x, math.inf, dim=2)))
    roundtrip(model, randn(4, 5), opset=17, atol=1e-4)


def test_repeat_adds_leading_dims_and_bitwise_not():
    # regressions: repeat with more repeats than dims reshaped with misplaced 0s; isnan and ~ of an int tensor
    # cast their input to the output's dtype
    program = roundtrip(Fn(lambda m, x, i: (x[0].repeat(2, 3, 1, 1), ~i, torch.isnan(x), torch.bitwise_not(i))),
                        lambda b: (torch.randn(b, 3, 2), torch.randint(-5, 5, (b, 3))))
    assert "BitwiseNot" in op_types(program)
    roundtrip(Fn(lambda m, i: ~i), lambda b: (torch.randint(-5, 5, (b, 3)),), opset=17)


def test_adaptive_pool_with_dynamic_batch_keeps_traced_spatial_sizes():
    program = roundtrip(nn.AdaptiveAvgPool2d((2, 4)), randn(3, 8, 8))
    assert "AveragePool" in op_types(program)


# -- converters of _ops_more -----------------------------------------------------------------------------------------

PADS = {
    "constant": lambda m, x: F.pad(x, (1, 2)),
    "constant_value_2d": lambda m, x: F.pad(x, (1, 0, 2, 1), value=-1.5),
    "constant_negative": lambda m, x: F.pad(x, (-1, 2, 0, -2)),
    "constant_channels": lambda m, x: F.pad(x, (0, 0, 0, 0, 1, 1)),
    "reflect": lambda m, x: F.pad(x, (2, 1, 1, 3), mode="reflect"),
    "replicate": lambda m, x: F.pad(x, (3, 1, 0, 2), mode="replicate"),
    "circular": lambda m, x: F.pad(x, (2, 1, 1, 3), mode="circular"),
    "reflect_1d": lambda m, x: F.pad(x[:, :, 0], (2, 3), mode="reflect"),
    "module_zero": lambda m, x: nn.ZeroPad2d((1, 2, 3, 0))(x) + 0,
    "module_reflect": lambda m, x: nn.ReflectionPad2d(1)(x),
    "module_replicate": lambda m, x: nn.ReplicationPad1d((0, 2))(x[:, 0]),
    "module_constant": lambda m, x: nn.ConstantPad3d(1, 0.5)(x),
}


@pytest.mark.parametrize("opset", [17, 18, 19])
@pytest.mark.parametrize("name", list(PADS))
def test_pad(name, opset):
    program = roundtrip(Fn(PADS[name]), randn(3, 5, 6), opset=opset)
    if name == "circular":
        assert ("Pad" in op_types(program)) == (opset >= 19)


INTERPOLATIONS = [
    dict(scale_factor=2), dict(scale_factor=1.5), dict(size=(4, 6)), dict(size=(7, 3)), dict(size=5),
    dict(scale_factor=(0.5, 2.5)), dict(scale_factor=1.7, recompute_scale_factor=True)]
MODES = [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True), ("bicubic", False),
         ("bicubic", True), ("area", None)]


@pytest.mark.parametrize("mode,align,kwargs", [
    pytest.param(mode, align, kwargs, id=f"{mode}-{align}-" + "-".join(f"{a}={b}" for a, b in kwargs.items()))
    for mode, align in MODES for kwargs in (INTERPOLATIONS if mode != "area" else [dict(size=(3, 2))])])
def test_interpolate_2d(mode, align, kwargs):
    roundtrip(Fn(lambda m, x: F.interpolate(x, mode=mode, align_corners=align, **kwargs)), randn(2, 6, 4),
              atol=1e-5)


@pytest.mark.parametrize("mode,align,shape", [("nearest", None, (5,)), ("linear", False, (5,)),
                                              ("linear", True, (5,)), ("trilinear", False, (3, 4, 5)),
                                              ("trilinear", True, (3, 4, 5)), ("nearest", None, (3, 4, 5))])
def test_interpolate_1d_3d(mode, align, shape):
    roundtrip(Fn(lambda m, x: (F.interpolate(x, scale_factor=2, mode=mode, align_corners=align),
                               F.interpolate(x, size=[s + 3 for s in shape], mode=mode, align_corners=align))),
              randn(2, *shape))


def test_upsample_modules_and_aliases():
    roundtrip(Fn(lambda m, x: (nn.Upsample(scale_factor=2)(x), nn.Upsample(size=(5, 7), mode="bilinear")(x),
                               nn.UpsamplingBilinear2d(scale_factor=2)(x), nn.UpsamplingNearest2d(size=(6, 9))(x),
                               F.upsample_bilinear(x, size=(3, 3)), F.upsample_nearest(x, scale_factor=3),
                               F.upsample(x, scale_factor=2, mode="bicubic"))), randn(2, 4, 5))


def test_interpolate_output_size_one():
    roundtrip(Fn(lambda m, x: (F.interpolate(x, size=(1, 2), mode="bilinear"),
                               F.interpolate(x, size=(1, 1), mode="bilinear", align_corners=True),
                               F.interpolate(x, size=(1, 3), mode="nearest"))), randn(2, 4, 5))


def test_pixel_shuffle_unshuffle():
    roundtrip(Fn(lambda m, x: (F.pixel_shuffle(x, 2), nn.PixelUnshuffle(2)(x), F.pixel_unshuffle(x[:, :2], 1),
                               nn.PixelShuffle(2)(x.unsqueeze(1)))), randn(8, 4, 6))
    x = torch.arange(16.0).reshape(1, 4, 2, 2)
    program = torch.onnx.export(Fn(lambda m, x: F.pixel_shuffle(x, 2)), (x,))
    assert program(x)[0].tolist() == [[[[0.0, 4.0, 1.0, 5.0], [8.0, 12.0, 9.0, 13.0], [2.0, 6.0, 3.0, 7.0],
                                        [10.0, 14.0, 11.0, 15.0]]]]


MORE = {
    "normalize": lambda m, x, y: (F.normalize(x), F.normalize(x, p=1, dim=-1), F.normalize(x, p=3.0, dim=0),
                                  F.normalize(x * 0, dim=2)),
    "cosine_similarity": lambda m, x, y: (F.cosine_similarity(x, y), F.cosine_similarity(x, y[:1], dim=-1),
                                          nn.CosineSimilarity(dim=2, eps=1e-3)(x, y)),
    "glu": lambda m, x, y: (F.glu(x, 2), F.glu(y)),
    "shrink": lambda m, x, y: (F.hardshrink(x, 0.3), F.softshrink(x, 0.6), x.hardshrink(), torch.softshrink(x)
                               if hasattr(torch, "softshrink") else F.softshrink(x)),
    "flip": lambda m, x, y: (x.flip(1), torch.flip(x, [0, 2]), x.flip(-1, -2), torch.fliplr(x), torch.flipud(x)),
    "roll": lambda m, x, y: (x.roll(1, 1), torch.roll(x, (-2, 3), (2, 1)), x.roll(5), x.roll(7, -1)),
    "gather": lambda m, x, y: (torch.gather(x, 2, (y.abs() * 3).long().clamp(max=3)),
                               x.gather(1, torch.argsort(y, 1)), torch.take_along_dim(x, torch.argsort(y, 2), 2),
                               torch.take_along_dim(x, x.flatten().argsort()[:5])),
    "index_select": lambda m, x, y: (x.index_select(1, m.i), torch.index_select(x, -1, m.i[:2]),
                                     torch.index_select(x, 2, m.i[0])),
    "one_hot": lambda m, x, y: (F.one_hot((x.abs() * 2).long().clamp(max=4), 5),
                                F.one_hot((y.abs() * 2).long().clamp(max=3).flatten(), num_classes=6)),
    "topk": lambda m, x, y: (*x.topk(2), *torch.topk(x, 3, dim=1, largest=False), *x.topk(1, 0, True, False)),
    "sort": lambda m, x, y: (*x.sort(), *torch.sort(x, 1, descending=True), torch.argsort(x, 0),
                             x.argsort(dim=-1, descending=True), torch.msort(x)),
    "atan2": lambda m, x, y: (torch.atan2(x, y), torch.atan2(x * (x > 0), y * (y > 0)), torch.arctan2(x, -y.abs()),
                              torch.atan2(x * 0, y), torch.atan2(x, y * 0), torch.atan2(x * 0, -(y * 0))),
    "lerp": lambda m, x, y: (torch.lerp(x, y, 0.3), torch.lerp(x, y, 0.8), x.lerp(y, y.sigmoid())),
    "addcmul_addcdiv": lambda m, x, y: (torch.addcmul(x, x, y, value=0.5), torch.addcdiv(x, x, y.abs() + 1),
                                        x.addcmul(y, y), torch.addcdiv(x, y, x.abs() + 1, value=-2)),
    "baddbmm": lambda m, x, y: (torch.baddbmm(x[:, :, :2], x, y.transpose(1, 2)[:, :, :2]),
                                torch.baddbmm(x[:, :, :2], x, y.transpose(1, 2)[:, :, :2], beta=0.5, alpha=2),
                                torch.baddbmm(x[:, :, :2], x, y.transpose(1, 2)[:, :, :2], beta=0)),
    "outer": lambda m, x, y: (torch.outer(x[0, 0], y[0, 1]), x[0, 0].outer(m.v), torch.ger(m.v, x[0, 1])),
    "unary_more": lambda m, x, y: (torch.erfc(x), torch.exp2(x), torch.logit(x.sigmoid()),
                                   torch.logit(x.sigmoid(), eps=0.2), x.sign(), torch.special.erfc(y)
                                   if hasattr(torch.special, "erfc") else torch.erfc(y)),
    "norms": lambda m, x, y: (x.norm(), torch.norm(x, dim=1), x.norm(p=1, dim=-1, keepdim=True),
                              torch.linalg.vector_norm(x, ord=math.inf, dim=(1, 2)),
                              torch.linalg.vector_norm(x, ord=-math.inf, dim=1),
                              torch.linalg.vector_norm(x, 3, dim=2), torch.linalg.vector_norm(x.round(), 0, dim=2),
                              torch.linalg.norm(x, dim=-1), x.norm(2, 1), torch.norm(x, "fro", dim=(1, 2))),
    "unflatten": lambda m, x, y: (x.unflatten(2, (2, 2)), torch.unflatten(x, 1, (-1, 1)), nn.Unflatten(-1, (2, -1))(y)),
}


@pytest.mark.parametrize("name", list(MORE))
def test_more_ops(name):
    model = Fn(MORE[name], i=torch.tensor([2, 0, 1]), v=torch.randn(3))
    roundtrip(model, lambda b: (torch.randn(b, 3, 4), torch.randn(b, 3, 4)), atol=1e-5)


def test_instance_and_local_response_norm_variants():
    roundtrip(Fn(lambda m, x: (F.instance_norm(x), F.instance_norm(x, weight=m.w, bias=m.b, eps=1e-3),
                               F.local_response_norm(x, 2), F.local_response_norm(x, 3, alpha=0.1, beta=0.5, k=2.0),
                               F.local_response_norm(x[:, :, 0], 4), nn.InstanceNorm1d(4)(x[:, :, 0]),
                               F.instance_norm(x, m.mean, m.var, use_input_stats=False)),
                 w=torch.randn(4), b=torch.randn(4), mean=torch.randn(4), var=torch.rand(4) + 0.5),
              randn(4, 5, 6), atol=1e-4)


SETITEM = {
    "column_scalar": lambda m, x, y: _set(x, (slice(None), 0), 5.0),
    "column_tensor": lambda m, x, y: _set(x, (slice(None), 1), y[:, 0]),
    "slice_broadcast": lambda m, x, y: _set(x, (slice(None), slice(1, 3)), y[:, :1, :]),
    "step_ellipsis": lambda m, x, y: _set(x, (Ellipsis, slice(None, None, 2)), 0.0),
    "negative": lambda m, x, y: _set(x, (slice(None), -1, slice(-2, None)), y[:, 0, :2] * 2),
    "index_tensor": lambda m, x, y: _set(x, (slice(None), slice(None), m.i), y[:, :, :1]),
    "mask": lambda m, x, y: _set(x, x > 0.5, 0.0),
    "mask_tensor": lambda m, x, y: _set(x, y < 0, torch.tensor(-1.0)),
    "into_constant": lambda m, x, y: _set(torch.zeros(3, 4), (slice(None), slice(None, 2)), x[0, :, :2]),
    "fill_copy": lambda m, x, y: (x.clone().fill_(2.0) + y, torch.zeros_like(x).copy_(y[:1])),
    "int": lambda m, x, y: _set((x * 4).long(), (0, slice(None)), 7),
    "augmented": lambda m, x, y: _augmented(x.clone(), y),
    "index_put": lambda m, x, y: (x.clone().index_put_((m.j,), y[0, 0]), torch.index_put(x, (m.j,), y[:1] * 2),
                                  x.index_put((m.k,), y[0], accumulate=True)),
}


def _augmented(x, y):
    x[:, 0] += 1                      # getitem, iadd on the view, then setitem of the view
    x[..., :2] *= y[..., :2]
    shifted = torch.zeros_like(x)
    shifted[:, 1:] = x[:, :-1]
    return x, shifted


def _set(x, index, value):
    x = x.clone()
    x[index] = value
    return x * 1


@pytest.mark.parametrize("name", list(SETITEM))
def test_setitem(name):
    model = Fn(SETITEM[name], i=torch.tensor([3, 0]), j=torch.tensor([1]), k=torch.tensor([0, 1, 0]))
    roundtrip(model, lambda b: (torch.randn(b, 3, 4), torch.randn(b, 3, 4)))


def test_sizes_read_in_forward_follow_the_batch():
    def forward(m, x):
        n, c = x.shape[0], x.size(1)
        h = x.view(n * c, -1)                           # (N*C, L)
        half = x.shape[-1] // 2
        return (h.reshape(n, c, -1)[:, :, :half], torch.zeros(n, 2) + x.sum((1, 2)).unsqueeze(1),
                x.new_zeros(x.shape) + 1, x.new_full((n, 2), 3.0), torch.ones(x.size(0), 1) * c,
                x.flatten(1)[:, : c * 2], torch.arange(x.shape[0]).float().unsqueeze(1) + x[:, 0],
                x.expand(x.size(0), c, x.size(2)), x.reshape(-1, c * x.shape[2]))
    roundtrip(Fn(forward), randn(3, 6), batches=(2, 5))


def test_unsupported_op_names_the_op_and_the_module():
    class Inner(nn.Module):
        def forward(self, x):
            return torch.cummax(x, 1)[0]

    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), Inner()))
    with pytest.raises(OnnxExporterError, match=r"aten::cummax.*\b1\.1\b"):
        torch.onnx.export(model, (torch.randn(2, 3),))
    with pytest.raises(OnnxExporterError, match=r"aten::cummax \(called in the model's forward\)"):
        torch.onnx.export(lambda x: torch.cummax(x * 2, 1)[0], (torch.randn(2, 3),))


class _Zoo(nn.Module):
    """A small image model through the converters of _ops_more."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, padding_mode="circular")
        self.norm = nn.InstanceNorm2d(8, affine=True)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.head = nn.Linear(8, 6)

    def forward(self, x):
        h = F.glu(self.norm(self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))), 1)      # (N, 4, H+2, W+2)
        h = F.pixel_unshuffle(self.up(h), 2)                                            # (N, 16, H+2, W+2)
        h = h.flip(-1).roll(1, 2).amax((2, 3))
        h = F.normalize(h.view(h.shape[0], 2, 8), dim=-1)
        values, indices = self.head(h).topk(2, dim=-1)
        return values.sum(1), indices


@pytest.mark.parametrize("opset", [17, 18, 19, 20, 21])
def test_small_model_at_every_opset(opset):
    program = roundtrip(_Zoo(), randn(3, 6, 5), opset=opset)
    assert program.model_proto.opset_import[0].version == opset


def test_float64_model():
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.LayerNorm(5), nn.Linear(5, 3), nn.Softmax(-1)).double()
    program = roundtrip(model, lambda b: (torch.randn(b, 4, dtype=torch.float64),))
    assert program.model_proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_onnxruntime_loads_without_warnings(capfd):
    program = torch.onnx.export(_Zoo().eval(), (torch.randn(2, 3, 6, 5),), dynamic_axes={"x": {0: "batch"}})
    capfd.readouterr()
    options = ort.SessionOptions()
    options.log_severity_level = 1                     # warnings and up
    ort.InferenceSession(program.model_proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    assert "[W:onnxruntime" not in capfd.readouterr().err


def test_new_converters_agree_with_pytorch():
    """onnxruntime's results of the new converters against PyTorch's eager ones (the modes whose coordinate
    conventions are easy to get wrong)."""
    real = pytest.importorskip("torch")
    x = torch.randn(2, 4, 6, 5)
    zeros = torch.tensor([0.0, -0.0, 0.0, -0.0, 1.0, -1.0])
    cases = [
        (lambda f, x: f.interpolate(x, size=(4, 7), mode="nearest"), x),
        (lambda f, x: f.interpolate(x, scale_factor=1.5, mode="nearest-exact"), x),
        (lambda f, x: f.interpolate(x, size=(9, 3), mode="bilinear", align_corners=False), x),
        (lambda f, x: f.interpolate(x, scale_factor=(2.5, 0.5), mode="bilinear", align_corners=True), x),
        (lambda f, x: f.interpolate(x, size=(7, 8), mode="bicubic", align_corners=False), x),
        (lambda f, x: f.interpolate(x, size=(7, 8), mode="bicubic", align_corners=True), x),
        (lambda f, x: f.pad(x, (2, 1, 0, 3), mode="circular"), x),
        (lambda f, x: f.local_response_norm(x, 2), x),
        (lambda f, x: f.pixel_unshuffle(x[:, :, :4, :4], 2), x),
        (lambda f, x: f.softshrink(x, 0.7) + f.hardshrink(x, 0.2), x),
        (lambda f, x: x.roll((1, -2), (1, 3)), x),
    ]
    for fn, value in cases:
        program = torch.onnx.export(lambda x, fn=fn: fn(F, x), (value,))
        expected = fn(real.nn.functional, real.from_numpy(value.numpy().copy())).numpy()
        np.testing.assert_allclose(program(value)[0].numpy(), expected, rtol=1e-4, atol=1e-5)
    y, xs = zeros[:, None].expand(6, 6).contiguous(), zeros[None, :].expand(6, 6).contiguous()
    program = torch.onnx.export(lambda y, x: torch.atan2(y, x), (y, xs))
    got = program(y, xs)[0].numpy()
    expected = real.atan2(real.from_numpy(y.numpy()), real.from_numpy(xs.numpy())).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))     # atan2(-0.0, 1) is -0.0
