"""ember.Size arithmetic, sizes given as lists (factories, views), LSTM states given as lists, the public module
of ember's classes (<class 'ember.Tensor'>), the constants inf/nan/pi/e/newaxis and torch.range: each against
PyTorch, and against ember's own expected values where simple."""
import copy
import io
import pickle
import pydoc
import warnings

import numpy as np
import pytest

import ember


def _outcome(lib, code, env=None):
    """What `code` gives in lib (ember or torch), comparable across both: a type name and value, or the
    exception's type."""
    scope = {"m": lib, "S": lib.Size, "s": lib.Size([2, 3, 4]), "x": lib.arange(6.0).reshape(2, 3), "np": np,
             **(env or {})}
    try:
        value = eval(code, scope)
    except Exception as error:                       # noqa: BLE001 - the outcome under test
        return ("raises", type(error).__name__)
    return _comparable(lib, value)


def _comparable(lib, value):
    if isinstance(value, lib.Tensor):
        return ("Tensor", str(value.dtype).split(".")[1], tuple(value.shape), value.detach().flatten().tolist())
    if isinstance(value, (tuple, list)) and any(isinstance(v, lib.Tensor) for v in value):
        return tuple(_comparable(lib, v) for v in value)
    return (type(value).__name__, value if not isinstance(value, tuple) else tuple(value))


SIZE_CASES = [
    "s + (5,)", "(5,) + s", "s + s", "s + m.Size([1])", "s + []", "[5] + s", "s + [5]", "s + 1", "s - (1,)",
    "s * 2", "2 * s", "s * 0", "s * -1", "s * True", "s * np.int64(2)", "s * 2.0", "s[1:]", "s[::-1]", "s[:0]",
    "s[0]", "s[-1]", "s[5]", "s[m.tensor(1)]", "s.numel()", "S([]).numel()", "S([0, 3]).numel()",
    "s == (2, 3, 4)", "(2, 3, 4) == s", "s == [2, 3, 4]", "s != (2, 3)", "hash(s) == hash((2, 3, 4))",
    "s < (3,)", "s.count(2)", "s.index(3)", "len(s)", "tuple(s)", "list(s)", "isinstance(s, tuple)",
    "S()", "S(())", "S(range(3))", "S(x for x in [1, 2])", "S([2, -1])", "S([True, False])",
    "S([np.int64(3)])", "S([m.tensor(3)])", "S([m.tensor([3])])", "S((2.0,))", "S(['a'])", "S([None])",
    "S([m.tensor(2.0)])", "S(5)", "S([1, 2], [3])", "str(s)", "repr(S([]))", "x.shape + (1,)",
    "x.shape * 2", "x.size()[1:]", "x.shape[:1] + x.shape[1:]", "s + (2.5,)", "(2.5,) + s", "s + (np.int64(1),)",
]


@pytest.mark.parametrize("code", SIZE_CASES)
def test_size_matches_torch(torch, code):
    want = _outcome(torch, code)
    got = _outcome(ember, code)
    if want[0] == "str":
        want = ("str", want[1].replace("torch.", "ember."))
    assert got == want


def test_size_own_values():
    s = ember.Size([2, 3])
    assert type(s + (4,)) is ember.Size and s + (4,) == (2, 3, 4)
    assert type((1,) + s) is ember.Size and type(s * 2) is ember.Size and type(s[1:]) is ember.Size
    assert s * 2 == (2, 3, 2, 3) and s[::-1] == (3, 2) and s.numel() == 6
    assert repr(s) == "ember.Size([2, 3])"
    with pytest.raises(TypeError, match=r"torch.Size\(\) takes an iterable of 'int' \(item 1 is 'float'\)"):
        ember.Size([2, 3.0])
    with pytest.raises(TypeError):
        s + [1]
    assert ember.Size([True, ember.tensor(4)]) == (1, 4) and type(ember.Size([True])[0]) is int


def test_size_pickles_and_copies():
    s = ember.Size([2, 3])
    for clone in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s)):
        assert type(clone) is ember.Size and clone == s


FACTORY_CASES = [
    f"m.{f}({args})" for f in ("zeros", "ones", "empty", "rand", "randn")
    for args in ("[2, 3]", "(2, 3)", "m.Size([2, 3])", "[]", "()", "2, 3", "[2, 3], dtype=m.float64",
                 "size=[2, 3]", "size=(2,)", "[m.tensor(2), 3]", "2, [3]", "2.0", "[2, 3], size=[2]")
] + [
    "m.full([2, 3], 1.5)", "m.full(size=[2, 3], fill_value=1)", "m.randint(5, [2, 3])",
    "m.randint(0, 5, [2, 3])", "m.randint(5, size=[2, 3])", "m.normal(0.0, 1.0, [2, 3])",
    "m.normal(0.0, 1.0, size=[2, 3])", "x.new_zeros([1, 2])", "x.new_ones([3])", "x.new_full([3], 2.0)",
    "m.zeros([2, 3]).new_empty([4]).shape", "m.zeros(size=[2, 3], dtype=m.int64)", "m.ones(2, 3, foo=1)",
]

VIEW_CASES = [
    "x.view([3, 2])", "x.view([-1])", "x.view(m.Size([3, 2]))", "x.view((6,))", "x.view(6, 1)",
    "x.view(m.tensor(6))", "x.view(6, m.tensor(1))", "x.view([m.tensor(6)])", "x.view(size=[6])",
    "x.view(size=(3, -1))", "x.view(dtype=m.int32)", "x.view(m.int32)", "x.view(2.0, 3)", "x.view([6.0])",
    "x.view(6.0)", "x.view(True)", "x.view([True, 6])", "x.view(3, [2])", "x.view(None)", "x.view(6, size=[6])",
    "x.reshape([-1])", "x.reshape([3, 2])", "m.reshape(x, [3, 2])", "m.reshape(x, (6,))", "x.reshape(shape=[6])",
    "x.reshape(m.tensor(6))", "x.reshape(3, [2])", "x.reshape([2.5, 2])",
    "x.permute([1, 0])", "x.permute((1, 0))", "m.permute(x, [1, 0])", "m.permute(x, (1, 0))",
    "x.permute(dims=[1, 0])", "x.permute(1, [0])", "x.permute(1.0, 0)",
    "x.expand([2, 2, 3])", "x.expand(m.Size([2, 2, 3]))", "x.expand((2, 2, 3))", "x.expand(2, -1, 3)",
    "x.expand(size=[2, 3])", "x.expand(m.tensor(2), 2, 3)", "x.expand([2.0, 3])",
    "x.repeat([2, 1])", "x.repeat((2, 1))", "x.repeat(m.Size([2, 1, 1]))", "x.repeat(repeats=[1, 2])",
    "x.repeat(2.0, 1)", "x.tile([2, 1])", "m.tile(x, [2])", "x.flip([0])", "m.flip(x, [0, 1])",
    "x.sum([0, 1])", "x.mean([0])", "x.amax([0, 1])", "x.unflatten(1, [3, 1])", "m.broadcast_to(x, [2, 2, 3])",
    "x.broadcast_to([2, 2, 3])", "m.as_strided(x, [2, 2], [1, 2])", "x.split([1, 2], 1)",
    "x.roll([1], [1])", "m.roll(x, [1, 1], [0, 1])", "x.movedim([0, 1], [1, 0])", "x.sum_to_size([1, 3])",
    "m.zeros_like(x).resize_([6])", "x.view(x.shape)", "x.view(list(x.shape))", "m.ones(x.shape[:1] + (2,))",
    "m.tensor(x.shape)", "m.tensor(m.Size([2, 3]))",
]


@pytest.mark.parametrize("code", FACTORY_CASES + VIEW_CASES)
def test_sizes_as_sequences_match_torch(torch, code):
    outcomes = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        outcome = _outcome(lib, code)
        if outcome[0] == "Tensor" and ("empty" in code or "new_empty" in code):
            outcome = outcome[:3]                       # uninitialised values: compare dtype and shape only
        outcomes.append(outcome)
    assert outcomes[1] == outcomes[0]


def test_sizes_as_sequences_own_values():
    x = ember.arange(6).reshape(2, 3)
    assert x.view([3, 2]).shape == (3, 2) and x.permute([1, 0]).tolist() == [[0, 3], [1, 4], [2, 5]]
    assert x.repeat([1, 2]).tolist() == [[0, 1, 2, 0, 1, 2], [3, 4, 5, 3, 4, 5]]
    assert x.expand([2, 2, 3]).shape == (2, 2, 3) and ember.zeros(size=[4, 1]).shape == (4, 1)
    with pytest.raises(TypeError, match="view"):
        x.view([6.0])
    with pytest.raises(TypeError, match="multiple values"):
        ember.ones([2], size=[2])


# --- LSTM / GRU states as lists -----------------------------------------------------------------------------

RNN_CASES = [
    ("LSTM", dict(), (5, 2, 3), "list", "(1, 2, 4)"),
    ("LSTM", dict(), (5, 2, 3), "tuple", "(1, 2, 4)"),
    ("LSTM", dict(), (5, 3), "list", "(1, 4)"),                       # unbatched
    ("LSTM", dict(batch_first=True, num_layers=2), (2, 5, 3), "list", "(2, 2, 4)"),
    ("LSTM", dict(bidirectional=True), (5, 2, 3), "list", "(2, 2, 4)"),
    ("LSTM", dict(proj_size=2), (5, 2, 3), "list_proj", "(1, 2, 4)"),
    ("LSTM", dict(), (5, 2, 3), "list1", "(1, 2, 4)"),
    ("LSTM", dict(), (5, 2, 3), "list3", "(1, 2, 4)"),
    ("LSTM", dict(), (5, 2, 3), "packed_list", "(1, 2, 4)"),
    ("GRU", dict(), (5, 2, 3), "tensor", "(1, 2, 4)"),
    ("GRU", dict(), (5, 2, 3), "list1", "(1, 2, 4)"),
    ("LSTMCell", dict(), (2, 3), "list", "(2, 4)"),
    ("LSTMCell", dict(), (3,), "list", "(4,)"),                        # unbatched
    ("LSTMCell", dict(), (2, 3), "list3", "(2, 4)"),
    ("LSTMCell", dict(), (2, 3), "tensor", "(2, 4)"),
    ("GRUCell", dict(), (2, 3), "tensor", "(2, 4)"),
]


def _run_rnn(lib, kind, kwargs, shape, state_kind, state_shape, weights_from=None):
    lib.manual_seed(0)
    module = getattr(lib.nn, kind)(3, 4, **kwargs)
    if weights_from is not None:
        for name, value in weights_from.state_dict().items():
            module.state_dict()[name].copy_(lib.tensor(value.detach().numpy()))
    x = lib.tensor(np.random.default_rng(0).standard_normal(shape).astype("float32"))
    h = lib.full(eval(state_shape), 0.5)
    h_proj = lib.full(eval(state_shape)[:-1] + (2,), 0.25)
    state = {"list": [h, h * 2], "tuple": (h, h * 2), "list_proj": [h_proj, h], "list1": [h],
             "list3": [h, h, h], "tensor": h, "packed_list": [h, h * 2]}[state_kind]
    if state_kind == "packed_list":
        x = lib.nn.utils.rnn.pack_padded_sequence(x, [3, 5], enforce_sorted=False)
    try:
        out = module(x, state)
    except Exception as error:                       # noqa: BLE001 - the outcome under test
        return module, ("raises", type(error).__name__)
    leaves = []

    def flatten(value):
        if isinstance(value, (tuple, list)) and not hasattr(value, "batch_sizes"):
            for v in value:
                flatten(v)
        else:
            leaves.append((value.data if hasattr(value, "batch_sizes") else value).detach().numpy())
    flatten(out)
    return module, leaves


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("kind, kwargs, shape, state_kind, state_shape", RNN_CASES,
                         ids=[f"{c[0]}-{c[3]}-{len(c[2])}d-{i}" for i, c in enumerate(RNN_CASES)])
def test_rnn_states_as_sequences_match_torch(torch, kind, kwargs, shape, state_kind, state_shape):
    theirs, want = _run_rnn(torch, kind, kwargs, shape, state_kind, state_shape)
    _, got = _run_rnn(ember, kind, kwargs, shape, state_kind, state_shape, weights_from=theirs)
    if isinstance(want, tuple):
        assert got == want
        return
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_lstm_list_state_equals_tuple_state():
    lstm = ember.nn.LSTM(3, 4)
    x, h, c = ember.randn(5, 2, 3), ember.randn(1, 2, 4), ember.randn(1, 2, 4)
    out_list, (h_list, c_list) = lstm(x, [h, c])
    out_tuple, (h_tuple, c_tuple) = lstm(x, (h, c))
    assert ember.equal(out_list, out_tuple) and ember.equal(h_list, h_tuple) and ember.equal(c_list, c_tuple)
    cell = ember.nn.LSTMCell(3, 4)
    assert all(ember.equal(a, b) for a, b in zip(cell(x[0], [h[0], c[0]]), cell(x[0], (h[0], c[0]))))


# --- public module of the classes ---------------------------------------------------------------------------

CLASSES = ["Tensor", "Size", "dtype", "device", "finfo", "iinfo", "memory_format"]


@pytest.mark.parametrize("name", CLASSES)
def test_classes_print_with_the_public_module(torch, name):
    ours, theirs = getattr(ember, name), getattr(torch, name)
    assert repr(ours) == repr(theirs).replace("torch", "ember") == f"<class 'ember.{name}'>"
    assert ours.__module__ == "ember" and getattr(ember, ours.__qualname__) is ours


def test_type_of_values_prints_public_names():
    assert str(type(ember.zeros(2))) == "<class 'ember.Tensor'>"
    assert str(type(ember.zeros(2).shape)) == "<class 'ember.Size'>"
    assert str(type(ember.float32)) == "<class 'ember.dtype'>"
    assert str(type(ember.device("cpu"))) == "<class 'ember.device'>"
    assert str(type(ember.channels_last)) == "<class 'ember.memory_format'>"


def test_public_module_keeps_pickling_help_and_checkpoints():
    t = ember.arange(6.0).reshape(2, 3)
    for obj in (t, t.shape, ember.float64, ember.device("cpu"), ember.finfo(ember.float32)):
        clone = pickle.loads(pickle.dumps(obj))
        assert type(clone) is type(obj)
    assert ember.equal(pickle.loads(pickle.dumps(t)), t)
    assert "class Tensor" in pydoc.render_doc(ember.Tensor) and "class Size" in pydoc.render_doc(ember.Size)
    buffer = io.BytesIO()
    ember.save({"t": t, "shape": t.shape, "dtype": ember.float64}, buffer)
    buffer.seek(0)
    loaded = ember.load(buffer)
    assert ember.equal(loaded["t"], t) and loaded["shape"] == (2, 3) and type(loaded["shape"]) is ember.Size
    assert loaded["dtype"] is ember.float64


def test_checkpoint_with_size_round_trips_with_torch(torch, tmp_path):
    path = tmp_path / "sizes.pt"
    ember.save({"shape": ember.Size([2, 3]), "t": ember.ones(2)}, path)
    theirs = torch.load(path)
    assert type(theirs["shape"]) is torch.Size and theirs["shape"] == (2, 3)
    torch.save({"shape": torch.Size([4]), "dtype": torch.int64}, path)
    ours = ember.load(path)
    assert type(ours["shape"]) is ember.Size and ours["shape"] == (4,) and ours["dtype"] is ember.int64


# --- constants and torch.range ------------------------------------------------------------------------------

def test_constants_match_torch(torch):
    for name in ("inf", "pi", "e"):
        assert getattr(ember, name) == getattr(torch, name) and type(getattr(ember, name)) is float
    assert ember.nan != ember.nan and type(ember.nan) is float
    assert ember.newaxis is None is torch.newaxis
    assert ember.zeros(2, 3)[:, ember.newaxis].shape == (2, 1, 3)
    assert ember.full((2,), ember.inf).isinf().all() and ember.tensor(ember.pi).item() == pytest.approx(3.14159265)


RANGE_CASES = ["0, 3", "0, 2, 0.5", "3, 0, -1", "0, 1, 0.3", "0, 1, 0.1", "1, 4, dtype=m.int64", "0, 0", "0, -1",
               "0, 3, 0", "3, 0", "0.5, 2.5", "0, 10, 3", "m.tensor(1), 3", "0, 5, requires_grad=True",
               "0, 3, dtype=m.int32", "0, 2.5, dtype=m.int64", "-2.5, 3, 1.2, dtype=m.int64", "0, float('inf')",
               "0.1, 2.3, 0.7, dtype=m.float64", "0, 3, dtype=m.bfloat16", "0, 3, out=m.empty(2)"]


@pytest.mark.parametrize("args", RANGE_CASES)
def test_range_matches_torch(torch, args):
    outcomes = []
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = _outcome(lib, f"m.range({args})")
        if outcome[0] != "raises":
            assert [w.category for w in caught] == [UserWarning] and "deprecated" in str(caught[0].message)
        outcomes.append(outcome)
    assert outcomes[1] == outcomes[0]


def test_range_includes_the_end_and_warns():
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        r = ember.range(1, 4)
    assert r.tolist() == [1.0, 2.0, 3.0, 4.0] and r.dtype is ember.float32
    assert ember.range.__name__ == "range" and not hasattr(ember, "range_")
