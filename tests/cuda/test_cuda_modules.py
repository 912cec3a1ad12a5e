"""Every nn module on the cuda device: built once with small arguments, copied to cpu and to cuda from the same
initial state, run on the same inputs: the forward outputs, the gradients of the inputs and of the parameters,
and the buffers after the step (running statistics) equal the cpu's, and every result lives on the device.

MODULE_CASES is the table; test_every_module_class_has_a_case fails when a public class of ember.nn.modules has
neither a case nor a line in EXEMPT saying why it has none."""
import copy
import inspect
import zlib

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember._backends import cuda as backend
from ember.nn.utils import rnn as rnn_utils

nn = ember.nn
RTOL, ATOL = 1e-9, 1e-10


class Case:
    """A module built by build(nn), fed inputs(rng) (NumPy arrays; floating ones get gradients unless their index
    is in nograd) through call(module, *tensors) (default module(*tensors)).

    train: the mode it runs in; random: the forward draws random numbers (compared with the cpu when the two
    devices' streams agree, and also run in eval mode); rtol: the tolerance where PyTorch itself computes
    differently on the two devices; check(results): a test of the cuda results that replaces the comparison. A call may return results wrapped in Host: those stay
    on the cpu in PyTorch too (PackedSequence.batch_sizes, the lengths pad_packed_sequence gives)."""

    def __init__(self, name, build, inputs, call=None, nograd=(), train=True, random=False, cls=None, rtol=RTOL,
                 check=None):
        self.name, self.build, self.inputs, self.call, self.nograd = name, build, inputs, call, set(nograd)
        self.train, self.random, self.rtol, self.check = train, random, rtol, check
        self.cls = cls or name.split("-")[0]

    def __repr__(self):
        return self.name


def f(*shape, low=-2.0, high=2.0):
    """A float64 input of shape with values in [low, high) (drawn when the case runs)."""
    return lambda rng: rng.uniform(low, high, size=shape)


def pos(*shape):
    return f(*shape, low=0.1, high=2.0)


def prob(*shape):
    return f(*shape, low=0.05, high=0.95)


def const(array, dtype=None):
    array = np.array(array, dtype=dtype)
    return lambda rng: array.copy()


def ints(high, *shape):
    return lambda rng: rng.integers(0, high, size=shape)


def signs(*shape):
    return lambda rng: np.where(rng.random(shape) > 0.5, 1.0, -1.0)


def log_probs(*shape, dim=-1):
    def draw(rng):
        a = rng.uniform(-2, 2, size=shape)
        return a - np.log(np.exp(a).sum(axis=dim, keepdims=True))
    return draw


def probs(*shape, dim=-1):
    def draw(rng):
        a = rng.uniform(0.1, 1, size=shape)
        return a / a.sum(axis=dim, keepdims=True)
    return draw


class Host(tuple):
    """Results that live on the cpu whatever the module's device."""


def C(name, build, *inputs, **kwargs):
    return Case(name, build, list(inputs), **kwargs)


def clone_first(m, x, *rest):            # in-place modules: a leaf that requires grad cannot be changed in place
    return m(x * 1, *rest)


# --- the table -----------------------------------------------------------------------------------------------

ACTIVATIONS = [
    C("ReLU", lambda nn: nn.ReLU(), f(3, 4)),
    C("ReLU-inplace", lambda nn: nn.ReLU(inplace=True), f(3, 4), call=clone_first),
    C("ReLU6", lambda nn: nn.ReLU6(), f(3, 4, low=-8, high=8)),
    C("LeakyReLU", lambda nn: nn.LeakyReLU(0.2), f(3, 4)),
    C("LeakyReLU-inplace", lambda nn: nn.LeakyReLU(0.2, inplace=True), f(3, 4), call=clone_first),
    C("PReLU", lambda nn: nn.PReLU(3), f(2, 3, 4)),
    C("PReLU-shared", lambda nn: nn.PReLU(), f(2, 3, 4)),
    C("RReLU", lambda nn: nn.RReLU(), f(3, 4), random=True),
    C("RReLU-eval", lambda nn: nn.RReLU(0.1, 0.3), f(3, 4), train=False),
    C("ELU", lambda nn: nn.ELU(0.7), f(3, 4)),
    C("ELU-inplace", lambda nn: nn.ELU(inplace=True), f(3, 4), call=clone_first),
    C("CELU", lambda nn: nn.CELU(0.5), f(3, 4)),
    C("SELU", lambda nn: nn.SELU(), f(3, 4)),
    C("GELU", lambda nn: nn.GELU(), f(3, 4)),
    C("GELU-tanh", lambda nn: nn.GELU(approximate="tanh"), f(3, 4)),
    C("SiLU", lambda nn: nn.SiLU(), f(3, 4)),
    C("Mish", lambda nn: nn.Mish(), f(3, 4)),
    C("Sigmoid", lambda nn: nn.Sigmoid(), f(3, 4)),
    C("LogSigmoid", lambda nn: nn.LogSigmoid(), f(3, 4)),
    C("Tanh", lambda nn: nn.Tanh(), f(3, 4)),
    C("Tanhshrink", lambda nn: nn.Tanhshrink(), f(3, 4)),
    C("Hardtanh", lambda nn: nn.Hardtanh(-0.5, 1.0), f(3, 4)),
    C("Hardsigmoid", lambda nn: nn.Hardsigmoid(), f(3, 4, low=-4, high=4)),
    C("Hardswish", lambda nn: nn.Hardswish(), f(3, 4, low=-4, high=4)),
    C("Hardshrink", lambda nn: nn.Hardshrink(0.6), f(3, 4)),
    C("Softshrink", lambda nn: nn.Softshrink(0.6), f(3, 4)),
    C("Softsign", lambda nn: nn.Softsign(), f(3, 4)),
    C("Softplus", lambda nn: nn.Softplus(beta=2.0, threshold=3.0), f(3, 4)),
    C("Threshold", lambda nn: nn.Threshold(0.3, -1.0), f(3, 4)),
    C("GLU", lambda nn: nn.GLU(1), f(3, 4)),
    C("Softmax", lambda nn: nn.Softmax(dim=1), f(3, 4)),
    C("Softmin", lambda nn: nn.Softmin(dim=0), f(3, 4)),
    C("LogSoftmax", lambda nn: nn.LogSoftmax(dim=-1), f(3, 4)),
    C("Softmax2d", lambda nn: nn.Softmax2d(), f(2, 3, 2, 2)),
    C("Identity", lambda nn: nn.Identity(5, unused=True), f(3, 4)),
]

LINEAR = [
    C("Linear", lambda nn: nn.Linear(4, 3), f(2, 5, 4)),
    C("Linear-nobias", lambda nn: nn.Linear(4, 3, bias=False), f(5, 4)),
    C("Bilinear", lambda nn: nn.Bilinear(3, 4, 2), f(5, 3), f(5, 4)),
    C("LazyLinear", lambda nn: nn.LazyLinear(3), f(5, 4)),
    C("Flatten", lambda nn: nn.Flatten(), f(2, 3, 4)),
    C("Unflatten", lambda nn: nn.Unflatten(1, (2, 3)), f(4, 6)),
    C("Sequential", lambda nn: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)), f(3, 4)),
    C("CosineSimilarity", lambda nn: nn.CosineSimilarity(dim=1), f(4, 5), f(4, 5)),
    C("PairwiseDistance", lambda nn: nn.PairwiseDistance(p=3.0, keepdim=True), f(4, 5), f(4, 5)),
    C("ChannelShuffle", lambda nn: nn.ChannelShuffle(2), f(2, 4, 3, 3)),
    C("PixelShuffle", lambda nn: nn.PixelShuffle(2), f(2, 8, 2, 3)),
    C("PixelUnshuffle", lambda nn: nn.PixelUnshuffle(2), f(2, 2, 4, 6)),
    C("Fold", lambda nn: nn.Fold((4, 5), (2, 3), padding=1, stride=(1, 2)), f(2, 12, 15)),
    C("Unfold", lambda nn: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2), f(2, 2, 5, 6)),
]

CONV = [
    C("Conv1d", lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), f(2, 4, 9)),
    C("Conv1d-same-reflect", lambda nn: nn.Conv1d(3, 2, 4, padding="same", dilation=2, padding_mode="reflect"),
      f(2, 3, 10)),
    C("Conv2d", lambda nn: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)), f(2, 3, 7, 6)),
    C("Conv2d-circular", lambda nn: nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular", groups=2,
                                              bias=False), f(1, 2, 5, 5)),
    C("Conv2d-replicate", lambda nn: nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode="replicate"), f(2, 2, 4, 5)),
    C("Conv2d-unbatched", lambda nn: nn.Conv2d(2, 3, 2), f(2, 4, 4)),
    C("Conv3d", lambda nn: nn.Conv3d(2, 3, (2, 3, 2), stride=(1, 2, 1), padding=1), f(2, 2, 4, 5, 4)),
    C("ConvTranspose1d", lambda nn: nn.ConvTranspose1d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
      f(2, 4, 5)),
    C("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(3, 2, (3, 2), stride=2, padding=(1, 0), dilation=(1, 2)),
      f(2, 3, 4, 3)),
    C("ConvTranspose2d-output_size", lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), f(1, 2, 3, 3),
      call=lambda m, x: m(x, output_size=[6, 6])),
    C("ConvTranspose3d", lambda nn: nn.ConvTranspose3d(2, 2, 2, stride=(2, 1, 1), bias=False), f(1, 2, 2, 3, 2)),
    C("LazyConv1d", lambda nn: nn.LazyConv1d(4, 3), f(2, 3, 7)),
    C("LazyConv2d", lambda nn: nn.LazyConv2d(3, 2, padding=1), f(2, 2, 4, 4)),
    C("LazyConv3d", lambda nn: nn.LazyConv3d(2, 2), f(1, 2, 3, 3, 3)),
    C("LazyConvTranspose1d", lambda nn: nn.LazyConvTranspose1d(3, 3, stride=2), f(2, 2, 4)),
    C("LazyConvTranspose2d", lambda nn: nn.LazyConvTranspose2d(2, 2), f(1, 3, 3, 3)),
    C("LazyConvTranspose3d", lambda nn: nn.LazyConvTranspose3d(2, 2), f(1, 2, 2, 2, 2)),
]


def _pooled(pool):
    """call for MaxUnpool: unpool what max pooling (with indices) made of the input."""
    def call(m, x):
        out, indices = pool(x)
        return m(out, indices)
    return call


POOLING = [
    C("MaxPool1d", lambda nn: nn.MaxPool1d(3, stride=2, padding=1), f(2, 3, 9)),
    C("MaxPool1d-indices", lambda nn: nn.MaxPool1d(2, dilation=2, return_indices=True, ceil_mode=True),
      f(2, 3, 8)),
    C("MaxPool2d", lambda nn: nn.MaxPool2d((2, 3), stride=(2, 1), padding=(1, 1)), f(2, 2, 5, 6)),
    C("MaxPool2d-indices", lambda nn: nn.MaxPool2d(2, return_indices=True, ceil_mode=True), f(1, 2, 5, 5)),
    C("MaxPool3d", lambda nn: nn.MaxPool3d(2, stride=(1, 2, 2), return_indices=True), f(1, 2, 4, 4, 4)),
    C("AvgPool1d", lambda nn: nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False), f(2, 3, 8)),
    C("AvgPool2d", lambda nn: nn.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True), f(2, 2, 5, 6)),
    C("AvgPool2d-divisor", lambda nn: nn.AvgPool2d(2, divisor_override=3), f(1, 2, 4, 4)),
    C("AvgPool3d", lambda nn: nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=False), f(1, 2, 3, 3, 3)),
    C("LPPool1d", lambda nn: nn.LPPool1d(2, 3, stride=2), f(2, 3, 9)),
    C("LPPool2d", lambda nn: nn.LPPool2d(3.0, (2, 2)), pos(1, 2, 4, 6)),
    C("LPPool3d", lambda nn: nn.LPPool3d(1, 2), f(1, 2, 4, 4, 4)),
    C("AdaptiveAvgPool1d", lambda nn: nn.AdaptiveAvgPool1d(4), f(2, 3, 7)),
    C("AdaptiveAvgPool2d", lambda nn: nn.AdaptiveAvgPool2d((3, None)), f(2, 2, 5, 4)),
    C("AdaptiveAvgPool3d", lambda nn: nn.AdaptiveAvgPool3d(2), f(1, 2, 3, 5, 4)),
    C("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(3, return_indices=True), f(2, 3, 7)),
    C("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d((2, 3)), f(2, 2, 5, 7)),
    C("AdaptiveMaxPool3d", lambda nn: nn.AdaptiveMaxPool3d((2, 1, 2), return_indices=True), f(1, 2, 4, 3, 5)),
    C("FractionalMaxPool2d", lambda nn: nn.FractionalMaxPool2d(2, output_size=(3, 4), return_indices=True),
      f(2, 2, 6, 7), random=True),
    C("FractionalMaxPool2d-samples", lambda nn: nn.FractionalMaxPool2d(
        2, output_ratio=0.5, _random_samples=ember.tensor([[[0.3, 0.7], [0.1, 0.9]]], dtype=ember.float64)),
      f(1, 2, 8, 6)),
    C("FractionalMaxPool3d", lambda nn: nn.FractionalMaxPool3d(2, output_size=3), f(1, 2, 5, 6, 5), random=True),
    C("MaxUnpool1d", lambda nn: nn.MaxUnpool1d(2), f(2, 3, 8),
      call=_pooled(lambda x: F.max_pool1d(x, 2, return_indices=True))),
    C("MaxUnpool2d", lambda nn: nn.MaxUnpool2d(2, stride=2), f(1, 2, 4, 6),
      call=_pooled(lambda x: F.max_pool2d(x, 2, return_indices=True))),
    C("MaxUnpool2d-output_size", lambda nn: nn.MaxUnpool2d(2), f(1, 2, 5, 5),
      call=lambda m, x: m(*F.max_pool2d(x, 2, return_indices=True), output_size=(5, 5))),
    C("MaxUnpool3d", lambda nn: nn.MaxUnpool3d(2), f(1, 2, 4, 4, 2),
      call=_pooled(lambda x: F.max_pool3d(x, 2, return_indices=True))),
]

NORMALIZATION = [
    C("BatchNorm1d", lambda nn: nn.BatchNorm1d(3), f(5, 3)),
    C("BatchNorm1d-3d", lambda nn: nn.BatchNorm1d(3, momentum=None), f(4, 3, 6)),
    C("BatchNorm1d-eval", lambda nn: _with_stats(nn.BatchNorm1d(3)), f(4, 3), train=False),
    C("BatchNorm2d", lambda nn: nn.BatchNorm2d(2, affine=False), f(3, 2, 3, 4)),
    C("BatchNorm2d-eval", lambda nn: _with_stats(nn.BatchNorm2d(2)), f(3, 2, 3, 4), train=False),
    C("BatchNorm3d", lambda nn: nn.BatchNorm3d(2, track_running_stats=False), f(2, 2, 3, 2, 3)),
    C("SyncBatchNorm", lambda nn: nn.SyncBatchNorm(3), f(4, 3, 5)),
    C("LazyBatchNorm1d", lambda nn: nn.LazyBatchNorm1d(), f(5, 3)),
    C("LazyBatchNorm2d", lambda nn: nn.LazyBatchNorm2d(), f(3, 2, 3, 3)),
    C("LazyBatchNorm3d", lambda nn: nn.LazyBatchNorm3d(), f(2, 2, 2, 3, 2)),
    C("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(3), f(2, 3, 6)),
    C("InstanceNorm1d-affine-stats", lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
      f(2, 3, 6)),
    C("InstanceNorm2d", lambda nn: nn.InstanceNorm2d(2, affine=True), f(2, 2, 4, 3)),
    C("InstanceNorm2d-eval", lambda nn: _with_stats(nn.InstanceNorm2d(2, track_running_stats=True)),
      f(2, 2, 4, 3), train=False),
    C("InstanceNorm3d", lambda nn: nn.InstanceNorm3d(2, track_running_stats=True), f(2, 2, 3, 2, 3)),
    C("LazyInstanceNorm1d", lambda nn: nn.LazyInstanceNorm1d(affine=True), f(2, 3, 5)),
    C("LazyInstanceNorm2d", lambda nn: nn.LazyInstanceNorm2d(), f(2, 2, 3, 3)),
    C("LazyInstanceNorm3d", lambda nn: nn.LazyInstanceNorm3d(track_running_stats=True), f(2, 2, 2, 3, 2)),
    C("LayerNorm", lambda nn: nn.LayerNorm((3, 4)), f(2, 3, 4)),
    C("LayerNorm-nobias", lambda nn: nn.LayerNorm(4, eps=1e-3, bias=False), f(2, 3, 4)),
    C("LayerNorm-noaffine", lambda nn: nn.LayerNorm(4, elementwise_affine=False), f(3, 4)),
    C("GroupNorm", lambda nn: nn.GroupNorm(2, 4), f(3, 4, 5)),
    C("GroupNorm-noaffine", lambda nn: nn.GroupNorm(3, 6, affine=False), f(2, 6, 2, 2)),
    C("RMSNorm", lambda nn: nn.RMSNorm(4), f(2, 3, 4)),
    C("RMSNorm-eps", lambda nn: nn.RMSNorm((3, 4), eps=1e-4, elementwise_affine=False), f(2, 3, 4)),
    C("LocalResponseNorm", lambda nn: nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=1.5), f(2, 5, 3, 2)),
    C("LocalResponseNorm-3d", lambda nn: nn.LocalResponseNorm(2), f(2, 4, 5)),
]


def _with_stats(bn):
    """A norm module with running statistics other than the initial zeros and ones (for eval mode)."""
    with ember.no_grad():
        bn.running_mean.copy_(ember.linspace(-0.5, 0.5, bn.num_features))
        bn.running_var.copy_(ember.linspace(0.5, 2.0, bn.num_features))
    return bn


DROPOUT = [
    C("Dropout", lambda nn: nn.Dropout(0.4), f(4, 5), random=True),
    C("Dropout-inplace", lambda nn: nn.Dropout(0.3, inplace=True), f(4, 5), call=clone_first, random=True),
    C("Dropout1d", lambda nn: nn.Dropout1d(0.5), f(3, 4, 5), random=True),
    C("Dropout2d", lambda nn: nn.Dropout2d(0.5), f(2, 4, 3, 3), random=True),
    C("Dropout3d", lambda nn: nn.Dropout3d(0.5), f(2, 3, 2, 2, 2), random=True),
    C("AlphaDropout", lambda nn: nn.AlphaDropout(0.3), f(4, 5), random=True),
    C("FeatureAlphaDropout", lambda nn: nn.FeatureAlphaDropout(0.4), f(2, 4, 3, 2), random=True),
]

EMBEDDING = [
    C("Embedding", lambda nn: nn.Embedding(7, 3, padding_idx=2), const([[1, 2, 6], [0, 2, 2]])),
    C("Embedding-max_norm", lambda nn: nn.Embedding(6, 4, max_norm=1.0), const([[1, 5, 1, 0]])),
    C("Embedding-scale_grad", lambda nn: nn.Embedding(5, 2, scale_grad_by_freq=True), const([4, 1, 4, 4, 0])),
    C("EmbeddingBag", lambda nn: nn.EmbeddingBag(8, 3, mode="mean"), const([1, 2, 4, 5, 4, 3, 2, 7]),
      const([0, 3, 3, 5]), call=lambda m, x, o: m(x, o)),
    C("EmbeddingBag-sum-weights", lambda nn: nn.EmbeddingBag(6, 2, mode="sum", padding_idx=0),
      const([[1, 0, 3], [5, 5, 2]]), f(2, 3), call=lambda m, x, w: m(x, per_sample_weights=w)),
    C("EmbeddingBag-max", lambda nn: nn.EmbeddingBag(6, 3, mode="max", include_last_offset=True),
      const([0, 2, 4, 5, 1, 3]), const([0, 2, 6]), call=lambda m, x, o: m(x, o)),
]


def _packed(lengths, batch_first=False, enforce_sorted=True):
    """call for a recurrent module fed a PackedSequence of the padded input."""
    def call(m, x, *state):
        packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        out, hidden = m(packed, *state)
        padded, out_lengths = rnn_utils.pad_packed_sequence(out, batch_first=batch_first)
        return out.data, out.sorted_indices, out.unsorted_indices, padded, hidden, Host((out.batch_sizes, out_lengths))
    return call


RECURRENT = [
    C("RNN", lambda nn: nn.RNN(3, 4), f(5, 2, 3)),
    C("RNN-relu-2layers-h0", lambda nn: nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True),
      f(2, 5, 3), f(2, 2, 4)),
    C("RNN-bidirectional-packed", lambda nn: nn.RNN(3, 2, bidirectional=True), f(4, 3, 3),
      call=_packed([4, 2, 1])),
    C("LSTM", lambda nn: nn.LSTM(3, 4, batch_first=True), f(2, 5, 3)),
    C("LSTM-2layers-bidirectional", lambda nn: nn.LSTM(3, 3, num_layers=2, bidirectional=True), f(4, 2, 3)),
    C("LSTM-proj-state", lambda nn: nn.LSTM(3, 4, proj_size=2), f(4, 2, 3), f(1, 2, 2), f(1, 2, 4),
      call=lambda m, x, h, c: m(x, (h, c))),
    C("LSTM-unbatched", lambda nn: nn.LSTM(3, 2, bias=False), f(5, 3)),
    C("LSTM-packed-unsorted", lambda nn: nn.LSTM(3, 3, batch_first=True, bidirectional=True), f(3, 4, 3),
      call=_packed([2, 4, 3], batch_first=True, enforce_sorted=False)),
    C("GRU", lambda nn: nn.GRU(3, 4), f(5, 2, 3)),
    C("GRU-2layers-bidirectional-h0", lambda nn: nn.GRU(2, 3, num_layers=2, bidirectional=True, batch_first=True),
      f(2, 4, 2), f(4, 2, 3)),
    C("GRU-packed", lambda nn: nn.GRU(3, 2, num_layers=2), f(4, 3, 3), call=_packed([4, 4, 2])),
    C("RNNCell", lambda nn: nn.RNNCell(3, 4), f(2, 3), f(2, 4)),
    C("RNNCell-relu-nohidden", lambda nn: nn.RNNCell(3, 2, nonlinearity="relu"), f(2, 3)),
    C("LSTMCell", lambda nn: nn.LSTMCell(3, 4), f(2, 3), f(2, 4), f(2, 4), call=lambda m, x, h, c: m(x, (h, c))),
    C("LSTMCell-unbatched", lambda nn: nn.LSTMCell(3, 2, bias=False), f(3)),
    C("GRUCell", lambda nn: nn.GRUCell(3, 4), f(2, 3), f(2, 4)),
]

MASK = np.triu(np.full((4, 4), -np.inf), 1)
KEY_PADDING = np.array([[False, False, True, False], [False, False, False, True]])

ATTENTION = [
    C("MultiheadAttention", lambda nn: nn.MultiheadAttention(8, 2), f(4, 2, 8), f(3, 2, 8), f(3, 2, 8)),
    C("MultiheadAttention-self-masked", lambda nn: nn.MultiheadAttention(8, 2, batch_first=True), f(2, 4, 8),
      const(MASK), const(KEY_PADDING),
      call=lambda m, x, mask, pad: m(x, x, x, attn_mask=mask, key_padding_mask=pad, average_attn_weights=False)),
    C("MultiheadAttention-kdim-biaskv", lambda nn: nn.MultiheadAttention(6, 3, kdim=4, vdim=5, add_bias_kv=True,
                                                                           add_zero_attn=True), f(3, 2, 6),
      f(4, 2, 4), f(4, 2, 5)),
    C("TransformerEncoderLayer", lambda nn: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), f(4, 2, 8)),
    C("TransformerEncoderLayer-normfirst-gelu", lambda nn: nn.TransformerEncoderLayer(
        8, 2, 12, dropout=0.0, activation="gelu", norm_first=True, batch_first=True), f(2, 4, 8), const(MASK),
      call=lambda m, x, mask: m(x, src_mask=mask)),
    C("TransformerDecoderLayer", lambda nn: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), f(3, 2, 8),
      f(4, 2, 8)),
    C("TransformerEncoder", lambda nn: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2, norm=nn.LayerNorm(8)),
      f(2, 4, 8), const(KEY_PADDING), call=lambda m, x, pad: m(x, src_key_padding_mask=pad)),
    C("TransformerEncoder-eval", lambda nn: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2), f(2, 4, 8), const(KEY_PADDING),
      call=lambda m, x, pad: m(x, src_key_padding_mask=pad), train=False, nograd=(0,)),
    C("TransformerDecoder", lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), 2),
      f(4, 2, 8), f(3, 2, 8), const(MASK), call=lambda m, t, mem, mask: m(t, mem, tgt_mask=mask, tgt_is_causal=True)),
    C("Transformer", lambda nn: nn.Transformer(8, 2, 1, 1, 16, dropout=0.0), f(3, 2, 8), f(4, 2, 8)),
    C("Transformer-dropout", lambda nn: nn.Transformer(8, 2, 1, 1, 16, dropout=0.2, batch_first=True), f(2, 3, 8),
      f(2, 4, 8), random=True),
]

RESAMPLING = [
    C("Upsample", lambda nn: nn.Upsample(scale_factor=2), f(2, 3, 4)),
    C("Upsample-linear", lambda nn: nn.Upsample(size=7, mode="linear", align_corners=True), f(2, 3, 4)),
    C("Upsample-bilinear", lambda nn: nn.Upsample(scale_factor=(1.5, 2), mode="bilinear"), f(1, 2, 4, 3)),
    C("Upsample-bicubic", lambda nn: nn.Upsample(size=(5, 6), mode="bicubic", align_corners=False),
      f(1, 2, 3, 4)),
    C("Upsample-trilinear", lambda nn: nn.Upsample(scale_factor=2, mode="trilinear"), f(1, 1, 2, 3, 2)),
    C("Upsample-nearest-exact", lambda nn: nn.Upsample(size=(5, 3), mode="nearest-exact"), f(1, 2, 3, 4)),
    C("UpsamplingNearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=2), f(1, 2, 2, 3)),
    C("UpsamplingBilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(4, 5)), f(1, 2, 2, 3)),
]

PADDING = [
    C("ZeroPad1d", lambda nn: nn.ZeroPad1d((1, 2)), f(2, 3, 4)),
    C("ZeroPad2d", lambda nn: nn.ZeroPad2d((1, 0, 2, 1)), f(2, 2, 3, 3)),
    C("ZeroPad3d", lambda nn: nn.ZeroPad3d(1), f(1, 2, 2, 2, 2)),
    C("ConstantPad1d", lambda nn: nn.ConstantPad1d(2, 3.5), f(2, 4)),
    C("ConstantPad2d", lambda nn: nn.ConstantPad2d((1, 2, 0, 1), -1.0), f(2, 3, 3)),
    C("ConstantPad3d", lambda nn: nn.ConstantPad3d((1, 0, 0, 1, 1, 0), 0.5), f(1, 1, 2, 2, 2)),
    C("ReflectionPad1d", lambda nn: nn.ReflectionPad1d((2, 1)), f(2, 3, 4)),
    C("ReflectionPad2d", lambda nn: nn.ReflectionPad2d((1, 2, 2, 0)), f(1, 2, 3, 4)),
    C("ReflectionPad3d", lambda nn: nn.ReflectionPad3d(1), f(1, 2, 2, 3, 3)),
    C("ReplicationPad1d", lambda nn: nn.ReplicationPad1d(3), f(2, 2, 3)),
    C("ReplicationPad2d", lambda nn: nn.ReplicationPad2d((0, 2, 1, 1)), f(1, 2, 3, 3)),
    C("ReplicationPad3d", lambda nn: nn.ReplicationPad3d((1, 1, 0, 2, 1, 0)), f(1, 1, 2, 3, 2)),
    C("CircularPad1d", lambda nn: nn.CircularPad1d((1, 2)), f(2, 2, 4)),
    C("CircularPad2d", lambda nn: nn.CircularPad2d((1, 0, 2, 1)), f(1, 2, 3, 3)),
    C("CircularPad3d", lambda nn: nn.CircularPad3d(1), f(1, 1, 2, 3, 3)),
]

TARGET_CLASSES = [1, 0, 3, 3, 2]

LOSSES = [
    C("L1Loss", lambda nn: nn.L1Loss(), f(3, 4), f(3, 4)),
    C("MSELoss", lambda nn: nn.MSELoss(reduction="sum"), f(3, 4), f(3, 4)),
    C("SmoothL1Loss", lambda nn: nn.SmoothL1Loss(beta=0.5, reduction="none"), f(3, 4), f(3, 4)),
    C("HuberLoss", lambda nn: nn.HuberLoss(delta=0.7), f(3, 4), f(3, 4)),
    C("NLLLoss", lambda nn: nn.NLLLoss(weight=ember.tensor([1.0, 2.0, 0.5, 1.5], dtype=ember.float64),
                                       ignore_index=0), log_probs(5, 4), const(TARGET_CLASSES)),
    C("NLLLoss-2d", lambda nn: nn.NLLLoss(reduction="none"), log_probs(2, 3, 2, 2, dim=1), ints(3, 2, 2, 2)),
    C("NLLLoss2d", lambda nn: nn.NLLLoss2d(), log_probs(2, 3, 2, 2, dim=1), ints(3, 2, 2, 2)),
    C("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1), f(5, 4), const(TARGET_CLASSES)),
    C("CrossEntropyLoss-probs-weight", lambda nn: nn.CrossEntropyLoss(
        weight=ember.tensor([0.5, 1.0, 2.0], dtype=ember.float64), reduction="sum"), f(4, 3, 2), probs(4, 3, 2, dim=1)),
    C("CrossEntropyLoss-ignore", lambda nn: nn.CrossEntropyLoss(ignore_index=2, reduction="none"), f(5, 4),
      const(TARGET_CLASSES)),
    C("BCELoss", lambda nn: nn.BCELoss(weight=ember.tensor([1.0, 2.0, 0.5], dtype=ember.float64)), prob(4, 3),
      prob(4, 3)),
    C("BCEWithLogitsLoss", lambda nn: nn.BCEWithLogitsLoss(pos_weight=ember.tensor([1.0, 3.0, 0.5],
                                                                                   dtype=ember.float64)),
      f(4, 3), prob(4, 3)),
    C("KLDivLoss", lambda nn: nn.KLDivLoss(reduction="batchmean"), log_probs(3, 4), probs(3, 4)),
    C("KLDivLoss-log_target", lambda nn: nn.KLDivLoss(log_target=True, reduction="sum"), log_probs(3, 4),
      log_probs(3, 4)),
    C("PoissonNLLLoss", lambda nn: nn.PoissonNLLLoss(), f(3, 4), pos(3, 4)),
    C("PoissonNLLLoss-full", lambda nn: nn.PoissonNLLLoss(log_input=False, full=True), pos(3, 4),
      f(3, 4, low=0, high=5)),
    C("GaussianNLLLoss", lambda nn: nn.GaussianNLLLoss(full=True), f(4, 3), f(4, 3), pos(4, 3)),
    C("GaussianNLLLoss-scalar-var", lambda nn: nn.GaussianNLLLoss(reduction="sum"), f(4, 3), f(4, 3), pos(4, 1)),
    C("HingeEmbeddingLoss", lambda nn: nn.HingeEmbeddingLoss(margin=0.8), f(3, 4), signs(3, 4)),
    C("MarginRankingLoss", lambda nn: nn.MarginRankingLoss(margin=0.2), f(5), f(5), signs(5)),
    C("CosineEmbeddingLoss", lambda nn: nn.CosineEmbeddingLoss(margin=0.1), f(4, 3), f(4, 3), signs(4)),
    C("SoftMarginLoss", lambda nn: nn.SoftMarginLoss(), f(3, 4), signs(3, 4), nograd=(1,)),
    C("MultiLabelMarginLoss", lambda nn: nn.MultiLabelMarginLoss(), f(3, 4),
      const([[3, 0, -1, 1], [1, 2, 3, -1], [0, -1, 2, 2]])),
    C("MultiLabelSoftMarginLoss", lambda nn: nn.MultiLabelSoftMarginLoss(
        weight=ember.tensor([1.0, 0.5, 2.0, 1.0], dtype=ember.float64)), f(3, 4), ints(2, 3, 4)),
    C("MultiMarginLoss", lambda nn: nn.MultiMarginLoss(p=2, margin=0.8), f(5, 4), const(TARGET_CLASSES)),
    C("MultiMarginLoss-weight", lambda nn: nn.MultiMarginLoss(
        weight=ember.tensor([1.0, 2.0, 0.5, 1.0], dtype=ember.float64), reduction="none"), f(5, 4),
      const(TARGET_CLASSES)),
    C("TripletMarginLoss", lambda nn: nn.TripletMarginLoss(margin=0.5, p=1.5, swap=True), f(4, 3), f(4, 3),
      f(4, 3)),
    C("TripletMarginWithDistanceLoss", lambda nn: nn.TripletMarginWithDistanceLoss(
        distance_function=nn.CosineSimilarity(), margin=0.3), f(4, 3), f(4, 3), f(4, 3)),
    C("TripletMarginWithDistanceLoss-default", lambda nn: nn.TripletMarginWithDistanceLoss(swap=True), f(4, 3),
      f(4, 3), f(4, 3)),
    C("CTCLoss", lambda nn: nn.CTCLoss(), log_probs(6, 2, 4), const([[1, 2, 2], [3, 1, 0]]), const([6, 5]),
      const([3, 2])),
    C("CTCLoss-concatenated", lambda nn: nn.CTCLoss(blank=3, reduction="sum", zero_infinity=True),
      log_probs(5, 2, 4), const([1, 0, 2, 2, 0]), const([5, 4]), const([3, 2])),
]

MODULE_CASES = (ACTIVATIONS + LINEAR + CONV + POOLING + NORMALIZATION + DROPOUT + EMBEDDING + RECURRENT + ATTENTION
                + RESAMPLING + PADDING + LOSSES)

# public classes of ember.nn.modules with no case, and why
EXEMPT = {
    "Module": "the base class: computes nothing itself",
    "ModuleList": "a container without forward",
    "ModuleDict": "a container without forward",
    "ParameterList": "a container without forward",
    "ParameterDict": "a container without forward",
    "RNNBase": "the base class of RNN, LSTM and GRU, which have cases",
    "RNNCellBase": "the base class of RNNCell, LSTMCell and GRUCell, which have cases",
}


def test_every_module_class_has_a_case():
    import ember.nn.modules as modules
    public = {name for name, value in vars(modules).items()
              if not name.startswith("_") and inspect.isclass(value) and issubclass(value, nn.Module)}
    covered = {case.cls for case in MODULE_CASES}
    assert not covered - public, f"cases for unknown classes: {sorted(covered - public)}"
    assert not set(EXEMPT) & covered, f"exempt classes that have cases: {sorted(set(EXEMPT) & covered)}"
    missing = public - covered - set(EXEMPT)
    assert not missing, f"module classes with no case on cuda (add one, or a reason to EXEMPT): {sorted(missing)}"


# --- running a case on a device --------------------------------------------------------------------------------

def _flat(value, host=False):
    """(tensor, whether it stays on the cpu) for the tensors in a module's result, in order (tuples flattened,
    None skipped)."""
    if isinstance(value, ember.Tensor):
        return [(value, host)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v, host or isinstance(v, Host))]
    return []


def _inputs(arrays, device, nograd):
    out = []
    for i, a in enumerate(arrays):
        t = ember.from_numpy(np.ascontiguousarray(a)).to(device)
        if t.dtype.is_floating_point and i not in nograd:
            t.requires_grad_()
        out.append(t)
    return out


def _materialize(module, inputs, device, reference):
    """A lazy module's parameters made on device by a first forward, then given the reference's values (the
    initial values drawn on the two devices need not agree)."""
    with ember.no_grad():
        module(*inputs)
    if device != "cpu":
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            _on_device(t, f"{name} after materializing")
    module.load_state_dict(reference)


def _run(case, module, arrays, device, cotangents=None, seed=0):
    """(outputs, input grads, parameter grads, state after) of the case on device; cotangents weight the
    outputs in the loss that is backpropagated (drawn here, from the outputs' shapes, when None)."""
    module = copy.deepcopy(module).to(device)
    inputs = _inputs(arrays, device, case.nograd)
    if isinstance(module, nn.modules.lazy.LazyModuleMixin):
        reference = copy.deepcopy(module).cpu()
        with ember.no_grad():
            reference(*_inputs(arrays, "cpu", case.nograd))
        _materialize(module, inputs, device, reference.state_dict())
    ember.manual_seed(seed)
    result = case.call(module, *inputs) if case.call else module(*inputs)
    flat = _flat(result)
    outputs, on_host = [t for t, _ in flat], [h for _, h in flat]
    differentiable = [o for o in outputs if o.requires_grad]
    if cotangents is None:
        rng = np.random.default_rng(1)
        cotangents = [rng.uniform(-1, 1, size=tuple(o.shape)) for o in differentiable]
    if differentiable:
        loss = sum((o * ember.from_numpy(c).to(device)).sum() for o, c in zip(differentiable, cotangents))
        loss.backward()
    input_grads = [t.grad for t in inputs if t.requires_grad]
    param_grads = {name: p.grad for name, p in module.named_parameters()}
    return outputs, input_grads, param_grads, module.state_dict(), cotangents, on_host


def _host(t):
    return t.detach().cpu().numpy()


def _on_device(t, what):
    assert t.device.type == "cuda", f"{what} on {t.device}"
    assert isinstance(t._array, backend.xp.ndarray), f"{what} stored as {type(t._array)}"


def _same(cpu, gpu, what, rtol=RTOL):
    assert gpu.dtype == cpu.dtype, f"{what}: dtype {gpu.dtype} on cuda, {cpu.dtype} on cpu"
    assert tuple(gpu.shape) == tuple(cpu.shape), f"{what}: shape {tuple(gpu.shape)} vs {tuple(cpu.shape)}"
    a, b = _host(gpu), _host(cpu)
    if a.dtype.kind == "f" or a.dtype.kind == "c":
        np.testing.assert_allclose(a, b, rtol=rtol, atol=ATOL, err_msg=what)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def _streams_agree():
    """Whether a seeded draw on cuda equals the cpu's (then random modules can be compared with the cpu)."""
    ember.manual_seed(3)
    a = ember.rand(16)
    ember.manual_seed(3)
    b = ember.rand(16, device="cuda")
    return np.array_equal(_host(a), _host(b))


def _check(case, module, arrays, cuda_device, compare=True):
    cpu = _run(case, module, arrays, "cpu")
    gpu = _run(case, module, arrays, cuda_device, cotangents=cpu[4])
    cpu_out, cpu_in_grads, cpu_param_grads, cpu_state, _, _ = cpu
    gpu_out, gpu_in_grads, gpu_param_grads, gpu_state, _, on_host = gpu
    assert len(gpu_out) == len(cpu_out)
    for i, t in enumerate(gpu_out):
        if on_host[i]:
            assert t.device.type == "cpu", f"output {i} should stay on the cpu, as PyTorch's does"
        else:
            _on_device(t, f"output {i}")
    for i, g in enumerate(gpu_in_grads):
        if cpu_in_grads[i] is None:
            assert g is None, f"grad of input {i}"
            continue
        _on_device(g, f"grad of input {i}")
    for name, g in gpu_param_grads.items():
        assert (g is None) == (cpu_param_grads[name] is None), f"grad of {name}"
        if g is not None:
            _on_device(g, f"grad of {name}")
    for name, t in gpu_state.items():
        _on_device(t, name)
    if not compare:
        return
    for i, (c, g) in enumerate(zip(cpu_out, gpu_out)):
        _same(c, g, f"output {i}")
    for i, (c, g) in enumerate(zip(cpu_in_grads, gpu_in_grads)):
        if c is not None:
            _same(c, g, f"grad of input {i}")
    for name, c in cpu_param_grads.items():
        if c is not None:
            _same(c, gpu_param_grads[name], f"grad of {name}")
    assert cpu_state.keys() == gpu_state.keys()
    for name, c in cpu_state.items():
        _same(c, gpu_state[name], name)


def _build(case):
    ember.manual_seed(0)
    module = case.build(nn)
    module = module.double()
    module.train(case.train)
    return module


def _arrays(case):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    return [draw(rng) for draw in case.inputs]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in MODULE_CASES])
def test_module_on_cuda_matches_cpu(case, cuda_device):
    module, arrays = _build(case), _arrays(case)
    _check(case, module, arrays, cuda_device, compare=not case.random or _streams_agree())
    if case.random:                                 # without randomness the two devices agree exactly
        _check(case, module.eval(), arrays, cuda_device)


# --- nn.functional, nn.init and nn.utils beyond the modules ----------------------------------------------------

class Draw:
    """A case's inputs on one device: float64 tensors drawn from the case's own stream (the same on every
    device), constants, and modules built on the cpu from seed 0 then moved (the same initial state)."""

    def __init__(self, name, device):
        self.rng, self.device = np.random.default_rng(zlib.crc32(name.encode())), device

    def __call__(self, *shape, low=-2.0, high=2.0, grad=True):
        t = ember.from_numpy(self.rng.uniform(low, high, size=shape)).to(self.device)
        return t.requires_grad_() if grad else t

    def const(self, data, dtype=None):
        return ember.tensor(data, dtype=dtype).to(self.device)

    def module(self, build):
        state = ember.get_rng_state()
        ember.manual_seed(0)
        module = build().double().to(self.device)
        ember.set_rng_state(state)
        return module


def grads(module):
    return {name: p.grad for name, p in module.named_parameters()}


def backward(*outputs):
    """Backpropagate fixed cotangents (the same on every device) through outputs; returns outputs."""
    rng = np.random.default_rng(5)
    sum((o * ember.from_numpy(rng.uniform(-1, 1, size=tuple(o.shape))).to(o.device)).sum() for o in outputs).backward()
    return outputs


def _trained(x, build, steps=2):
    """A module (built by x.module) whose parameters have gradients from a squared-output loss."""
    m = x.module(build)
    for _ in range(steps):
        m(x(5, 4)).pow(2).sum().backward()
    return m


def _clip_norm(norm_type, foreach, **kwargs):
    def run(x):
        m = _trained(x, lambda: nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)))
        total = nn.utils.clip_grad_norm_(m.parameters(), 0.5, norm_type, foreach=foreach, **kwargs)
        return total, grads(m)
    return run


def _clip_value(foreach):
    def run(x):
        m = _trained(x, lambda: nn.Linear(4, 3))
        nn.utils.clip_grad_value_(m.parameters(), 0.3, foreach=foreach)
        return grads(m)
    return run


def _nonfinite_clip(x):
    m = _trained(x, lambda: nn.Linear(4, 3))
    with ember.no_grad():
        m.weight.grad[0, 0] = float("inf")
    return nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True)


def _clip_with_norm(x):
    m = _trained(x, lambda: nn.Linear(4, 3))
    nn.utils.clip_grads_with_norm_(m.parameters(), 1.0, x.const(2.5, dtype=ember.float64))
    return grads(m)


def _run_module(x, m, *shape):
    out = m(x(*shape))
    backward(out)
    return out, m, grads(m)


class Symmetric(nn.Module):
    def forward(self, w):
        return w.triu() + w.triu(1).transpose(-1, -2)

    def right_inverse(self, w):
        return w.triu()


def _parametrized(x, cached=False):
    m = x.module(lambda: nn.Linear(3, 3))
    nn.utils.parametrize.register_parametrization(m, "weight", Symmetric())
    if cached:
        with nn.utils.parametrize.cached():
            out = m(x(2, 3)) + m(x(2, 3))
    else:
        out = m(x(2, 3))
    backward(out)
    m.weight = x(3, 3, grad=False)                          # through right_inverse
    return out, m.weight, m.parametrizations.weight.original, m.parametrizations.weight.original.grad


def _pruned(prune):
    def run(x):
        m = x.module(lambda: nn.Linear(4, 3))
        prune(m, x)
        out = _run_module(x, m, 2, 4)
        nn.utils.prune.remove(m, "weight")
        return out, m.weight
    return run


def _global_prune(x):
    m = x.module(lambda: nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)))
    nn.utils.prune.global_unstructured([(m[0], "weight"), (m[1], "weight"), (m[1], "bias")],
                                       nn.utils.prune.L1Unstructured, amount=0.4)
    return _run_module(x, m, 2, 4), m[0].weight_mask, m[1].bias_mask


def _fused_conv(x):
    conv = x.module(lambda: nn.Conv2d(2, 3, 2))
    bn = x.module(lambda: _with_stats(nn.BatchNorm2d(3)))
    fused = nn.utils.fuse_conv_bn_eval(conv.eval(), bn.eval())
    return fused.weight, fused.bias, fused(x(1, 2, 3, 3, grad=False))


def _fused_linear(x):
    linear = x.module(lambda: nn.Linear(2, 3))
    bn = x.module(lambda: _with_stats(nn.BatchNorm1d(3)))
    fused = nn.utils.fuse_linear_bn_eval(linear.eval(), bn.eval())
    return fused.weight, fused.bias


def _vector_round_trip(x):
    m = x.module(lambda: nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)))
    vec = nn.utils.parameters_to_vector(m.parameters())
    nn.utils.vector_to_parameters(vec * 2 + x(vec.shape[0], grad=False), m.parameters())
    return vec, m


def _packed_round_trip(x):
    seqs = [x(2, 3), x(4, 3), x(1, 3)]
    packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
    unpacked = rnn_utils.unpack_sequence(packed)
    padded, lengths = rnn_utils.pad_packed_sequence(packed, batch_first=True, padding_value=-1.0, total_length=6)
    backward(padded)
    return (packed.data, packed.sorted_indices, packed.unsorted_indices, unpacked, padded, Host((lengths,)),
            [s.grad for s in seqs])


def _ctc(lengths_on):
    def run(x):
        log_probs = x(6, 2, 4).log_softmax(2)
        targets = x.const([[1, 2, 2], [3, 1, 0]])
        if lengths_on == "list":
            lengths = ([6, 5], [3, 2])
        else:
            lengths = tuple(ember.tensor(v, device=lengths_on if lengths_on != "same" else x.device)
                            for v in ([6, 5], [3, 2]))
        loss = F.ctc_loss(log_probs, targets, *lengths)
        backward(loss)
        return loss
    return run


def _sdpa(**options):
    def run(x):
        kwargs = dict(options)
        source = 3 if kwargs.get("is_causal") else 5
        q, k, v = x(2, 2, 3, 4), x(2, 2, source, 4), x(2, 2, source, 6)
        mask = kwargs.pop("mask", None)
        if mask == "bool":
            kwargs["attn_mask"] = x.const(np.random.default_rng(0).random((3, 5)) > 0.3)
        elif mask == "float":
            kwargs["attn_mask"] = x(3, 5, grad=False)
        out = F.scaled_dot_product_attention(q, k, v, **kwargs)
        backward(out)
        return out, q.grad, k.grad, v.grad
    return run


def _mha_forward(x):
    q, k, v = x(3, 2, 4), x(5, 2, 4), x(5, 2, 4)
    in_w, in_b, out_w, out_b = x(12, 4), x(12), x(4, 4), x(4)
    out, weights = F.multi_head_attention_forward(q, k, v, 4, 2, in_w, in_b, None, None, False, 0.0, out_w, out_b,
                                                  key_padding_mask=x.const([[False] * 4 + [True]] * 2))
    backward(out, weights)
    return out, weights, in_w.grad, out_b.grad


def _embedding_max_norm(x):
    weight = x(6, 3, grad=False)
    out = F.embedding(x.const([[1, 4], [4, 0]]), weight, max_norm=1.5, norm_type=3.0)
    return out, weight


def _batch_norm_functional(x):
    mean, var = x(3, grad=False), x(3, low=0.5, grad=False)
    out = F.batch_norm(x(4, 3, 2), mean, var, x(3), x(3), training=True, momentum=0.2)
    backward(out)
    return out, mean, var


def _instance_norm_functional(x):
    mean, var = x(3, grad=False), x(3, low=0.5, grad=False)
    out = F.instance_norm(x(2, 3, 4), mean, var, x(3), x(3), use_input_stats=True, momentum=0.3)
    backward(out)
    return out, mean, var


def _data_parallel(x):
    m = x.module(lambda: nn.Linear(4, 3))
    return _run_module(x, nn.DataParallel(m), 5, 4)


def _swa(x):
    from ember.optim.swa_utils import AveragedModel, update_bn
    m = x.module(lambda: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    averaged = AveragedModel(m)
    for _ in range(3):
        with ember.no_grad():
            for p in m.parameters():
                p.add_(x(*p.shape, grad=False))
        averaged.update_parameters(m)
    update_bn([x(5, 3, grad=False) for _ in range(2)], averaged)
    return [p for p in averaged.module.parameters()], [b for b in averaged.module.buffers()]


def _to_empty_then_load(x):
    m = nn.Linear(3, 2, device="meta").to_empty(device=x.device)
    assert all(p.device.type == ember.device(x.device).type for p in m.parameters())
    m.load_state_dict(x.module(lambda: nn.Linear(3, 2)).float().state_dict())
    return m(x(2, 3, grad=False).float())


def _init(fn, *shape, **kwargs):
    return lambda x: fn(x(*shape, grad=False), **kwargs)


def F_(name, fn, random=False, **kwargs):
    return Case(name, fn, [], random=random, cls=None, **kwargs)


def _graded(op, *shapes, dtype=None, low=-2.0, high=2.0):
    """op on drawn inputs of the given shapes (float64, or cast to dtype): its output and the gradients of the
    drawn inputs from fixed cotangents (the device-built index and weight arrays of nn's resampling, padding
    and shuffles reach both)."""
    def run(x):
        leaves = [x(*shape, low=low, high=high) for shape in shapes]
        out = op(*[t if dtype is None else t.to(dtype) for t in leaves])
        backward(out)
        return out, [t.grad for t in leaves]
    return run


def _interp(shape, **kwargs):
    return _graded(lambda t: F.interpolate(t, **kwargs), shape)


def _packed(lengths, batch_first=False, enforce_sorted=True, total_length=None, padding_value=0.0):
    """pack_padded_sequence then pad_packed_sequence of a drawn padded batch: the packed data and the padded
    output on the device (with the input's gradient), batch_sizes and the returned lengths on the cpu."""
    def run(x):
        steps, batch = max(lengths), len(lengths)
        padded = x(*((batch, steps) if batch_first else (steps, batch)), 2)
        packed = rnn_utils.pack_padded_sequence(padded, lengths, batch_first=batch_first,
                                                enforce_sorted=enforce_sorted)
        out, out_lengths = rnn_utils.pad_packed_sequence(packed, batch_first=batch_first, total_length=total_length,
                                                         padding_value=padding_value)
        backward(out)
        indices = [] if packed.sorted_indices is None else [packed.sorted_indices, packed.unsorted_indices]
        return packed.data, indices, out, padded.grad, Host((packed.batch_sizes, out_lengths))
    return run


def _sequences_round_trip(enforce_sorted):
    def run(x):
        seqs = [x(4, 2), x(3, 2), x(1, 2)] if enforce_sorted else [x(1, 2), x(4, 2), x(3, 2), x(4, 2)]
        packed = rnn_utils.pack_sequence(seqs, enforce_sorted=enforce_sorted)
        unpacked = rnn_utils.unpack_sequence(packed)
        backward(*unpacked)
        padded = rnn_utils.pad_sequence(seqs, batch_first=True, padding_value=2.5, padding_side="left")
        lengths = ember.tensor([s.shape[0] for s in seqs])
        return (packed.data, unpacked, [s.grad for s in seqs], padded,
                rnn_utils.unpad_sequence(padded.flip(1), lengths, batch_first=True), Host((packed.batch_sizes,)))
    return run


# nn's resampling (interpolate, grid_sample, affine_grid), padding and shuffles build their index and weight arrays
# with the device's array module; the packing utilities keep their bookkeeping on the host (as PyTorch does)
RESAMPLING_CASES = [
    F_("interpolate-nearest-1d-scale", _interp((2, 3, 5), scale_factor=2.5)),
    F_("interpolate-nearest-2d-size", _interp((1, 2, 4, 5), size=(7, 3))),
    F_("interpolate-nearest-same-size-scale", _interp((1, 2, 4), scale_factor=1.2)),
    F_("interpolate-nearest-exact-3d", _interp((1, 1, 2, 3, 4), scale_factor=(1.5, 2.0, 0.5), mode="nearest-exact")),
    F_("interpolate-nearest-int", lambda x: F.interpolate(x.const(np.arange(24).reshape(1, 2, 3, 4)), size=(5, 2))),
    F_("interpolate-linear-align", _interp((2, 3, 5), size=8, mode="linear", align_corners=True)),
    F_("interpolate-linear-scale", _interp((2, 3, 5), scale_factor=0.6, mode="linear")),
    F_("interpolate-bilinear-align-scale", _interp((1, 2, 4, 5), scale_factor=(2.0, 0.5), mode="bilinear",
                                                   align_corners=True)),
    F_("interpolate-bilinear-float32", _graded(lambda t: F.interpolate(t, size=(3, 7), mode="bilinear"), (1, 2, 4, 5),
                                               dtype=ember.float32), rtol=1e-6),
    F_("interpolate-bicubic-align", _interp((1, 1, 4, 5), scale_factor=1.7, mode="bicubic", align_corners=True)),
    F_("interpolate-bicubic-down", _interp((1, 2, 6, 5), size=(3, 4), mode="bicubic")),
    F_("interpolate-trilinear-align", _interp((1, 2, 2, 3, 4), size=(3, 2, 5), mode="trilinear",
                                              align_corners=True)),
    F_("interpolate-trilinear-scale", _interp((1, 1, 3, 2, 3), scale_factor=1.5, mode="trilinear",
                                              recompute_scale_factor=False)),
    F_("interpolate-area-1d", _interp((2, 2, 7), size=3, mode="area")),
    F_("interpolate-area-3d", _interp((1, 1, 4, 3, 5), scale_factor=0.5, mode="area")),
    F_("interpolate-same-size", _interp((1, 2, 3, 4), size=(3, 4))),
    F_("interpolate-antialias", _interp((1, 1, 6, 6), size=(3, 3), mode="bilinear", antialias=True)),
    F_("upsample_bilinear", _graded(lambda t: F.upsample_bilinear(t, scale_factor=2), (1, 1, 2, 3))),
    F_("grid_sample-zeros-align", _graded(lambda t, g: F.grid_sample(t, g, align_corners=True), (2, 2, 3, 4),
                                          (2, 4, 3, 2))),
    F_("grid_sample-nearest-reflection", _graded(lambda t, g: F.grid_sample(
        t, g, mode="nearest", padding_mode="reflection"), (1, 2, 4, 4), (1, 3, 3, 2), low=-1.7, high=1.7)),
    F_("grid_sample-border-float32", _graded(lambda t, g: F.grid_sample(t, g, padding_mode="border"), (1, 1, 3, 3),
                                             (1, 2, 2, 2), dtype=ember.float32), rtol=1e-6),
    F_("affine_grid-align-float32", _graded(lambda t: F.affine_grid(t, (2, 1, 4, 3), align_corners=True), (2, 2, 3),
                                            dtype=ember.float32), rtol=1e-6),
    F_("affine_grid-3d-unaligned", _graded(lambda t: F.affine_grid(t, (1, 2, 3, 2, 4)), (1, 3, 4))),
    F_("affine_grid-unit-size", _graded(lambda t: F.affine_grid(t, (1, 1, 1, 3)), (1, 2, 3))),
    F_("pad-reflect-1d", _graded(lambda t: F.pad(t, (3, 1), mode="reflect"), (2, 3, 4))),
    F_("pad-reflect-2d-unbatched", _graded(lambda t: F.pad(t, (1, 2, 2, 0), mode="reflect"), (2, 3, 4))),
    F_("pad-reflect-3d", _graded(lambda t: F.pad(t, (1, 1, 0, 2, 1, 0), mode="reflect"), (1, 1, 2, 3, 3))),
    F_("pad-replicate", _graded(lambda t: F.pad(t, (2, 3, 0, 1), mode="replicate"), (1, 2, 3, 2))),
    F_("pad-circular", _graded(lambda t: F.pad(t, (2, 1, 1, 3), mode="circular"), (1, 2, 3, 4))),
    F_("pad-constant", _graded(lambda t: F.pad(t, (1, 2, 0, 1), value=-0.5), (2, 3, 2))),
    F_("pad-zero-width", _graded(lambda t: F.pad(t, (0, 0), mode="reflect"), (1, 2, 3))),
    F_("pixel_shuffle", _graded(lambda t: F.pixel_shuffle(t, 2), (2, 8, 2, 3))),
    F_("pixel_unshuffle", _graded(lambda t: F.pixel_unshuffle(t, 2), (1, 2, 4, 6))),
    F_("channel_shuffle", _graded(lambda t: F.channel_shuffle(t, 3), (2, 6, 2))),
    F_("unfold-unbatched", _graded(lambda t: F.unfold(t, (2, 2), dilation=(2, 1), padding=(1, 0)), (2, 4, 3))),
    F_("fold-unbatched", _graded(lambda t: F.fold(t, (3, 4), 2, padding=1, stride=(2, 1)), (8, 10))),
    F_("pack_padded-sorted", _packed([4, 3, 3, 1])),
    F_("pack_padded-batch_first-unsorted", _packed([2, 4, 1, 4], batch_first=True, enforce_sorted=False,
                                                   total_length=6, padding_value=1.5)),
    F_("pack_padded-unsorted-raises", _packed([2, 3], enforce_sorted=True)),
    F_("pack_sequence-sorted", _sequences_round_trip(True)),
    F_("pack_sequence-unsorted", _sequences_round_trip(False)),
]


def _assert_shapes(results, shapes):
    assert [tuple(t.shape) for t, _ in results] == shapes


def _sparse_columns(results):
    """init.sparse_ on cuda: its normal draws come from the cuda generator and its permutations from the cpu's
    (as in PyTorch), so the values differ from the cpu's; each column has ceil(sparsity * rows) zeros."""
    (t, _), = results
    assert (_host(t) == 0).sum(0).tolist() == [3, 3, 3]


init = nn.init
FUNCTION_CASES = [
    F_("init.uniform_", _init(init.uniform_, 3, 4, a=-0.5, b=1.0), random=True),
    F_("init.normal_", _init(init.normal_, 3, 4, mean=1.0, std=0.5), random=True),
    F_("init.trunc_normal_", _init(init.trunc_normal_, 30, 4, a=-1.0, b=1.5), random=True),
    F_("init.xavier_uniform_", _init(init.xavier_uniform_, 3, 4, 2, gain=2.0), random=True),
    F_("init.xavier_normal_", _init(init.xavier_normal_, 3, 4), random=True),
    F_("init.kaiming_uniform_", _init(init.kaiming_uniform_, 4, 3, 2, a=0.1, mode="fan_out"), random=True),
    F_("init.kaiming_normal_", _init(init.kaiming_normal_, 4, 3, nonlinearity="relu"), random=True),
    F_("init.orthogonal_", _init(init.orthogonal_, 3, 5, gain=1.5), random=True),
    F_("init.sparse_", _init(init.sparse_, 6, 3, sparsity=0.5, std=0.1), check=_sparse_columns),
    F_("init.dirac_", _init(init.dirac_, 4, 2, 3, groups=2)),
    F_("init.eye_", _init(init.eye_, 3, 4)),
    F_("init.constant_", _init(init.constant_, 3, 4, val=0.25)),
    F_("init.zeros_", _init(init.zeros_, 3, 4)),
    F_("init.ones_", _init(init.ones_, 3, 4)),
    F_("init.module", lambda x: x.module(lambda: nn.Sequential(nn.Conv2d(2, 3, 2), nn.GRU(3, 2), nn.Linear(2, 2)))),
    F_("clip_grad_norm_", _clip_norm(2.0, False)),
    F_("clip_grad_norm_-foreach", _clip_norm(2.0, True)),
    F_("clip_grad_norm_-inf", _clip_norm("inf", None)),
    F_("clip_grad_norm_-1-foreach", _clip_norm(1, True)),
    F_("clip_grad_norm_-3.5", _clip_norm(3.5, False, error_if_nonfinite=True)),
    F_("clip_grad_norm_-nonfinite", _nonfinite_clip),
    F_("clip_grad_value_", _clip_value(False)),
    F_("clip_grad_value_-foreach", _clip_value(True)),
    F_("get_total_norm", lambda x: nn.utils.get_total_norm([x(3), x(2, 2)], 3.0)),
    F_("clip_grads_with_norm_", _clip_with_norm),
    F_("parameters_to_vector", _vector_round_trip),
    F_("weight_norm", lambda x: _run_module(x, nn.utils.weight_norm(x.module(lambda: nn.Linear(4, 3)), dim=1), 2, 4)),
    F_("spectral_norm", lambda x: _run_module(x, x.module(lambda: nn.utils.spectral_norm(nn.Linear(4, 3))), 2, 4)),
    F_("spectral_norm-on-device", lambda x: _run_module(x, nn.utils.spectral_norm(x.module(lambda: nn.Linear(4, 3))),
                                                        2, 4), random=True),
    F_("remove_weight_norm", lambda x: nn.utils.remove_weight_norm(
        nn.utils.weight_norm(x.module(lambda: nn.Linear(4, 3)))).weight),
    F_("parametrizations.weight_norm", lambda x: _run_module(
        x, nn.utils.parametrizations.weight_norm(x.module(lambda: nn.Conv1d(2, 3, 2))), 2, 2, 5)),
    F_("parametrizations.spectral_norm", lambda x: _run_module(
        x, x.module(lambda: nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3), n_power_iterations=3)), 2, 4)),
    F_("parametrize", _parametrized),
    F_("parametrize-cached", lambda x: _parametrized(x, cached=True)),
    F_("prune.l1_unstructured", _pruned(lambda m, x: nn.utils.prune.l1_unstructured(m, "weight", amount=0.5))),
    F_("prune.ln_structured", _pruned(lambda m, x: nn.utils.prune.ln_structured(m, "weight", amount=1, n=2, dim=0))),
    F_("prune.random_unstructured", _pruned(lambda m, x: nn.utils.prune.random_unstructured(m, "weight", 0.5)),
       random=True),
    F_("prune.random_structured", _pruned(lambda m, x: nn.utils.prune.random_structured(m, "weight", 0.5, dim=1)),
       random=True),
    F_("prune.custom_from_mask", _pruned(lambda m, x: nn.utils.prune.custom_from_mask(
        m, "weight", x.const(np.arange(12).reshape(3, 4) % 3 > 0)))),
    F_("prune.global_unstructured", _global_prune),
    F_("fuse_conv_bn_eval", _fused_conv),
    F_("fuse_linear_bn_eval", _fused_linear),
    F_("functional_call", lambda x: backward(ember.func.functional_call(
        x.module(lambda: nn.Linear(4, 3)), {"weight": (w := x(3, 4))}, (x(2, 4),))) + (w.grad,)),
    F_("skip_init", lambda x: nn.utils.skip_init(nn.Linear, 3, 2, device=x.device, dtype=ember.float64),
       check=lambda results: _assert_shapes(results, [(2, 3), (2,)])),
    F_("pad_sequence", lambda x: rnn_utils.pad_sequence([x(3, 2), x(1, 2), x(2, 2)], batch_first=True,
                                                        padding_value=0.5)),
    F_("pad_sequence-left", lambda x: rnn_utils.pad_sequence([x(1, 2), x(3, 2)], padding_side="left")),
    F_("pack_unpack", _packed_round_trip),
    F_("invert_permutation", lambda x: rnn_utils.invert_permutation(x.const([2, 0, 3, 1]))),
    F_("unpad_sequence", lambda x: rnn_utils.unpad_sequence(x(4, 3, 2), x.const([4, 1, 2]))),
    F_("ctc_loss-list-lengths", _ctc("list")),
    F_("ctc_loss-cpu-lengths", _ctc("cpu")),
    F_("ctc_loss-device-lengths", _ctc("same")),
    F_("grid_sample", lambda x: backward(F.grid_sample(x(1, 2, 4, 5), x(1, 3, 3, 2, low=-1.1, high=1.1),
                                                       align_corners=False))),
    F_("grid_sample-nearest-border", lambda x: F.grid_sample(x(2, 1, 4, 4), x(2, 2, 3, 2, low=-1.2, high=1.2),
                                                             mode="nearest", padding_mode="border")),
    F_("grid_sample-reflection", lambda x: backward(F.grid_sample(
        x(1, 2, 4, 4), x(1, 2, 2, 2, low=-1.5, high=1.5), padding_mode="reflection", align_corners=True))),
    F_("affine_grid", lambda x: backward(F.affine_grid(x(2, 2, 3), (2, 1, 3, 4), align_corners=False))),
    F_("affine_grid-3d", lambda x: backward(F.affine_grid(x(1, 3, 4), (1, 1, 2, 3, 2), align_corners=True))),
    F_("interpolate-area", lambda x: backward(F.interpolate(x(1, 2, 6, 5), size=(3, 2), mode="area"))),
    F_("interpolate-recompute", lambda x: backward(F.interpolate(
        x(1, 2, 5), scale_factor=1.7, mode="linear", recompute_scale_factor=True))),
    F_("sdpa", _sdpa()),
    F_("sdpa-bool-mask", _sdpa(mask="bool")),
    F_("sdpa-float-mask-scale", _sdpa(mask="float", scale=0.3)),
    F_("sdpa-causal", _sdpa(is_causal=True)),
    F_("sdpa-dropout", _sdpa(dropout_p=0.4), random=True),
    F_("multi_head_attention_forward", _mha_forward),
    F_("one_hot", lambda x: F.one_hot(x.const([0, 3, 1]))),
    F_("one_hot-classes", lambda x: F.one_hot(x.const([[0, 1], [2, 0]]), 5)),
    F_("normalize", lambda x: backward(F.normalize(x(3, 4), p=3.0, dim=0))),
    F_("pdist", lambda x: backward(F.pdist(x(4, 3), p=1.5))),
    F_("cdist", lambda x: backward(F.cdist(x(2, 4, 3), x(2, 5, 3), p=1.0))),
    F_("gumbel_softmax", lambda x: backward(F.gumbel_softmax(x(3, 4), tau=0.5, hard=True)), random=True),
    F_("dropout", lambda x: backward(F.dropout(x(3, 4), 0.3)), random=True),
    F_("embedding-max_norm", _embedding_max_norm),
    F_("embedding_bag", lambda x: backward(F.embedding_bag(x.const([1, 2, 0, 3]), x(4, 3), x.const([0, 1]),
                                                           mode="max"))),
    F_("batch_norm-functional", _batch_norm_functional),
    F_("instance_norm-functional", _instance_norm_functional),
    F_("rms_norm", lambda x: backward(F.rms_norm(x(2, 3), (3,), x(3)))),
    F_("local_response_norm", lambda x: backward(F.local_response_norm(x(2, 4, 3, 3), 3))),
    F_("DataParallel", _data_parallel),
    # PyTorch averages with foreach lerp (a float32 weight) on cuda, with a division on the cpu
    F_("swa_utils", _swa, rtol=1e-6),
    F_("to_empty", _to_empty_then_load),
]


def _flat_results(value, host=False):
    """(tensor, stays on the cpu) for the tensors in a result: tuples, lists and dicts walked, a module gives
    its state_dict and its parameters' gradients."""
    if isinstance(value, ember.Tensor):
        return [(value, host)]
    if isinstance(value, nn.Module):
        return _flat_results((value.state_dict(), grads(value)), host)
    if isinstance(value, dict):
        return _flat_results(list(value.values()), host)
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat_results(v, host or isinstance(v, Host))]
    return []


def _run_function(case, device):
    ember.manual_seed(0)
    try:
        return _flat_results(case.build(Draw(case.name, device)))
    except Exception as error:  # noqa: BLE001 - the type is compared with the other device's
        return error


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in FUNCTION_CASES + RESAMPLING_CASES])
def test_function_on_cuda_matches_cpu(case, cuda_device):
    cpu, gpu = _run_function(case, "cpu"), _run_function(case, cuda_device)
    if isinstance(cpu, Exception):
        assert type(gpu) is type(cpu), f"cpu raised {cpu!r}, cuda gave {gpu!r}"
        return
    if isinstance(gpu, Exception):
        raise gpu
    assert len(gpu) == len(cpu)
    if case.check:
        case.check(gpu)
    compare = not case.check and (not case.random or _streams_agree())
    for i, ((c, _), (g, host)) in enumerate(zip(cpu, gpu)):
        if host:
            assert g.device.type == "cpu", f"result {i} should stay on the cpu, as PyTorch's does"
        else:
            _on_device(g, f"result {i}")
        if compare:
            _same(c, g, f"result {i}", case.rtol)


def test_modules_built_on_cuda(cuda_device):
    """device= on the constructors: parameters and buffers made on the device, initialised as on the cpu."""
    builders = [
        lambda d: nn.Linear(3, 2, device=d), lambda d: nn.Bilinear(2, 3, 2, device=d),
        lambda d: nn.Conv2d(2, 3, 2, device=d), lambda d: nn.ConvTranspose1d(2, 3, 2, device=d),
        lambda d: nn.BatchNorm1d(3, device=d), lambda d: nn.InstanceNorm2d(2, affine=True, track_running_stats=True,
                                                                            device=d),
        lambda d: nn.LayerNorm(3, device=d), lambda d: nn.GroupNorm(1, 2, device=d), lambda d: nn.RMSNorm(3, device=d),
        lambda d: nn.PReLU(2, device=d), lambda d: nn.Embedding(4, 2, device=d),
        lambda d: nn.EmbeddingBag(4, 2, device=d), lambda d: nn.LSTM(3, 2, proj_size=1, device=d),
        lambda d: nn.GRUCell(3, 2, device=d), lambda d: nn.MultiheadAttention(4, 2, kdim=3, add_bias_kv=True,
                                                                              device=d),
        lambda d: nn.Transformer(4, 2, 1, 1, 8, device=d), lambda d: nn.LazyLinear(2, device=d),
    ]
    agree = _streams_agree()
    for build in builders:
        ember.manual_seed(0)
        on_cpu = build("cpu")
        ember.manual_seed(0)
        on_gpu = build(cuda_device)
        cpu_state, gpu_state = on_cpu.state_dict(), on_gpu.state_dict()
        assert cpu_state.keys() == gpu_state.keys()
        for name, t in gpu_state.items():
            if isinstance(t, nn.parameter.UninitializedParameter):
                continue
            _on_device(t, f"{type(on_gpu).__name__}.{name}")
            if agree:
                _same(cpu_state[name], t, f"{type(on_gpu).__name__}.{name}")


# --- fixes made for the tables above, each checked on its own -----------------------------------------------

def test_to_device_is_differentiable_and_stores_the_device_array(cuda_device):
    """x.to("cuda") of a tensor that requires grad: a ToCopyBackward0 node, a device array from the start (the
    storage invariant holds), gradients back on the cpu, second derivatives through it."""
    x = ember.tensor([0.5, -1.0, 2.0], dtype=ember.float64, requires_grad=True)
    y = x.to(cuda_device)
    assert type(y.grad_fn).__name__ == "ToCopyBackward0" and isinstance(y._array, backend.xp.ndarray)
    (g,) = ember.autograd.grad((y ** 3).sum(), x, create_graph=True)
    assert g.device.type == "cpu" and g.tolist() == [0.75, 3.0, 12.0]                 # 3 x^2
    g.sum().backward()
    assert x.grad.device.type == "cpu" and x.grad.tolist() == [3.0, -6.0, 12.0]       # 6 x
    back = y.to("cpu")
    assert type(back.grad_fn).__name__ == "ToCopyBackward0" and back.device.type == "cpu"


def test_cpu_index_tensors_index_a_cuda_tensor(cuda_device):
    """PyTorch takes cpu index tensors (long or bool) for a cuda tensor, and refuses cuda indices for a cpu one."""
    t = ember.arange(12.0, device=cuda_device).reshape(3, 4)
    assert t[ember.tensor([2, 0])].tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert t[:, ember.tensor([True, False, False, True])].tolist() == [[0, 3], [4, 7], [8, 11]]
    t[ember.tensor([1])] = -1.0
    t[:, ember.tensor([False, True, False, False])] = 5.0
    assert t.is_cuda and t.tolist() == [[0, 5, 2, 3], [-1, 5, -1, -1], [8, 5, 10, 11]]
    with pytest.raises(RuntimeError, match=r"indices should be either on cpu or on the same device as the "
                                           r"indexed tensor \(cpu\)"):
        ember.zeros(3)[ember.tensor([0], device=cuda_device)]


def test_pack_padded_sequence_takes_cpu_lengths_only(cuda_device):
    """PyTorch reads the lengths on the host: a lengths tensor elsewhere (or not 1-D) is refused, with its words;
    the data may live on the cuda device."""
    x = ember.zeros(3, 2, 1, device=cuda_device)
    with pytest.raises(RuntimeError, match=r"'lengths' argument should be a 1D CPU int64 tensor, but got 1D "
                                           r"cuda:0 Long tensor"):
        rnn_utils.pack_padded_sequence(x, ember.tensor([3, 2], device=cuda_device))
    packed = rnn_utils.pack_padded_sequence(x, ember.tensor([3, 2]))
    assert packed.data.is_cuda and packed.batch_sizes.device.type == "cpu" and packed.batch_sizes.tolist() == [2, 2, 1]
    # unpad_sequence takes lengths on any device
    assert [s.shape[0] for s in rnn_utils.unpad_sequence(x, ember.tensor([3, 1], device=cuda_device))] == [3, 1]


def test_pack_padded_sequence_lengths_errors_match_torch(cuda_device):
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as torch_rnn
    for make in (lambda m: m.tensor([3, 2]).to("meta"), lambda m: m.tensor([[3, 2]])):
        messages = []
        for m, module in ((ember, rnn_utils), (torch, torch_rnn)):
            with pytest.raises(RuntimeError) as info:
                module.pack_padded_sequence(m.zeros(3, 2, 1), make(m))
            messages.append(str(info.value))
        assert messages[0] == messages[1]


def test_module_to_empty_matches_torch(cuda_device):
    torch = pytest.importorskip("torch")
    for m in (ember, torch):
        model = m.nn.Sequential(m.nn.Linear(3, 2, device="meta"), m.nn.BatchNorm1d(2, device="meta"))
        assert model.to_empty(device="cpu", recurse=False) is model and model[0].weight.is_meta   # no own tensors
        model.to_empty(device="cpu")
        assert [(n, tuple(t.shape), str(t.dtype).split(".")[1], t.device.type, type(t).__name__, t.requires_grad)
                for n, t in model.state_dict(keep_vars=True).items()] == [
            ("0.weight", (2, 3), "float32", "cpu", "Parameter", True), ("0.bias", (2,), "float32", "cpu", "Parameter",
                                                                        True),
            ("1.weight", (2,), "float32", "cpu", "Parameter", True), ("1.bias", (2,), "float32", "cpu", "Parameter",
                                                                      True),
            ("1.running_mean", (2,), "float32", "cpu", "Tensor", False),
            ("1.running_var", (2,), "float32", "cpu", "Tensor", False),
            ("1.num_batches_tracked", (), "int64", "cpu", "Tensor", False)]
    on_device = ember.nn.Linear(3, 2, device="meta").to_empty(device=cuda_device)
    assert on_device.weight.is_cuda and isinstance(on_device.weight, ember.nn.Parameter)


def test_matrix_norm_dtype_matches_torch(cuda_device):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).uniform(-2, 2, size=(2, 3, 4)).astype(np.float32)
    for ord in ("fro", "nuc", 1, float("inf"), -2):
        e = ember.linalg.matrix_norm(ember.from_numpy(a), ord, dtype=ember.float64)
        t = torch.linalg.matrix_norm(torch.from_numpy(a), ord, dtype=torch.float64)
        assert e.dtype is ember.float64
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)
    assert ember.linalg.matrix_norm(ember.ones(2, 2).cuda(), dtype=ember.float64).item() == 2.0
