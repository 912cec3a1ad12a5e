"""nn.LSTM's, nn.GRU's and nn.RNN's fused sequence nodes (Note [fused LSTM layer] in ember/ops/recurrent.py): values and
every gradient against PyTorch in several configurations, against a NumPy reference without PyTorch, gradcheck
and double backward in float64, and the cases that keep the per-step path (packed input, projections, forward
AD, states of another dtype)."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import rnn as rnn_utils

FUSED, STEP = "MkldnnRnnLayerBackward0", "LstmCellBackward0"
RNN_FUSED = {"RNN": "RNNLayerBackward0", "GRU": "GRULayerBackward0"}
KINDS = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"})]
KIND_IDS = ["LSTM", "GRU", "RNN-tanh", "RNN-relu"]


def _node_names(*tensors):
    """The class names of every node in the graphs behind `tensors`."""
    seen, names, todo = set(), set(), [t.grad_fn for t in tensors if t.grad_fn is not None]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(type(node).__name__)
        todo.extend(fn for fn, _ in node.next_functions)
    return names


def _flatten(value):
    if isinstance(value, (tuple, list)):
        return [v for item in value for v in _flatten(item)]
    return [value]


CONFIGS = [  # (name, LSTM args, kwargs, input shape, pass (h0, c0))
    ("plain", (5, 7), {}, (6, 3, 5), False),
    ("hidden-states", (5, 7), {}, (6, 3, 5), True),
    ("batch_first", (4, 6), dict(batch_first=True), (3, 5, 4), True),
    ("bidirectional-2-layers", (4, 6), dict(num_layers=2, bidirectional=True), (5, 2, 4), True),
    ("no-bias-reverse", (3, 5), dict(bias=False, bidirectional=True), (4, 2, 3), True),
    ("unbatched", (3, 4), dict(num_layers=2), (5, 3), True),
    ("one-step-one-row", (3, 4), {}, (1, 1, 3), True),
    ("3-layers-eval-dropout", (3, 4), dict(num_layers=3, dropout=0.5), (4, 2, 3), False),
]


@pytest.mark.parametrize("kind,extra", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,args,kwargs,shape,with_hidden", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_fused_layers_match_torch(torch, kind, extra, dtype, name, args, kwargs, shape, with_hidden):
    kwargs = dict(kwargs, **extra)
    theirs = getattr(torch.nn, kind)(*args, **kwargs).to(getattr(torch, dtype)).eval()
    ours = getattr(nn, kind)(*args, **kwargs).to(getattr(ember, dtype)).eval()
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    leaves = [(torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True))]
    if with_hidden:
        directions = 2 if kwargs.get("bidirectional") else 1
        batch = () if len(shape) == 2 else (shape[0] if kwargs.get("batch_first") else shape[1],)
        state_shape = (directions * kwargs.get("num_layers", 1),) + batch + (args[1],)
        for _ in range(2 if kind == "LSTM" else 1):
            s = rng.standard_normal(state_shape).astype(dtype)
            leaves.append((torch.tensor(s, requires_grad=True), ember.tensor(s, requires_grad=True)))
    t_args, e_args = [leaves[0][0]], [leaves[0][1]]
    if with_hidden:
        t_args.append(tuple(t for t, _ in leaves[1:]) if kind == "LSTM" else leaves[1][0])
        e_args.append(tuple(e for _, e in leaves[1:]) if kind == "LSTM" else leaves[1][1])
    t_all, e_all = _flatten(theirs(*t_args)), _flatten(ours(*e_args))
    names = _node_names(*e_all)
    assert (FUSED in names and STEP not in names) if kind == "LSTM" else RNN_FUSED[kind] in names
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    t_loss = e_loss = 0
    for a, b in zip(t_all, e_all):
        assert tuple(a.shape) == tuple(b.shape) and b.dtype is getattr(ember, dtype)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=rtol, atol=atol)
        w = np.cos(np.arange(a.numel())).reshape(tuple(a.shape)).astype(dtype)
        t_loss = t_loss + (a * torch.tensor(w)).sum()
        e_loss = e_loss + (b * ember.tensor(w)).sum()
    t_loss.backward()
    e_loss.backward()
    for a, b in leaves:
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=rtol, atol=atol)
    reference = dict(theirs.named_parameters())
    for param_name, p in ours.named_parameters():
        assert p.grad.dtype is p.dtype
        np.testing.assert_allclose(p.grad.numpy(), reference[param_name].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=param_name)


def _numpy_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """A direct NumPy LSTM (gates i, f, g, o) over time-major x: (outputs, h_n, c_n)."""
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))
    outputs = []
    hidden = h.shape[-1]
    for x_t in x:
        z = x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f = sigmoid(z[:, :hidden]), sigmoid(z[:, hidden:2 * hidden])
        g, o = np.tanh(z[:, 2 * hidden:3 * hidden]), sigmoid(z[:, 3 * hidden:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs), h, c


@pytest.mark.parametrize("reverse", [False, True])
def test_fused_lstm_matches_numpy_reference(reverse):
    lstm = nn.LSTM(3, 4, bidirectional=reverse).double()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 2, 3))
    h0, c0 = rng.standard_normal((2, 1 + reverse, 2, 4))
    out, (h_n, c_n) = lstm(ember.tensor(x, requires_grad=True), (ember.tensor(h0), ember.tensor(c0)))
    params = [p.detach().numpy() for p in lstm.parameters()]
    expected, h_want, c_want = _numpy_lstm(x, h0[0], c0[0], *params[:4])
    np.testing.assert_allclose(out.detach().numpy()[..., :4], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n.detach().numpy()[0], h_want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_n.detach().numpy()[0], c_want, rtol=1e-12, atol=1e-14)
    if reverse:                                  # the reverse direction reads the sequence backwards
        back, h_back, c_back = _numpy_lstm(x[::-1], h0[1], c0[1], *params[4:])
        np.testing.assert_allclose(out.detach().numpy()[..., 4:], back[::-1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h_n.detach().numpy()[1], h_back, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c_n.detach().numpy()[1], c_back, rtol=1e-12, atol=1e-14)


def test_fused_lstm_gradcheck_float64():
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True).double()
    x = ember.randn(4, 2, 2, dtype=ember.float64, requires_grad=True)
    h0 = ember.randn(4, 2, 3, dtype=ember.float64, requires_grad=True)
    c0 = ember.randn(4, 2, 3, dtype=ember.float64, requires_grad=True)
    weights = list(lstm.parameters())

    def program(inp, h, c, *params):
        out, (h_n, c_n) = ember.func.functional_call(lstm, dict(zip(dict(lstm.named_parameters()), params)),
                                                      (inp, (h, c)))
        return out, h_n, c_n
    assert FUSED in _node_names(*program(x, h0, c0, *weights))
    assert ember.autograd.gradcheck(program, [x, h0, c0, *weights])
    no_bias = nn.LSTM(2, 3, bias=False).double()
    assert ember.autograd.gradcheck(lambda inp: no_bias(inp)[1][1], [x])


def test_fused_lstm_double_backward():
    # create_graph: the fused node recomputes the layer with per-step ops (differentiable), so a gradient
    # penalty works; its gradients equal the plain (array) backward's
    lstm = nn.LSTM(2, 3, bidirectional=True).double()
    x = ember.randn(4, 2, 2, dtype=ember.float64, requires_grad=True)
    h0 = ember.randn(2, 2, 3, dtype=ember.float64, requires_grad=True)
    c0 = ember.randn(2, 2, 3, dtype=ember.float64, requires_grad=True)

    def program(inp, h, c):
        out, (h_n, c_n) = lstm(inp, (h, c))
        return out.tanh().sum() + h_n.pow(2).sum() + c_n.sin().sum()
    assert ember.autograd.gradgradcheck(program, [x, h0, c0])
    plain = ember.autograd.grad(program(x, h0, c0), [x, h0, c0])
    recorded = ember.autograd.grad(program(x, h0, c0), [x, h0, c0], create_graph=True)
    assert all(r.grad_fn is not None for r in recorded)
    for a, b in zip(plain, recorded):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_fused_lstm_double_backward_matches_torch(torch):
    theirs = torch.nn.LSTM(3, 4, batch_first=True).double()
    ours = nn.LSTM(3, 4, batch_first=True).double()
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x_np = np.random.default_rng(0).standard_normal((2, 5, 3))
    grads = []
    for m, module in ((ember, ours), (torch, theirs)):
        x = m.tensor(x_np, requires_grad=True)
        out, (h_n, _) = module(x)
        (g,) = m.autograd.grad(out.pow(2).sum() + h_n.sum(), (x,), create_graph=True)
        g.pow(2).sum().backward()
        grads.append([x.grad.numpy()] + [p.grad.numpy() for p in module.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_per_step_path_kept_for_packed_projection_and_forward_ad():
    x = ember.randn(4, 3, 2, dtype=ember.float64, requires_grad=True)
    lstm = nn.LSTM(2, 3).double()
    packed = rnn_utils.pack_padded_sequence(x, [4, 3, 1])
    names = _node_names(lstm(packed)[0].data)
    assert STEP in names and FUSED not in names
    names = _node_names(nn.LSTM(2, 3, proj_size=2).double()(x)[0])
    assert STEP in names and FUSED not in names
    # forward AD: the tangent of the output through the per-step ops, against central differences
    tangent = ember.randn(4, 3, 2, dtype=ember.float64)
    _, jvp = ember.func.jvp(lambda inp: lstm(inp)[0], (x.detach(),), (tangent,))
    with ember.no_grad():
        eps = 1e-6
        fd = (lstm(x + eps * tangent)[0] - lstm(x - eps * tangent)[0]) / (2 * eps)
    np.testing.assert_allclose(jvp.numpy(), fd.numpy(), rtol=1e-6, atol=1e-8)


def test_fused_lstm_no_grad_and_saved_weight_version():
    lstm = nn.LSTM(3, 4)
    x = ember.randn(5, 2, 3)
    out, _ = lstm(x)
    with ember.no_grad():
        quiet, (h_n, c_n) = lstm(x)
    assert quiet.grad_fn is None and h_n.grad_fn is None
    np.testing.assert_array_equal(quiet.numpy(), out.detach().numpy())
    np.testing.assert_array_equal(h_n.numpy()[0], out.detach().numpy()[-1])
    # a weight changed in place after the forward: backward refuses, as PyTorch's saved-tensor check does
    x.requires_grad_()
    out, _ = lstm(x)
    with ember.no_grad():
        lstm.weight_hh_l0.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_fused_lstm_outputs_do_not_share_memory():
    out, (h_n, c_n) = nn.LSTM(3, 4)(ember.randn(5, 2, 3))
    before = out.detach().numpy().copy()
    with ember.no_grad():
        h_n.add_(1)
        c_n.add_(1)
    np.testing.assert_array_equal(out.detach().numpy(), before)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_fused_rnn_numpy_reference_gradcheck_and_double_backward(nonlinearity):
    def act(z):
        return np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0)
    _check_against_reference(nn.RNN(3, 4, bidirectional=True, nonlinearity=nonlinearity).double(), 3, False,
                             lambda x_t, h, w_ih, w_hh, b_ih, b_hh: act(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh))


def _check_against_reference(module, seed, batch_first, step):
    """A one-layer bidirectional float64 module (hidden size 4, on a (5, 2, 3) sequence): its fused node's
    output and h_n against `step(x_t, h, w_ih, w_hh, b_ih, b_hh) -> h` run in NumPy for each direction; then
    gradcheck and gradgradcheck through it."""
    rng = np.random.default_rng(seed)
    x = ember.tensor(rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3)), requires_grad=True)
    h0 = ember.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    out, h_n = module(x, h0)
    assert RNN_FUSED[type(module).__name__] in _node_names(out, h_n)
    steps = x.detach().numpy().transpose(1, 0, 2) if batch_first else x.detach().numpy()
    for direction, suffix in enumerate(("", "_reverse")):
        weights = [getattr(module, f"{k}_l0{suffix}").detach().numpy()
                   for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h, expected = h0.detach().numpy()[direction], []
        for x_t in steps[::-1 if direction else 1]:
            h = step(x_t, h, *weights)
            expected.append(h)
        expected = np.stack(expected[::-1] if direction else expected, 1 if batch_first else 0)
        np.testing.assert_allclose(out.detach().numpy()[..., 4 * direction:4 * direction + 4], expected,
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h_n.detach().numpy()[direction], h, rtol=1e-12, atol=1e-14)
    assert ember.autograd.gradcheck(lambda inp, h: module(inp, h), [x, h0])

    def program(inp, h):
        out, h_n = module(inp, h)
        return out.tanh().sum() + h_n.pow(2).sum()
    assert ember.autograd.gradgradcheck(program, [x, h0])


def test_states_of_another_dtype_keep_the_per_step_error():
    lstm = nn.LSTM(3, 4)
    x = ember.randn(5, 2, 3)
    with pytest.raises(RuntimeError):
        lstm(x, (ember.zeros(1, 2, 4, dtype=ember.float64), ember.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError):
        nn.RNN(3, 4)(x, ember.zeros(1, 2, 4, dtype=ember.float64))


@pytest.mark.parametrize("kind,extra", KINDS, ids=KIND_IDS)
def test_no_grad_batch_of_one_keeps_every_layers_state(torch, kind, extra):
    # the fused nodes reuse their big buffers (Note [LSTM scratch]): with one row, a transposed slice is
    # contiguous, so a state handed out as a view of a buffer would be overwritten by the next layer's run
    theirs = getattr(torch.nn, kind)(3, 5, num_layers=3, bidirectional=True, **extra)
    ours = getattr(nn, kind)(3, 5, num_layers=3, bidirectional=True, **extra)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((1, 1, 3)).astype("float32")
    with ember.no_grad():
        got = _flatten(ours(ember.tensor(x)))
    with torch.no_grad():
        want = _flatten(theirs(torch.tensor(x)))
    for a, b in zip(want, got):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
    layers = got[1].numpy()
    assert not np.allclose(layers[0], layers[-1])


def test_fused_gru_numpy_reference_gradcheck_and_double_backward():
    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    def step(x_t, h, w_ih, w_hh, b_ih, b_hh):
        gi, gh = x_t @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        r, z = sigmoid(gi[:, :4] + gh[:, :4]), sigmoid(gi[:, 4:8] + gh[:, 4:8])
        n = np.tanh(gi[:, 8:] + r * gh[:, 8:])
        return (1 - z) * n + z * h
    _check_against_reference(nn.GRU(3, 4, bidirectional=True, batch_first=True).double(), 5, True, step)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_retained_graph_survives_other_runs(kind):
    # what a fused node keeps for backward is its own until the graph goes (Note [LSTM scratch]), so runs of
    # the same shapes in between leave a retained graph's second backward intact
    module = getattr(nn, kind)(3, 4, num_layers=2).double()
    x = ember.randn(5, 2, 3, dtype=ember.float64, requires_grad=True)
    out = module(x)[0]
    (first,) = ember.autograd.grad(out.sum(), [x], retain_graph=True)
    for _ in range(3):
        other = ember.randn(5, 2, 3, dtype=ember.float64, requires_grad=True)
        module(other)[0].sum().backward()
        with ember.no_grad():
            module(other)
    (second,) = ember.autograd.grad(out.sum(), [x])
    np.testing.assert_array_equal(second.numpy(), first.numpy())


@pytest.mark.parametrize("kind, extra", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("batch_first", [False, True], ids=["time-major", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
def test_dropout_between_fused_layers_draws_as_torch(torch, kind, extra, batch_first, bidirectional):
    """Dropout between layers draws its mask over PyTorch's time-major layer output, whatever batch_first
    says (found by tests/differential: a batch-major middle layer gave another mask)."""
    outs = []
    for m in (torch, ember):
        m.manual_seed(0)
        net = getattr(m.nn, kind)(3, 4, num_layers=3, batch_first=batch_first, dropout=0.5,
                                  bidirectional=bidirectional, **extra)
        out = net(m.randn((5, 2, 3)))
        outs.append([t.detach().numpy() for t in _flatten(out)])
    for mine, theirs in zip(outs[1], outs[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
