"""ember.onnx.export of sequence models: RNN / LSTM / GRU (ONNX's recurrent nodes), scaled_dot_product_attention,
MultiheadAttention, the Transformer layers, a GPT block and an LSTM language model, and the char_gpt and
rnn_sine examples. Each is exported with dynamic batch and sequence axes, checked by onnx.checker (full_check),
loaded by onnxruntime without warnings, and run at the traced sizes and at other ones: onnxruntime's outputs
must equal ember's eager outputs."""
import importlib.util
import math
import os
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import ember  # noqa: E402
from ember.utils._pytree import tensor_leaves  # noqa: E402
import ember.nn.functional as F  # noqa: E402
from ember import nn  # noqa: E402
from ember.onnx import OnnxExporterError  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")




def roundtrip(model, inputs, names, axes, others=(), capfd=None, rtol=1e-4, atol=1e-5):
    """Export model(*inputs) with `axes` dynamic; check the model; load it in onnxruntime (no warnings when
    capfd is given); compare onnxruntime with ember on `inputs` and on each tuple of `others`. Returns the
    ONNXProgram."""
    model.eval()
    program = ember.onnx.export(model, tuple(inputs), input_names=names, dynamic_axes=axes)
    proto = program.model_proto
    onnx.checker.check_model(proto, full_check=True)
    options = ort.SessionOptions()
    options.log_severity_level = 1                      # warnings and errors reach stderr
    if capfd is not None:
        capfd.readouterr()
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    if capfd is not None:
        logged = capfd.readouterr()
        assert "[W:" not in logged.err + logged.out and "[E:" not in logged.err + logged.out, logged.err
    for args in (tuple(inputs), *others):
        with ember.no_grad():
            expected = tensor_leaves(model(*args))
        got = session.run(None, {n: t.numpy() for n, t in zip(names, tensor_leaves(args))})
        assert len(got) == len(expected)
        for e, o in zip(expected, got):
            assert o.shape == tuple(e.shape), (o.shape, tuple(e.shape))
            np.testing.assert_allclose(o, e.numpy(), rtol=rtol, atol=atol)
    return program


def op_types(program):
    return [n.op_type for n in program.model_proto.graph.node]


class Call(nn.Module):
    """Calls `fn(self, *args)`; submodules given as keywords."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for name, m in modules.items():
            setattr(self, name, m)

    def forward(self, *args):
        return self.fn(self, *args)


# -- RNN / LSTM / GRU -------------------------------------------------------------------------------------------

RECURRENT = [nn.LSTM, nn.GRU, nn.RNN]
CONFIGS = [dict(), dict(num_layers=2), dict(num_layers=2, bidirectional=True), dict(batch_first=True),
           dict(batch_first=True, bidirectional=True), dict(bias=False, num_layers=2)]


def _seq(batch_first, steps, batch, features):
    return ember.randn(batch, steps, features) if batch_first else ember.randn(steps, batch, features)


@pytest.mark.parametrize("cls", RECURRENT, ids=lambda c: c.__name__)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_recurrent_layers(cls, config, capfd):
    model = cls(3, 5, **config)
    bf = config.get("batch_first", False)
    axes = {"x": {0: "batch", 1: "time"} if bf else {0: "time", 1: "batch"}}
    program = roundtrip(model, [_seq(bf, 6, 2, 3)], ["x"], axes,
                        others=[(_seq(bf, 9, 4, 3),), (_seq(bf, 1, 1, 3),)], capfd=capfd)
    node = {nn.LSTM: "LSTM", nn.GRU: "GRU", nn.RNN: "RNN"}[cls]
    assert op_types(program).count(node) == config.get("num_layers", 1)       # one node per layer, not unrolled
    assert "MatMul" not in op_types(program)


@pytest.mark.parametrize("cls", RECURRENT, ids=lambda c: c.__name__)
def test_recurrent_initial_states(cls):
    model = cls(3, 4, num_layers=2, bidirectional=True)

    def inputs(steps, batch):
        h = ember.randn(4, batch, 4)
        return (ember.randn(steps, batch, 3), (h, ember.randn(4, batch, 4)) if cls is nn.LSTM else h)
    names = ["x", "h0", "c0"] if cls is nn.LSTM else ["x", "h0"]
    axes = {"x": {0: "time", 1: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}}
    roundtrip(model, inputs(5, 2), names, {n: axes[n] for n in names}, others=[inputs(7, 3)])


@pytest.mark.parametrize("cls", RECURRENT, ids=lambda c: c.__name__)
def test_recurrent_unbatched(cls):
    model = cls(3, 4, num_layers=2, bidirectional=True)
    roundtrip(model, [ember.randn(5, 3)], ["x"], {"x": {0: "time"}}, others=[(ember.randn(8, 3),)])
    h = ember.randn(4, 4)
    state = (h, ember.randn(4, 4)) if cls is nn.LSTM else h
    names = ["x", "h0", "c0"] if cls is nn.LSTM else ["x", "h0"]
    roundtrip(model, [ember.randn(5, 3), state], names, {"x": {0: "time"}}, others=[(ember.randn(2, 3), state)])


def test_rnn_relu_nonlinearity():
    model = nn.RNN(3, 4, num_layers=2, nonlinearity="relu")
    program = roundtrip(model, [ember.randn(5, 2, 3)], ["x"], {"x": {0: "time", 1: "batch"}},
                        others=[(ember.randn(3, 6, 3),)])
    rnn = [n for n in program.model_proto.graph.node if n.op_type == "RNN"][0]
    assert [a.strings for a in rnn.attribute if a.name == "activations"] == [[b"Relu"]]


def test_recurrent_gate_order_without_torch():
    # a GRU whose update gate is pinned open (z = 1) keeps its initial state; an LSTM whose forget gate is
    # shut and input gate open gives c = tanh(g): both only hold when the gates are reordered for ONNX
    gru = nn.GRU(2, 3)
    with ember.no_grad():
        for p in gru.parameters():
            p.zero_()
        gru.bias_ih_l0[3:6] = 50.0                    # z (PyTorch's second gate) saturates at 1
    h0 = ember.randn(1, 2, 3)
    program = ember.onnx.export(gru, (ember.randn(4, 2, 2), h0), input_names=["x", "h0"])
    out, h_n = program(ember.randn(4, 2, 2), h0)
    np.testing.assert_allclose(h_n.numpy(), h0.numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(h0.numpy(), (4, 2, 3)), rtol=1e-6)
    lstm = nn.LSTM(2, 3)
    with ember.no_grad():
        for p in lstm.parameters():
            p.zero_()
        lstm.bias_ih_l0[0:3] = 50.0                   # i open
        lstm.bias_ih_l0[3:6] = -50.0                  # f shut
        lstm.bias_ih_l0[6:9] = 0.5                    # g = tanh(0.5)
        lstm.bias_ih_l0[9:12] = 50.0                  # o open
    program = ember.onnx.export(lstm, (ember.randn(3, 1, 2),), input_names=["x"])
    out, h_n, c_n = program(ember.randn(3, 1, 2))
    np.testing.assert_allclose(c_n.numpy(), np.full((1, 1, 3), math.tanh(0.5)), rtol=1e-5)
    np.testing.assert_allclose(h_n.numpy(), np.full((1, 1, 3), math.tanh(math.tanh(0.5))), rtol=1e-5)


@pytest.mark.parametrize("cls", RECURRENT, ids=lambda c: c.__name__)
def test_recurrent_against_torch(cls, torch):
    model = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True).eval()
    theirs = getattr(torch.nn, cls.__name__)(3, 4, num_layers=2, bidirectional=True, batch_first=True).eval()
    theirs.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in model.state_dict().items()})
    program = ember.onnx.export(model, (ember.randn(2, 5, 3),), input_names=["x"],
                                dynamic_axes={"x": {0: "batch", 1: "time"}})
    x = np.random.default_rng(0).standard_normal((3, 7, 3)).astype(np.float32)
    got = program(x)
    with torch.no_grad():
        expected = _flat_torch(theirs(torch.from_numpy(x)), torch)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-4, atol=1e-5)


def _flat_torch(value, torch):
    if isinstance(value, torch.Tensor):
        return [value]
    return [t for v in value for t in _flat_torch(v, torch)]


def test_lstm_proj_size_is_refused():
    with pytest.raises(OnnxExporterError, match="proj_size=2"):
        ember.onnx.export(nn.LSTM(3, 4, proj_size=2), (ember.randn(5, 2, 3),))


def test_packed_sequence_is_refused():
    lstm = nn.LSTM(3, 4)
    model = Call(lambda self, x: self.lstm(nn.utils.rnn.pack_padded_sequence(x, [3, 2]))[1][0], lstm=lstm)
    with pytest.raises(OnnxExporterError, match="PackedSequence"):
        ember.onnx.export(model, (ember.randn(3, 2, 3),))


# -- scaled_dot_product_attention ---------------------------------------------------------------------------------

def _attention(**options):
    return Call(lambda self, q, k, v, *mask: F.scaled_dot_product_attention(q, k, v, *mask, **options))


QKV_AXES = {"q": {0: "batch", 2: "L"}, "k": {0: "batch", 2: "S"}, "v": {0: "batch", 2: "S"}}


def _qkv(batch, length, source, heads=3, kv_heads=3):
    return ember.randn(batch, heads, length, 4), ember.randn(batch, kv_heads, source, 4), \
        ember.randn(batch, kv_heads, source, 6)


@pytest.mark.parametrize("options", [dict(), dict(is_causal=True), dict(scale=0.3), dict(is_causal=True, scale=2.0)],
                         ids=["plain", "causal", "scale", "causal-scale"])
def test_sdpa(options, capfd):
    roundtrip(_attention(**options), _qkv(2, 5, 6), ["q", "k", "v"], QKV_AXES,
              others=[_qkv(3, 7, 2), _qkv(1, 4, 9), _qkv(2, 1, 1)], capfd=capfd)


def test_sdpa_causal_without_torch():
    # row i of a causal attention averages the values 0..i when the scores are all equal
    q, k = ember.zeros(1, 1, 4, 2), ember.zeros(1, 1, 4, 2)
    v = ember.arange(4.0).reshape(1, 1, 4, 1)
    program = ember.onnx.export(_attention(is_causal=True), (q, k, v), input_names=["q", "k", "v"])
    np.testing.assert_allclose(program(q, k, v)[0].numpy().ravel(), [0.0, 0.5, 1.0, 1.5], rtol=1e-6)


def test_sdpa_masks():
    bool_mask = ember.rand(5, 6) > 0.4
    bool_mask[0] = False                              # a row with nothing to attend gives zeros, not NaN
    others = [_qkv(3, 7, 2) + (ember.rand(7, 2) > 0.5,)]
    axes = {**QKV_AXES, "mask": {0: "L", 1: "S"}}
    roundtrip(_attention(), _qkv(2, 5, 6) + (bool_mask,), ["q", "k", "v", "mask"], axes, others=others)
    axes = {**QKV_AXES, "mask": {0: "batch", 2: "L", 3: "S"}}
    roundtrip(_attention(), _qkv(2, 5, 6) + (ember.randn(2, 1, 5, 6),), ["q", "k", "v", "mask"], axes,
              others=[_qkv(3, 7, 2) + (ember.randn(3, 1, 7, 2),)])


def test_sdpa_grouped_query_attention():
    roundtrip(_attention(enable_gqa=True), _qkv(2, 5, 6, heads=4, kv_heads=2), ["q", "k", "v"], QKV_AXES,
              others=[_qkv(3, 2, 7, heads=4, kv_heads=2)])


def test_sdpa_dropout_is_refused():
    with pytest.raises(OnnxExporterError, match="dropout_p=0.1"):
        ember.onnx.export(_attention(dropout_p=0.1), _qkv(1, 2, 2))


# -- MultiheadAttention -------------------------------------------------------------------------------------------

def _mha_inputs(batch_first, length, source, batch, kdim=8, vdim=8):
    def seq(steps, features):
        return ember.randn(batch, steps, features) if batch_first else ember.randn(steps, batch, features)
    return seq(length, 8), seq(source, kdim), seq(source, vdim)


@pytest.mark.parametrize("config", [dict(), dict(batch_first=True), dict(kdim=3, vdim=5), dict(bias=False),
                                    dict(add_bias_kv=True), dict(add_zero_attn=True)],
                         ids=["default", "batch_first", "kdim-vdim", "no-bias", "bias_kv", "zero_attn"])
def test_multihead_attention(config, capfd):
    attention = nn.MultiheadAttention(8, 2, **config)
    bf = config.get("batch_first", False)
    kdim, vdim = config.get("kdim", 8), config.get("vdim", 8)

    def axes(name):
        return {0: "batch", 1: name} if bf else {0: name, 1: "batch"}
    roundtrip(attention, _mha_inputs(bf, 5, 6, 2, kdim, vdim), ["q", "k", "v"],
              {"q": axes("L"), "k": axes("S"), "v": axes("S")},
              others=[_mha_inputs(bf, 3, 9, 4, kdim, vdim), _mha_inputs(bf, 1, 1, 1, kdim, vdim)], capfd=capfd)


@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("mask_dtype", ["bool", "float"])
def test_multihead_self_attention_masks(average, mask_dtype):
    attention = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x, padding, mask):
        return self.attention(x, x, x, key_padding_mask=padding, attn_mask=mask, need_weights=True,
                              average_attn_weights=average)

    def inputs(batch, steps):
        padding = ember.zeros(batch, steps, dtype=ember.bool)
        padding[-1, steps // 2:] = True
        mask = ember.rand(steps, steps) > 0.7 if mask_dtype == "bool" else ember.randn(steps, steps)
        return ember.randn(batch, steps, 8), padding if mask_dtype == "bool" else padding.float() * -1e4, mask
    roundtrip(Call(forward, attention=attention), inputs(2, 5), ["x", "padding", "mask"],
              {"x": {0: "batch", 1: "T"}, "padding": {0: "batch", 1: "T"}, "mask": {0: "T", 1: "T"}},
              others=[inputs(3, 7), inputs(1, 2)])


def test_multihead_attention_bias_kv_zero_attn_with_masks():
    attention = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True)

    def forward(self, q, k, padding, mask):
        return self.attention(q, k, k, key_padding_mask=padding, attn_mask=mask)

    def inputs(length, source, batch):
        padding = ember.zeros(batch, source, dtype=ember.bool)
        padding[0, source // 2:] = True
        return ember.randn(length, batch, 8), ember.randn(source, batch, 8), padding, ember.randn(length, source)
    roundtrip(Call(forward, attention=attention), inputs(5, 6, 2), ["q", "k", "padding", "mask"],
              {"q": {0: "L", 1: "batch"}, "k": {0: "S", 1: "batch"}, "padding": {0: "batch", 1: "S"},
               "mask": {0: "L", 1: "S"}}, others=[inputs(3, 4, 3)])


def test_multi_head_attention_forward_static_kv():
    attention = nn.MultiheadAttention(8, 2)

    def forward(self, q, static_k, static_v):
        a = self.attention
        return F.multi_head_attention_forward(
            q, q, q, 8, 2, a.in_proj_weight, a.in_proj_bias, None, None, False, 0.0, a.out_proj.weight,
            a.out_proj.bias, training=False, static_k=static_k, static_v=static_v)

    def inputs(length, source, batch):
        return ember.randn(length, batch, 8), ember.randn(batch * 2, source, 4), ember.randn(batch * 2, source, 4)
    roundtrip(Call(forward, attention=attention), inputs(5, 6, 2), ["q", "k", "v"],
              {"q": {0: "L", 1: "batch"}, "k": {0: "batch_heads", 1: "S"}, "v": {0: "batch_heads", 1: "S"}},
              others=[inputs(3, 4, 3)])


def test_multihead_attention_3d_mask_and_no_weights():
    attention = nn.MultiheadAttention(8, 2)

    def forward(self, q, k, mask):
        return self.attention(q, k, k, attn_mask=mask, need_weights=False)[0]
    roundtrip(Call(forward, attention=attention), [ember.randn(5, 2, 8), ember.randn(6, 2, 8), ember.randn(4, 5, 6)],
              ["q", "k", "mask"], {"q": {0: "L", 1: "batch"}, "k": {0: "S", 1: "batch"},
                                   "mask": {0: "batch_heads", 1: "L", 2: "S"}},
              others=[(ember.randn(3, 3, 8), ember.randn(4, 3, 8), ember.randn(6, 3, 4))])


def test_multihead_attention_unbatched():
    attention = nn.MultiheadAttention(8, 2)

    def forward(self, q, k, padding):
        return self.attention(q, k, k, key_padding_mask=padding)
    padding = ember.tensor([False, False, True, False, False, True])
    roundtrip(Call(forward, attention=attention), [ember.randn(5, 8), ember.randn(6, 8), padding],
              ["q", "k", "padding"], {"q": {0: "L"}, "k": {0: "S"}, "padding": {0: "S"}},
              others=[(ember.randn(3, 8), ember.randn(2, 8), ember.tensor([True, False]))])


def test_multihead_attention_against_torch(torch):
    model = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    theirs.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in model.state_dict().items()})
    program = ember.onnx.export(model, _mha_inputs(True, 5, 5, 2), input_names=["q", "k", "v"],
                                dynamic_axes={n: {0: "batch", 1: "T"} for n in "qkv"})
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((3, 7, 8)).astype(np.float32) for _ in range(3))
    out, weights = program(q, k, v)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v))
    np.testing.assert_allclose(out.numpy(), expected[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights.numpy(), expected[1].numpy(), rtol=1e-4, atol=1e-5)


# -- Transformer layers ------------------------------------------------------------------------------------------

LAYER_CONFIGS = [dict(norm_first=nf, activation=act, batch_first=bf)
                 for nf in (False, True) for act in ("relu", "gelu") for bf in (False, True)]


def _layer_id(config):
    return "-".join(f"{k}={v}" for k, v in config.items())


def _src(batch_first, steps, batch):
    return ember.randn(batch, steps, 8) if batch_first else ember.randn(steps, batch, 8)


def _padding(batch, steps):
    mask = ember.zeros(batch, steps, dtype=ember.bool)
    mask[0, steps - 1:] = True
    return mask


@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=_layer_id)
def test_transformer_encoder_causal_and_padding(config, capfd):
    bf = config["batch_first"]
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, **config), 2,
                                    enable_nested_tensor=False)

    def forward(self, src, padding):
        mask = nn.Transformer.generate_square_subsequent_mask(src.size(1 if bf else 0))
        return self.encoder(src, mask=mask, src_key_padding_mask=padding, is_causal=True)
    axes = {"src": {0: "batch", 1: "T"} if bf else {0: "T", 1: "batch"}, "padding": {0: "batch", 1: "T"}}
    roundtrip(Call(forward, encoder=encoder), [_src(bf, 5, 2), _padding(2, 5)], ["src", "padding"], axes,
              others=[(_src(bf, 7, 3), _padding(3, 7)), (_src(bf, 2, 1), _padding(1, 2))], capfd=capfd)


@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=_layer_id)
def test_transformer_encoder_layer(config):
    bf = config["batch_first"]
    layer = nn.TransformerEncoderLayer(8, 2, 16, **config)
    axes = {"src": {0: "batch", 1: "T"} if bf else {0: "T", 1: "batch"}}
    roundtrip(layer, [_src(bf, 5, 2)], ["src"], axes, others=[(_src(bf, 7, 3),)])


@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=_layer_id)
def test_transformer_decoder_layer(config):
    bf = config["batch_first"]
    layer = nn.TransformerDecoderLayer(8, 2, 16, **config)

    def forward(self, tgt, memory, padding):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(1 if bf else 0))
        return self.layer(tgt, memory, tgt_mask=mask, memory_key_padding_mask=padding, tgt_is_causal=True)

    def axes(name):
        return {0: "batch", 1: name} if bf else {0: name, 1: "batch"}
    roundtrip(Call(forward, layer=layer), [_src(bf, 5, 2), _src(bf, 6, 2), _padding(2, 6)],
              ["tgt", "memory", "padding"], {"tgt": axes("T"), "memory": axes("S"), "padding": {0: "batch", 1: "S"}},
              others=[(_src(bf, 3, 4), _src(bf, 8, 4), _padding(4, 8))])


def test_transformer_encoder_fast_path():
    # eval, batch_first, key padding only: ember (as PyTorch) zeroes the padded positions of the output
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, norm=nn.LayerNorm(8))

    def forward(self, src, padding):
        return self.encoder(src, src_key_padding_mask=padding)

    def inputs(batch, steps):
        padding = ember.zeros(batch, steps, dtype=ember.bool)
        padding[0, steps - 2:] = True
        return ember.randn(batch, steps, 8), padding
    with warnings.catch_warnings(record=True) as caught:        # the left-alignment check is a Python branch
        warnings.simplefilter("always")
        roundtrip(Call(forward, encoder=encoder), inputs(2, 5), ["src", "padding"],
                  {"src": {0: "batch", 1: "T"}, "padding": {0: "batch", 1: "T"}}, others=[inputs(3, 7)])
    assert any(issubclass(w.category, ember.jit.TracerWarning) and "bool()" in str(w.message) for w in caught)
    with ember.no_grad():
        src, padding = inputs(2, 5)
        inside = encoder.eval()(src, src_key_padding_mask=padding)
        with ember.profiler.profile():
            profiled = encoder(src, src_key_padding_mask=padding)
    np.testing.assert_allclose(profiled.numpy(), inside.numpy())    # the profiler's wrappers change nothing


def test_op_stored_on_an_instance_is_traced():
    # a module holding F.gelu as an attribute (made before export swapped the op entry points): its output
    # must be computed in the graph, not frozen as a constant of the traced batch
    class Act(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)
            self.act = F.gelu

        def forward(self, x):
            return self.act(self.linear(x))
    model = Act()
    program = roundtrip(model, [ember.randn(2, 4)], ["x"], {"x": {0: "batch"}}, others=[(ember.randn(5, 4),)])
    assert "Erf" in op_types(program)
    assert model.act is F.gelu


# -- models --------------------------------------------------------------------------------------------------------

class GPTBlock(nn.Module):
    """A GPT-2 style block: causal attention through masked_fill(-inf) of a tril buffer sliced to the length."""

    def __init__(self, n_embd=16, n_head=2, block=32):
        super().__init__()
        self.n_head = n_head
        self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.qkv, self.proj = nn.Linear(n_embd, 3 * n_embd), nn.Linear(n_embd, n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))
        self.register_buffer("bias", ember.tril(ember.ones(block, block)).view(1, 1, block, block))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


def test_gpt_block_round_trip(capfd):
    program = roundtrip(GPTBlock(), [ember.randn(2, 5, 16)], ["x"], {"x": {0: "batch", 1: "T"}},
                        others=[(ember.randn(3, 9, 16),), (ember.randn(1, 32, 16),), (ember.randn(4, 1, 16),)],
                        capfd=capfd)
    assert "Where" in op_types(program) and "Softmax" in op_types(program)


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab=20, embed=8, hidden=12):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=2, batch_first=True, dropout=0.2)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.embed(tokens))
        return self.head(out), h, c


def test_lstm_language_model_round_trip(capfd):
    model = LSTMLanguageModel()
    program = roundtrip(model, [ember.randint(0, 20, (2, 6))], ["tokens"], {"tokens": {0: "batch", 1: "T"}},
                        others=[(ember.randint(0, 20, (3, 11)),), (ember.randint(0, 20, (1, 1)),)], capfd=capfd)
    assert op_types(program).count("LSTM") == 2


def _example(name):
    spec = importlib.util.spec_from_file_location(f"_onnx_example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_char_gpt_example(capfd):
    char_gpt = _example("char_gpt")
    model = char_gpt.GPT(vocab=30, block=16, n_embd=16, n_head=2, n_layer=2)
    optimizer = ember.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(3):                                # a few steps so the weights are not the initial ones
        x = ember.randint(0, 30, (4, 16))
        _, loss = model(x, ember.randint(0, 30, (4, 16)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    program = roundtrip(model, [ember.randint(0, 30, (2, 7))], ["idx"], {"idx": {0: "batch", 1: "T"}},
                        others=[(ember.randint(0, 30, (3, 16)),), (ember.randint(0, 30, (1, 1)),)], capfd=capfd)
    assert program.model_proto.graph.output[0].name == "output"


def test_rnn_sine_example(capfd):
    rnn_sine = _example("rnn_sine")
    model = rnn_sine.Forecaster(hidden=8)
    x, _ = rnn_sine.batch(np.random.default_rng(0), 2, 10)
    roundtrip(model, [x], ["x"], {"x": {0: "batch", 1: "T"}},
              others=[(rnn_sine.batch(np.random.default_rng(1), 5, 3)[0],)], capfd=capfd)
    # continuing from a state: the state is an input too
    out, (h, c) = model(x)
    roundtrip(model, [x[:, -1:], (h.detach(), c.detach())], ["x", "h0", "c0"],
              {"x": {0: "batch", 1: "T"}, "h0": {1: "batch"}, "c0": {1: "batch"}},
              others=[(ember.randn(3, 4, 1), (ember.randn(1, 3, 8), ember.randn(1, 3, 8)))])


@pytest.mark.parametrize("opset", [17, 21])
def test_attention_and_lstm_at_other_opsets(opset):
    # ReduceMax / ReduceMean take their axes as an attribute before opset 18
    attention = nn.MultiheadAttention(8, 2)
    lstm = nn.LSTM(8, 4, num_layers=2, bidirectional=True)

    def forward(self, x, padding):
        y, weights = self.attention(x, x, x, key_padding_mask=padding)
        return self.lstm(y)[0], weights
    model = Call(forward, attention=attention, lstm=lstm).eval()
    padding = _padding(2, 5)
    program = ember.onnx.export(model, (ember.randn(5, 2, 8), padding), input_names=["x", "padding"],
                                dynamic_axes={"x": {0: "T", 1: "batch"}, "padding": {0: "batch", 1: "T"}},
                                opset_version=opset)
    assert program.model_proto.opset_import[0].version == opset
    onnx.checker.check_model(program.model_proto, full_check=True)
    x, padding = ember.randn(7, 3, 8), _padding(3, 7)
    with ember.no_grad():
        expected = model(x, padding)
    for e, o in zip(expected, program(x, padding)):
        np.testing.assert_allclose(o.numpy(), e.numpy(), rtol=1e-4, atol=1e-5)
