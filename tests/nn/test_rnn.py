"""RNN / LSTM / GRU, their cells and nn.utils.rnn against PyTorch: state_dict keys and shapes, outputs,
final states and every gradient (batch_first, bidirectional, stacked, projections, packed input)."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import rnn as rnn_utils


def _load_from_torch(module, torch_module):
    state = torch_module.state_dict()
    assert list(module.state_dict()) == list(state)
    module.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in state.items()})


def _flatten(value):
    if isinstance(value, (tuple, list)):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _run(torch, kind, args, kwargs, x_shape, with_hidden=False, lengths=None, dtype="float64", atol=1e-10):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(*args, **kwargs).to(getattr(torch, dtype))
    ours = getattr(nn, kind)(*args, **kwargs).to(getattr(ember, dtype))
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(dtype)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    t_args, e_args = [tx], [ex]
    batch_first = kwargs.get("batch_first", False)
    if lengths is not None:
        t_args = [torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first,
                                                          enforce_sorted=False)]
        e_args = [rnn_utils.pack_padded_sequence(ex, lengths, batch_first=batch_first, enforce_sorted=False)]
    leaves = []
    if with_hidden:
        directions = 2 if kwargs.get("bidirectional") else 1
        layers = kwargs.get("num_layers", 1)
        size = kwargs.get("proj_size") or args[1]
        batch = () if len(x_shape) == 2 else (x_shape[0] if batch_first else x_shape[1],)
        states = [rng.standard_normal((directions * layers,) + batch + (size,)).astype(dtype)]
        if kind == "LSTM":
            states.append(rng.standard_normal((directions * layers,) + batch + (args[1],)).astype(dtype))
        t_states = [torch.tensor(s, requires_grad=True) for s in states]
        e_states = [ember.tensor(s, requires_grad=True) for s in states]
        leaves = list(zip(t_states, e_states))
        t_args.append(tuple(t_states) if kind == "LSTM" else t_states[0])
        e_args.append(tuple(e_states) if kind == "LSTM" else e_states[0])
    t_out, t_hidden = theirs(*t_args)
    e_out, e_hidden = ours(*e_args)
    if lengths is not None:
        assert isinstance(e_out, rnn_utils.PackedSequence)
        t_out = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=batch_first)[0]
        e_out = rnn_utils.pad_packed_sequence(e_out, batch_first=batch_first)[0]
    t_all, e_all = _flatten((t_out, t_hidden)), _flatten((e_out, e_hidden))
    t_loss = e_loss = 0
    for a, b in zip(t_all, e_all):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=atol, rtol=1e-6)
        w = np.cos(np.arange(a.numel())).reshape(tuple(a.shape)).astype(dtype)
        t_loss = t_loss + (a * torch.tensor(w)).sum()
        e_loss = e_loss + (b * ember.tensor(w)).sum()
    t_loss.backward()
    e_loss.backward()
    for a, b in [(tx, ex)] + leaves:
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=atol, rtol=1e-6)
    reference = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), reference[name].grad.numpy(), atol=atol, rtol=1e-6,
                                   err_msg=name)
    return ours


CONFIGS = [
    ("plain", (3, 4), {}, (5, 2, 3), False, None),
    ("stacked-bidirectional-batch_first-hidden", (3, 4), dict(num_layers=2, bidirectional=True, batch_first=True),
     (2, 5, 3), True, None),
    ("unbatched-hidden", (3, 4), dict(num_layers=2), (5, 3), True, None),
    ("no-bias", (3, 4), dict(bias=False), (5, 2, 3), False, None),
    ("packed-bidirectional", (3, 4), dict(num_layers=2, bidirectional=True), (5, 3, 3), True, [3, 5, 2]),
    ("packed-batch_first", (3, 4), dict(batch_first=True), (3, 5, 3), False, [3, 5, 2]),
]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("name,args,kwargs,shape,hidden,lengths", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_recurrent_matches_torch(torch, kind, name, args, kwargs, shape, hidden, lengths):
    _run(torch, kind, args, kwargs, shape, hidden, lengths)


def test_rnn_relu_and_lstm_projection(torch):
    _run(torch, "RNN", (3, 4), dict(nonlinearity="relu", num_layers=2), (5, 2, 3))
    _run(torch, "RNN", (3, 4, 2, "relu"), {}, (5, 2, 3))
    _run(torch, "LSTM", (3, 5), dict(proj_size=2, num_layers=2, bidirectional=True), (5, 2, 3), True)
    _run(torch, "LSTM", (3, 5), dict(proj_size=2, num_layers=2, bidirectional=True), (5, 3, 3), True, [3, 5, 2])


def test_float32_lstm(torch):
    ours = _run(torch, "LSTM", (8, 16), dict(num_layers=2, batch_first=True), (4, 7, 8), dtype="float32",
                atol=2e-5)
    assert ours.weight_ih_l0.dtype is ember.float32


def test_dropout_between_layers_only_in_training():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = ember.randn(5, 2, 3)
    lstm.eval()
    first, _ = lstm(x)
    second, _ = lstm(x)
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())
    lstm.train()
    outs = {tuple(lstm(x)[0].detach().numpy().ravel().round(6)) for _ in range(3)}
    assert len(outs) > 1


@pytest.mark.parametrize("kind,chunks", [("RNNCell", 1), ("LSTMCell", 4), ("GRUCell", 3)])
def test_cells_match_torch(torch, kind, chunks):
    torch.manual_seed(0)
    for bias in (True, False):
        theirs = getattr(torch.nn, kind)(3, 4, bias=bias).double()
        ours = getattr(nn, kind)(3, 4, bias=bias).double()
        _load_from_torch(ours, theirs)
        assert tuple(ours.weight_ih.shape) == (chunks * 4, 3)
        rng = np.random.default_rng(0)
        for batch in ((2,), ()):
            x = rng.standard_normal(batch + (3,))
            h = rng.standard_normal(batch + (4,))
            hx_t = (torch.tensor(h), torch.tensor(h * 0.5)) if kind == "LSTMCell" else torch.tensor(h)
            hx_e = (ember.tensor(h), ember.tensor(h * 0.5)) if kind == "LSTMCell" else ember.tensor(h)
            for t_hx, e_hx in ((None, None), (hx_t, hx_e)):
                tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
                t_out = _flatten(theirs(tx, t_hx))
                e_out = _flatten(ours(ex, e_hx))
                for a, b in zip(t_out, e_out):
                    np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=1e-12)
                sum(o.sum() for o in t_out).backward()
                sum(o.sum() for o in e_out).backward()
                np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("build", [
    lambda nn: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, dropout=0.5),
    lambda nn: nn.LSTM(3, 5, proj_size=2),
    lambda nn: nn.RNN(3, 4, 2, "relu"),
    lambda nn: nn.GRU(3, 4, bias=False),
    lambda nn: nn.GRUCell(3, 4, bias=False),
    lambda nn: nn.RNNCell(3, 4, nonlinearity="relu"),
    lambda nn: nn.LSTMCell(3, 4),
])
def test_repr_and_state_dict_layout_match_torch(torch, build):
    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_default_init_is_uniform_in_one_over_sqrt_hidden():
    lstm = nn.LSTM(10, 25, num_layers=2)
    bound = 1 / math.sqrt(25)
    values = np.concatenate([p.detach().numpy().ravel() for p in lstm.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert len(lstm.all_weights) == 2 and len(lstm.all_weights[0]) == 4


def test_recurrent_errors():
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 4"):
        nn.LSTM(3, 4)(ember.ones(5, 2, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        nn.GRU(3, 4)(ember.ones(5, 2, 3), ember.zeros(1, 3, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 2, 5\]"):
        nn.LSTM(3, 4)(ember.ones(5, 2, 3), (ember.zeros(1, 2, 4), ember.zeros(1, 2, 5)))
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
        nn.RNN(3, 4)(ember.ones(3))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


def test_pack_pad_round_trip_matches_torch(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 2))
    lengths = [2, 5, 3]
    for batch_first in (False, True):
        data = x.transpose(1, 0, 2).copy() if batch_first else x
        ex, tx = ember.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        ours = rnn_utils.pack_padded_sequence(ex, lengths, batch_first=batch_first, enforce_sorted=False)
        theirs = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first, enforce_sorted=False)
        np.testing.assert_array_equal(ours.data.detach().numpy(), theirs.data.detach().numpy())
        np.testing.assert_array_equal(ours.batch_sizes.numpy(), theirs.batch_sizes.numpy())
        np.testing.assert_array_equal(ours.sorted_indices.numpy(), theirs.sorted_indices.numpy())
        np.testing.assert_array_equal(ours.unsorted_indices.numpy(), theirs.unsorted_indices.numpy())
        padded, out_lengths = rnn_utils.pad_packed_sequence(ours, batch_first=batch_first, padding_value=-1.0,
                                                            total_length=6)
        t_padded, t_lengths = torch.nn.utils.rnn.pad_packed_sequence(theirs, batch_first=batch_first,
                                                                     padding_value=-1.0, total_length=6)
        np.testing.assert_array_equal(padded.detach().numpy(), t_padded.detach().numpy())
        np.testing.assert_array_equal(out_lengths.numpy(), t_lengths.numpy())
        padded.sum().backward()
        t_padded.sum().backward()
        np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())


def test_pad_sequence_and_pack_sequence(torch):
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)) for n in (4, 2, 3)]
    for kwargs in ({}, {"batch_first": True, "padding_value": 9.0}, {"padding_side": "left"}):
        ours = rnn_utils.pad_sequence([ember.tensor(s) for s in seqs], **kwargs)
        theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], **kwargs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    packed = rnn_utils.pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False)
    t_packed = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), t_packed.data.numpy())
    for a, b in zip(rnn_utils.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.numpy(), b)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn_utils.pack_sequence([ember.tensor(s) for s in seqs])


def test_lstm_gradcheck_float64():
    ember.manual_seed(0)
    lstm = nn.LSTM(2, 3, bidirectional=True).double()
    x = ember.randn(3, 2, 2, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda inp: lstm(inp)[0], [x])
    gru = nn.GRU(2, 3).double()
    assert ember.autograd.gradcheck(lambda inp: gru(inp)[1], [x])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_double_backward_gradgradcheck_float64(kind):
    # The fused gate cells recompute their gates on tensors under create_graph (ops/recurrent.py).
    ember.manual_seed(0)
    module = getattr(nn, kind)(2, 3).double()
    x = ember.randn(3, 2, 2, dtype=ember.float64, requires_grad=True)
    h0 = ember.randn(1, 2, 3, dtype=ember.float64, requires_grad=True)
    hidden = (h0, ember.randn(1, 2, 3, dtype=ember.float64, requires_grad=True)) if kind == "LSTM" else h0
    inputs = [x, *_flatten(hidden)]

    def program(inp, *state):
        out, final = module(inp, (state[0], state[1]) if kind == "LSTM" else state[0])
        return out.tanh().sum() + sum(s.pow(2).sum() for s in _flatten(final))
    assert ember.autograd.gradgradcheck(program, inputs)
    plain = ember.autograd.grad(program(*inputs), inputs)                       # array formulas
    recorded = ember.autograd.grad(program(*inputs), inputs, create_graph=True)  # tensor formulas
    for a, b in zip(plain, recorded):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_double_backward_matches_torch(torch, kind):
    theirs = getattr(torch.nn, kind)(3, 4).double()
    ours = getattr(nn, kind)(3, 4).double()
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((5, 2, 3))
    grads = []
    for m, module in ((ember, ours), (torch, theirs)):
        x = m.tensor(x_np, requires_grad=True)
        out, _ = module(x)
        (g,) = m.autograd.grad(out.pow(2).sum(), (x,), create_graph=True)
        penalty = g.pow(2).sum()                   # a gradient penalty: needs the second derivative
        penalty.backward()
        grads.append([x.grad.numpy()] + [p.grad.numpy() for p in module.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
