"""Checkpoints a user trusts (weights_only=False) and the allow-list around weights-only loading.

Whole modules pickled by PyTorch load as ember's modules and back; add_safe_globals / safe_globals /
get_safe_globals / clear_safe_globals / get_unsafe_globals_in_checkpoint and the refusal texts follow
torch.serialization; pickle_module, mmap, pickle_load_args and the TORCH_FORCE_* variables as torch.load.
"""
import argparse
import collections
import copy
import io
import os
import pickle
import warnings

import numpy as np
import pytest

import ember
from ember import serialization
from ember._torch_globals import NN_CLASS_PATHS, OPTIM_CLASS_PATHS, ember_object, torch_name
from ember.serialization import CheckpointError

# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def save_bytes(save, obj, **kwargs):
    buffer = io.BytesIO()
    save(obj, buffer, **kwargs)
    return buffer.getvalue()


def values(t):
    return np.asarray(t.detach().cpu().numpy() if hasattr(t, "cpu") and not isinstance(t, ember.Tensor)
                      else t.detach().numpy())


def models(nn):
    """Several module types, in one ModuleDict (nn is torch.nn or ember.nn)."""
    cnn = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), nn.BatchNorm2d(3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25), nn.Linear(12, 5))
    return nn.ModuleDict({
        "cnn": cnn,
        "lstm": nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        "gru": nn.GRU(3, 4, batch_first=True),
        "cell": nn.LSTMCell(3, 4),
        "emb": nn.Embedding(7, 3, padding_idx=0),
        "tel": nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0, activation="gelu"),
        "enc": nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0,
                                                                batch_first=True), 2),
        "mha": nn.MultiheadAttention(4, 2, kdim=3, vdim=3),
        "ln": nn.LayerNorm(4),
        "convt": nn.ConvTranspose1d(2, 2, 3, stride=2),
        "seq_in_list": nn.ModuleList([nn.Identity(), nn.Tanh(), nn.Softmax(dim=-1)]),
    })


def outputs(lib, model, rng):
    """Forward results of every member of `models()`, in eval mode, on the same inputs."""
    image = lib.tensor(rng.standard_normal((2, 2, 4, 4)).astype(np.float32))
    seq = lib.tensor(rng.standard_normal((5, 2, 3)).astype(np.float32))
    tokens = lib.tensor(rng.standard_normal((5, 2, 4)).astype(np.float32))
    return [model["cnn"](image), model["lstm"](seq)[0], model["gru"](seq)[0], model["cell"](seq[0])[1],
            model["emb"](lib.tensor([[1, 2, 0]])), model["tel"](tokens), model["enc"](tokens),
            model["mha"](tokens, seq, seq)[0], model["ln"](tokens),
            model["convt"](lib.tensor(rng.standard_normal((1, 2, 5)).astype(np.float32))),
            model["seq_in_list"][2](tokens)]


def train_a_little(lib, model):
    """Moves BatchNorm's running stats, then leaves a mix of train/eval flags."""
    model["cnn"].train()
    model["cnn"](lib.ones(2, 2, 4, 4) * lib.arange(4.0))
    model.eval()
    model["cnn"][5].train()                       # one submodule stays in training mode
    return model


def assert_same_modules(ember_model, torch_model):
    pairs = list(zip(ember_model.named_modules(), torch_model.named_modules()))
    assert len(pairs) == len(list(torch_model.modules())) == len(list(ember_model.modules()))
    for (e_name, e_mod), (t_name, t_mod) in pairs:
        assert e_name == t_name
        assert type(e_mod).__name__ == type(t_mod).__name__, e_name
        assert e_mod.training == t_mod.training, e_name
    e_state, t_state = ember_model.state_dict(), torch_model.state_dict()
    assert list(e_state) == list(t_state)
    for key in t_state:
        assert str(e_state[key].dtype).split(".")[-1] == str(t_state[key].dtype).split(".")[-1], key
        np.testing.assert_array_equal(values(e_state[key]), values(t_state[key]), err_msg=key)
    for (name, e_param), (_, t_param) in zip(ember_model.named_parameters(), torch_model.named_parameters()):
        assert type(e_param).__name__ == "Parameter" and e_param.requires_grad == t_param.requires_grad, name


def hook_fn(module, args, output):                # module level: pickled by reference by both libraries
    return output * 2


# ------------------------------------------------------------------------------------------------
# whole modules, both ways
# ------------------------------------------------------------------------------------------------

def test_torch_pickled_model_loads_as_ember_modules(torch):
    torch.manual_seed(0)
    model = train_a_little(torch, models(torch.nn))
    loaded = ember.load(io.BytesIO(save_bytes(torch.save, model)), weights_only=False)
    assert type(loaded) is ember.nn.ModuleDict
    assert type(loaded["mha"].out_proj).__module__.startswith("ember.")
    assert_same_modules(loaded, model)
    rng = np.random.default_rng(0)
    for mine, theirs in zip(outputs(ember, loaded.eval(), rng), outputs(torch, model.eval(), np.random.default_rng(0))):
        np.testing.assert_allclose(values(mine), values(theirs), rtol=1e-5, atol=1e-6)
    base = set(ember.nn.Linear(1, 1).__dict__) - {"in_features", "out_features"}
    for module in loaded.modules():               # torch's extra attributes became ember's internals
        assert base <= set(module.__dict__)
        assert not {"_is_full_backward_hook", "_state_dict_pre_hooks", "_flat_weights",
                    "activation_relu_or_gelu", "use_nested_tensor"} & set(module.__dict__)
    assert loaded["cnn"][0]._reversed_padding_repeated_twice == [1, 1, 1, 1]
    assert loaded["tel"].activation is ember.nn.functional.gelu


def test_torch_pickled_model_keeps_working_in_ember(torch):
    torch.manual_seed(0)
    loaded = ember.load(io.BytesIO(save_bytes(torch.save, models(torch.nn))), weights_only=False)
    cnn = loaded["cnn"]
    optimizer = ember.optim.SGD(cnn.parameters(), lr=0.1)
    before = cnn[6].weight.detach().clone()
    loss = cnn(ember.randn(2, 2, 4, 4)).sum()
    loss.backward()
    optimizer.step()
    assert not ember.equal(before, cnn[6].weight)
    assert cnn.eval().training is False and all(not m.training for m in cnn.modules())
    fresh = models(ember.nn)
    fresh.load_state_dict(loaded.state_dict())
    assert len(list(loaded.parameters())) == len(list(fresh.parameters()))
    clone = copy.deepcopy(loaded)                  # ember's own pickling path still round-trips
    assert_same_modules(clone, loaded)
    again = ember.load(io.BytesIO(save_bytes(ember.save, loaded)), weights_only=False)
    assert_same_modules(again, loaded)


def test_ember_model_loads_in_torch_as_torch_modules(torch):
    ember.manual_seed(0)
    model = train_a_little(ember, models(ember.nn))
    loaded = torch.load(io.BytesIO(save_bytes(ember.save, model)), weights_only=False)
    assert type(loaded) is torch.nn.ModuleDict
    assert_same_modules(model, loaded)
    reference = models(torch.nn)
    for (name, mine), (_, native) in zip(loaded.named_modules(), reference.named_modules()):
        assert type(mine) is type(native), name
        assert set(mine.__dict__) == set(native.__dict__), name
        for key in ("_reversed_padding_repeated_twice", "activation_relu_or_gelu", "use_nested_tensor",
                    "_flat_weights_names"):
            if key in native.__dict__:
                assert mine.__dict__[key] == native.__dict__[key], (name, key)
    assert loaded["tel"].activation is torch.nn.functional.gelu
    for mine, theirs in zip(outputs(torch, loaded.eval(), np.random.default_rng(1)),
                            outputs(ember, model.eval(), np.random.default_rng(1))):
        np.testing.assert_allclose(values(mine), values(theirs), rtol=1e-5, atol=1e-6)
    # torch's own pickle of what it loaded names the same globals as ember's file (torch spells F.gelu by
    # the module of its builtin, torch._C._nn; ember by the public torch.nn.functional, the same object)
    ours = torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(save_bytes(ember.save, model)))
    theirs = torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(save_bytes(torch.save, loaded)))
    assert set(ours) == {name.replace("torch._C._nn.", "torch.nn.functional.") for name in theirs}


def test_forward_hooks_and_shared_parameters_survive(torch):
    lin = torch.nn.Linear(2, 2)
    model = torch.nn.Sequential(lin, torch.nn.ReLU(), lin)
    model[1].register_forward_hook(hook_fn)
    loaded = ember.load(io.BytesIO(save_bytes(torch.save, model)), weights_only=False)
    assert loaded[0] is loaded[2] and loaded[0].weight is loaded[2].weight
    x = np.array([[1.0, -2.0]], np.float32)
    np.testing.assert_allclose(values(loaded(ember.tensor(x))), values(model(torch.tensor(x))), rtol=1e-6)
    back = torch.load(io.BytesIO(save_bytes(ember.save, loaded)), weights_only=False)
    np.testing.assert_allclose(values(back(torch.tensor(x))), values(model(torch.tensor(x))), rtol=1e-6)


def test_state_dict_pre_hooks_torch_keeps_are_dropped_with_a_warning(torch):
    model = torch.nn.Linear(2, 2)
    model.register_state_dict_pre_hook(hook_fn)
    with pytest.warns(UserWarning, match="state_dict_pre_hooks"):
        loaded = ember.load(io.BytesIO(save_bytes(torch.save, model)), weights_only=False)
    assert list(loaded.state_dict()) == ["weight", "bias"]


def test_legacy_format_and_mmap_with_full_unpickling(torch, tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    legacy = ember.load(io.BytesIO(save_bytes(torch.save, model, _use_new_zipfile_serialization=False)),
                        weights_only=False)
    assert_same_modules(legacy, model)
    path = tmp_path / "model.pt"
    torch.save(model, path)
    mapped = ember.load(path, weights_only=False, mmap=True)
    assert_same_modules(mapped, model)


# ------------------------------------------------------------------------------------------------
# without torch: ember's own files
# ------------------------------------------------------------------------------------------------

class Net(ember.nn.Module):
    """A user-defined module: it pickles by its own module path."""

    def __init__(self):
        super().__init__()
        self.body = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 1))
        self.scale = 2.0

    def forward(self, x):
        return self.body(x) * self.scale


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


def test_user_modules_round_trip_with_torch_names_inside():
    net = Net().eval()
    data = save_bytes(ember.save, {"net": net, "point": Point(1, [2])})
    names = serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))
    assert names == [f"{Net.__module__}.Net", "torch.nn.modules.container.Sequential",
                     "torch.nn.modules.linear.Linear", "torch.nn.modules.activation.ReLU", f"{Point.__module__}.Point"]
    with pytest.raises(CheckpointError, match=f"GLOBAL {Net.__module__}.Net was not an allowed global"):
        ember.load(io.BytesIO(data))
    loaded = ember.load(io.BytesIO(data), weights_only=False)
    assert type(loaded["net"]) is Net and loaded["point"] == Point(1, [2])
    assert loaded["net"].training is False and loaded["net"].scale == 2.0
    x = ember.randn(5, 3)
    assert ember.equal(loaded["net"](x), net(x))
    assert type(loaded["net"].body[0]) is ember.nn.Linear
    assert "_is_full_backward_hook" not in loaded["net"].body[0].__dict__


def test_mixed_containers_and_optimizer_state_round_trip_fully():
    model = ember.nn.Linear(3, 2)
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
    model(ember.randn(4, 3)).sum().backward()
    optimizer.step()
    t = ember.arange(6.0)
    obj = {"list": [1, 2.5, "x", None, True], "tuple": (t[:2], t[2:]), "set": {1, 2}, "bytes": b"\x00\xff",
           "complex": 1 + 2j, "od": collections.OrderedDict(b=1, a=2), "counter": collections.Counter("aab"),
           "size": ember.Size([2, 3]), "device": ember.device("cpu"), "dtype": ember.float16,
           "optim": optimizer.state_dict(), "model": model.state_dict(), "ns": argparse.Namespace(epochs=3)}
    data = save_bytes(ember.save, obj)
    loaded = ember.load(io.BytesIO(data), weights_only=False)
    assert loaded["list"] == obj["list"] and loaded["set"] == {1, 2} and loaded["bytes"] == b"\x00\xff"
    assert loaded["complex"] == 1 + 2j and list(loaded["od"]) == ["b", "a"] and loaded["counter"]["a"] == 2
    assert loaded["size"] == ember.Size([2, 3]) and loaded["dtype"] is ember.float16 and loaded["ns"].epochs == 3
    assert ember.equal(loaded["tuple"][1], t[2:])
    assert loaded["model"]._metadata == obj["model"]._metadata
    fresh = ember.optim.Adam(ember.nn.Linear(3, 2).parameters(), lr=0.01)
    fresh.load_state_dict(loaded["optim"])
    assert ember.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])


def test_optimizer_state_and_containers_match_torch_both_ways(torch):
    t_model = torch.nn.Linear(3, 2)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=0.01)
    t_model(torch.randn(4, 3)).sum().backward()
    t_opt.step()
    obj = {"optim": t_opt.state_dict(), "nested": [(1, {"k": torch.ones(2)}), {3, 4}], "b": b"ab", "c": 2j}
    for weights_only in (True, False):
        loaded = ember.load(io.BytesIO(save_bytes(torch.save, obj)), weights_only=weights_only)
        state = loaded["optim"]["state"][0]
        np.testing.assert_array_equal(values(state["exp_avg"]), values(t_opt.state_dict()["state"][0]["exp_avg"]))
        assert loaded["optim"]["param_groups"][0]["lr"] == 0.01 and loaded["nested"][1] == {3, 4}
        assert loaded["b"] == b"ab" and loaded["c"] == 2j
        back = torch.load(io.BytesIO(save_bytes(ember.save, loaded)), weights_only=weights_only)
        torch.testing.assert_close(back["optim"]["state"][0]["exp_avg"], t_opt.state_dict()["state"][0]["exp_avg"])
        assert back["optim"]["param_groups"] == t_opt.state_dict()["param_groups"]


def test_whole_optimizers_round_trip_both_ways(torch):
    t_model = torch.nn.Linear(2, 2)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=0.1)
    t_model(torch.ones(1, 2)).sum().backward()
    t_opt.step()
    loaded = ember.load(io.BytesIO(save_bytes(torch.save, {"model": t_model, "opt": t_opt})), weights_only=False)
    opt = loaded["opt"]
    assert type(opt) is ember.optim.Adam and opt.param_groups[0]["params"][0] is loaded["model"].weight
    assert set(opt.__dict__) == set(ember.optim.Adam(ember.nn.Linear(1, 1).parameters()).__dict__)
    t_opt.zero_grad()                             # grads are not pickled
    loaded["model"](ember.ones(1, 2)).sum().backward()
    opt.step()
    t_model(torch.ones(1, 2)).sum().backward()
    t_opt.step()
    np.testing.assert_allclose(values(loaded["model"].weight), values(t_model.weight), rtol=1e-6)
    data = save_bytes(ember.save, loaded)
    assert set(torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))) == set(
        torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(save_bytes(torch.save, {"model": t_model,
                                                                                                "opt": t_opt}))))
    back = torch.load(io.BytesIO(data), weights_only=False)
    assert type(back["opt"]) is torch.optim.Adam and back["opt"].param_groups[0]["params"][0] is back["model"].weight
    t_opt.zero_grad()
    back["model"](torch.ones(1, 2)).sum().backward()
    back["opt"].step()
    t_model(torch.ones(1, 2)).sum().backward()
    t_opt.step()
    torch.testing.assert_close(back["model"].weight, t_model.weight)


def test_tensor_attributes_and_parameter_state_round_trip_fully(torch):
    t = torch.ones(2)
    t.note = {"a": 1}
    p = torch.nn.Parameter(torch.zeros(3))
    p.tag = "x"
    loaded = ember.load(io.BytesIO(save_bytes(torch.save, {"t": t, "p": p})), weights_only=False)
    assert loaded["t"].note == {"a": 1} and type(loaded["p"]) is ember.nn.Parameter and loaded["p"].tag == "x"
    back = torch.load(io.BytesIO(save_bytes(ember.save, loaded)), weights_only=False)
    assert back["t"].note == {"a": 1} and type(back["p"]) is torch.nn.Parameter and back["p"].tag == "x"


def test_untyped_storages_load_as_bytes_like_torch_allows(torch):
    data = save_bytes(torch.save, {"s": torch.arange(2.0).untyped_storage()})
    assert torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)) == []
    assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)) == []
    for weights_only in (True, False):
        storage = ember.load(io.BytesIO(data), weights_only=weights_only)["s"]
        assert storage.array.tobytes() == np.arange(2.0, dtype=np.float32).tobytes()


def test_torch_globals_map_to_ember_and_back(torch):
    for name, path in NN_CLASS_PATHS.items():
        if hasattr(torch.nn, name):
            assert getattr(torch.nn, name).__module__ == path, name
    for name, path in OPTIM_CLASS_PATHS.items():
        assert getattr(torch.optim, name).__module__ == path, name
        assert torch_name(getattr(ember.optim, name)) == (path, name)
    for name in dir(ember.nn):
        cls = getattr(ember.nn, name)
        if isinstance(cls, type) and issubclass(cls, ember.nn.Module) and hasattr(torch.nn, name):
            module, qualname = torch_name(cls)
            assert (module, qualname) == (getattr(torch.nn, name).__module__, name), \
                f"add {name} to _NN_CLASSES in ember/_torch_globals.py"
            assert ember_object(module, qualname) is cls
    functional = torch.nn.functional
    for name in dir(ember.nn.functional):
        obj = getattr(ember.nn.functional, name)
        if name.startswith("_") or not callable(obj) or not hasattr(functional, name) or isinstance(obj, type):
            continue
        module, qualname = torch_name(obj)       # the name itself, or an ember alias of it (native_channel_shuffle)
        assert module == "torch.nn.functional" and hasattr(functional, qualname), name
        assert qualname == name or getattr(ember.nn.functional, qualname) is obj, name
    assert ember_object("torch._C._nn", "gelu") is ember.nn.functional.gelu
    assert ember_object("torch.optim.adam", "Adam") is ember.optim.Adam
    assert ember_object("torch.nn.modules.batchnorm", "BatchNorm2d") is ember.nn.BatchNorm2d
    assert ember_object("torch", "frobnicate") is None
    assert torch_name(ember.nn.Parameter) == ("torch.nn.parameter", "Parameter")
    assert torch_name(np.ndarray) is None


def with_data_pkl(data, change):
    """A copy of a checkpoint with data.pkl's bytes passed through change()."""
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            target.writestr(info.filename, change(body) if info.filename.endswith("data.pkl") else body)
    return buffer.getvalue()


def test_every_torch_name_ember_writes_exists_in_torch(torch):
    import importlib
    from ember import _torch_globals
    torch_name(ember.nn.Linear)
    _torch_globals._build_table(True)             # every namespace, imported
    assert len(_torch_globals._TABLE) > 500
    for module, name in _torch_globals._TABLE.values():
        found = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part, None)
        assert found is not None, f"{module}.{name}"


def test_unknown_torch_global_is_refused_naming_it():
    data = with_data_pkl(save_bytes(ember.save, [1]), lambda _: b"\x80\x02ctorch.nn.modules.foo\nFrobnicator\n)\x81.")
    with pytest.raises(CheckpointError, match="torch.nn.modules.foo.Frobnicator, which has no counterpart"):
        ember.load(io.BytesIO(data), weights_only=False)


# ------------------------------------------------------------------------------------------------
# the allow-list: add_safe_globals, safe_globals, get/clear, get_unsafe_globals_in_checkpoint
# ------------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _no_leftover_globals():
    import sys
    mods = [serialization] + ([sys.modules["torch"].serialization] if "torch" in sys.modules else [])
    for mod in mods:
        mod.clear_safe_globals()
    yield
    for mod in mods:
        mod.clear_safe_globals()


def test_safe_globals_scoping_is_restored_also_on_exception():
    serialization.add_safe_globals([Point])
    with serialization.safe_globals([argparse.Namespace, (Net, "my.Net"), Point]):
        assert serialization.get_safe_globals() == [Point, argparse.Namespace, (Net, "my.Net")]
    assert serialization.get_safe_globals() == [Point]         # what was allowed before stays allowed
    with pytest.raises(KeyError):
        with serialization.safe_globals([argparse.Namespace]):
            assert argparse.Namespace in serialization.get_safe_globals()
            raise KeyError("inside")
    assert serialization.get_safe_globals() == [Point]
    serialization.add_safe_globals([Point, slice])
    assert serialization.get_safe_globals() == [Point, slice]  # no duplicates
    serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []


def test_safe_globals_scope_a_real_load():
    data = save_bytes(ember.save, {"ns": argparse.Namespace(a=1)})
    with serialization.safe_globals([argparse.Namespace]):
        assert ember.load(io.BytesIO(data))["ns"].a == 1
    with pytest.raises(CheckpointError, match="argparse.Namespace"):
        ember.load(io.BytesIO(data))
    with pytest.raises(ZeroDivisionError):
        with serialization.safe_globals([argparse.Namespace]):
            ember.load(io.BytesIO(data))
            raise ZeroDivisionError("inside the block")
    with pytest.raises(CheckpointError, match="argparse.Namespace"):
        ember.load(io.BytesIO(data))


def test_safe_globals_match_torch(torch):
    data = save_bytes(torch.save, {"p": Point(1, 2)})
    for mod, load in ((torch.serialization, torch.load), (serialization, ember.load)):
        mod.add_safe_globals([argparse.Namespace, (Point, f"{Point.__module__}.Point")])
        assert set(map(repr, mod.get_safe_globals())) == {repr(argparse.Namespace),
                                                          repr((Point, f"{Point.__module__}.Point"))}
        assert load(io.BytesIO(data))["p"] == Point(1, 2)
        mod.clear_safe_globals()
        assert mod.get_safe_globals() == []
    # malformed entries: torch raises when it next loads, ember at once; the messages are torch's
    for bad, error, match in (((Point, "a", "b"), ValueError, "Expected tuple of length 2 .global, str of callable "
                                                                "full path., but got tuple of length: 3"),
                              ((Point, 3), TypeError, "Expected second item in tuple to be str of callable full "
                                                      "path, but got: <class 'int'>")):
        torch.serialization.add_safe_globals([bad])
        with pytest.raises(error, match=match):
            torch.load(io.BytesIO(data))
        torch.serialization.clear_safe_globals()
        with pytest.raises(error, match=match):
            serialization.add_safe_globals([bad])
        assert serialization.get_safe_globals() == []


def test_allow_listed_module_classes_load_weights_only(torch):
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    data = save_bytes(torch.save, model)
    with torch.serialization.safe_globals([torch.nn.Sequential, torch.nn.Linear, torch.nn.ReLU]):
        torch.load(io.BytesIO(data))
    with serialization.safe_globals([ember.nn.Sequential, ember.nn.Linear, ember.nn.ReLU]):
        loaded = ember.load(io.BytesIO(data))
    assert_same_modules(loaded, model)
    with serialization.safe_globals([ember.nn.Sequential, ember.nn.Linear]):
        with pytest.raises(CheckpointError, match="GLOBAL torch.nn.modules.activation.ReLU was not an allowed"):
            ember.load(io.BytesIO(data))


def test_ember_classes_are_allowed_under_torch_and_own_names():
    data = save_bytes(ember.save, ember.nn.Linear(2, 3))
    assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)) == ["torch.nn.modules.linear.Linear"]
    own = with_data_pkl(data, lambda body: body.replace(b"ctorch.nn.modules.linear\n", b"cember.nn.modules.linear\n"))
    for checkpoint in (data, own):
        with pytest.raises(CheckpointError, match="nn.modules.linear.Linear was not an allowed global"):
            ember.load(io.BytesIO(checkpoint))
        with serialization.safe_globals([ember.nn.Linear]):
            loaded = ember.load(io.BytesIO(checkpoint))
            assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(checkpoint)) == []
        assert type(loaded) is ember.nn.Linear and loaded.in_features == 2
        assert "_is_full_backward_hook" not in loaded.__dict__ and loaded(ember.ones(1, 2)).shape == (1, 3)


def _numpy_allow_lists():
    core = np._core.multiarray
    steps = [core._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.float64)), core.scalar]
    return [steps[:n] for n in range(len(steps) + 1)]


@pytest.mark.parametrize("saver", ["torch", "ember"])
def test_numpy_and_namespace_load_once_allowed_like_torch(torch, saver):
    obj = {"a": np.arange(6.0).reshape(2, 3), "s": np.float64(2.5), "ns": argparse.Namespace(lr=0.1)}
    data = save_bytes(torch.save if saver == "torch" else ember.save, obj)
    for allowed in _numpy_allow_lists():
        allowed = allowed + [argparse.Namespace]
        outcomes = []
        for mod, load in ((torch.serialization, torch.load), (serialization, ember.load)):
            try:
                with mod.safe_globals(allowed):
                    result = load(io.BytesIO(data))
                outcomes.append(("ok", result["a"].tolist(), float(result["s"]), result["ns"].lr))
            except pickle.UnpicklingError as error:
                outcomes.append(("refused", "GLOBAL" in str(error)))
        assert outcomes[0] == outcomes[1], allowed
    assert outcomes[0][0] == "ok"                 # the full list loads
    unsafe = {"numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
              "numpy._core.multiarray.scalar", "argparse.Namespace"}
    assert set(serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))) == unsafe
    assert set(torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))) == unsafe


def test_numpy_core_spelling_of_numpy_1_files_is_allowed_too():
    spelling = (b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    data = with_data_pkl(save_bytes(ember.save, {"a": np.arange(3.0)}), lambda body: body.replace(*spelling))
    assert "numpy.core.multiarray._reconstruct" in serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))
    allowed = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.float64))]
    with serialization.safe_globals(allowed):
        assert ember.load(io.BytesIO(data))["a"].tolist() == [0.0, 1.0, 2.0]
        assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)) == []


def test_get_unsafe_globals_in_checkpoint_lists_what_torch_lists(torch, tmp_path):
    torch.manual_seed(0)
    files = {"model": save_bytes(torch.save, models(torch.nn)),
             "ember_model": save_bytes(ember.save, models(ember.nn)),
             "state": save_bytes(torch.save, models(torch.nn).state_dict()),
             "ns": save_bytes(ember.save, [argparse.Namespace(), slice(1), range(2)])}
    for name, data in files.items():
        theirs = set(torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)))
        mine = serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))
        if name == "ember_model":                 # ember names F.gelu as torch.nn.functional.gelu
            theirs = {n.replace("torch._C._nn.", "torch.nn.functional.") for n in theirs}
        assert set(mine) == theirs and len(mine) == len(set(mine)), name
    assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(files["state"])) == []
    with serialization.safe_globals([argparse.Namespace]):
        assert set(serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(files["ns"]))) == {
            "builtins.slice", "builtins.range"}
    path = tmp_path / "m.pt"
    path.write_bytes(files["model"])
    assert set(serialization.get_unsafe_globals_in_checkpoint(path)) == set(
        torch.serialization.get_unsafe_globals_in_checkpoint(path))
    legacy = save_bytes(torch.save, [1], _use_new_zipfile_serialization=False)
    for mod in (torch.serialization, serialization):
        with pytest.raises(ValueError, match="Expected input to be a checkpoint returned by torch.save"):
            mod.get_unsafe_globals_in_checkpoint(io.BytesIO(legacy))
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), scripted)
    for mod in (torch.serialization, serialization):
        with pytest.raises(ValueError, match="but got a torchscript checkpoint"):
            mod.get_unsafe_globals_in_checkpoint(scripted)


# ------------------------------------------------------------------------------------------------
# refusals: torch's text in ember's names
# ------------------------------------------------------------------------------------------------

def _refusal(load, data, **kwargs):
    with pytest.raises(pickle.UnpicklingError) as info:
        load(io.BytesIO(data), **kwargs)
    return str(info.value)


def test_unsupported_global_message_is_torchs(torch):
    for value in (argparse.Namespace(a=1), np.zeros(2), torch.nn.Linear(1, 1)):
        data = save_bytes(torch.save, {"v": value})
        theirs, mine = _refusal(torch.load, data), _refusal(ember.load, data)
        advice = theirs.split("WeightsUnpickler error: ")[1].split("\n")[0]
        assert advice.startswith("Unsupported global: GLOBAL ")
        assert advice.replace("torch.serialization.", "ember.serialization.") in mine
        assert mine.startswith("Weights only load failed. This file can still be loaded, to do so you have two "
                               "options, \x1b[1mdo those steps only if you trust the source of the checkpoint")
        assert "Re-running `ember.load` with `weights_only` set to `False` will likely succeed" in mine
        assert mine.endswith("https://pytorch.org/docs/stable/generated/torch.load.html.")
        assert isinstance(ember.serialization.CheckpointError("x"), pickle.UnpicklingError)


def test_builtins_advice_names_the_builtin_like_torch(torch):
    data = save_bytes(torch.save, {"s": slice(1, 2)})
    assert "add_safe_globals([slice])`" in _refusal(torch.load, data)
    mine = _refusal(ember.load, data)
    assert "add_safe_globals([slice])`" in mine and "GLOBAL builtins.slice was not an allowed global" in mine


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_blocked_global_message_and_nothing_runs(torch, tmp_path):
    marker = tmp_path / "pwned"
    data = save_bytes(torch.save, {"evil": Evil(marker)})
    theirs, mine = _refusal(torch.load, data), _refusal(ember.load, data)
    assert "Trying to load unsupported GLOBAL posix.system whose module posix is blocked." in theirs
    assert "Trying to load unsupported GLOBAL posix.system whose module posix is blocked" in mine
    assert mine.startswith("Weights only load failed. In PyTorch 2.6")
    assert not marker.exists()


def test_weights_only_default_never_runs_what_full_unpickling_runs(tmp_path):
    marker = tmp_path / "ran"
    data = save_bytes(ember.save, {"evil": Evil(marker)})
    with pytest.raises(CheckpointError, match="posix.system|nt.system"):
        ember.load(io.BytesIO(data))
    assert not marker.exists()
    ember.load(io.BytesIO(data), weights_only=False)  # the caller said the file is trusted: like torch, it runs
    assert marker.exists()


# ------------------------------------------------------------------------------------------------
# pickle_module, pickle_load_args, mmap, TORCH_FORCE_* as torch.load takes them
# ------------------------------------------------------------------------------------------------

def test_pickle_module_means_full_unpickling_like_torch(torch):
    data = save_bytes(torch.save, {"ns": argparse.Namespace(a=1)})
    for load in (torch.load, ember.load):
        assert load(io.BytesIO(data), pickle_module=pickle)["ns"].a == 1     # weights_only unset -> False
        with pytest.raises(RuntimeError, match="Can not safely load weights when explicit pickle_module is "
                                               "specified"):
            load(io.BytesIO(data), pickle_module=pickle, weights_only=True)
    with pytest.raises(RuntimeError, match="pickle_module"):
        ember.load(io.BytesIO(data), pickle_module=object())


def test_pickle_load_args(torch):
    data = save_bytes(torch.save, {"x": 1})
    for load in (torch.load, ember.load):
        with pytest.warns(UserWarning, match=r"pickle_load_args only works if `weights_only=False`"):
            assert load(io.BytesIO(data), encoding="latin1") == {"x": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert load(io.BytesIO(data), weights_only=False, encoding="latin1", errors="strict") == {"x": 1}


def test_mmap_arguments_like_torch(torch, tmp_path):
    zipped = save_bytes(torch.save, {"w": torch.arange(4.0)})
    legacy_path = tmp_path / "legacy.pt"
    legacy_path.write_bytes(save_bytes(torch.save, [1], _use_new_zipfile_serialization=False))
    for load, name in ((torch.load, "torch"), (ember.load, "ember")):
        with pytest.raises(ValueError, match="f must be a file path in order to use the mmap argument"):
            load(io.BytesIO(zipped), mmap=True)
        with pytest.raises(RuntimeError, match=rf"mmap can only be used with files saved with `{name}.save\("
                                               rf"{legacy_path}, _use_new_zipfile_serialization=True\)"):
            load(str(legacy_path), mmap=True)
        with pytest.raises(RuntimeError, match="mmap can only be used"):
            load(io.BytesIO(legacy_path.read_bytes()), mmap=True)
    path = tmp_path / "w.pt"
    path.write_bytes(zipped)
    for weights_only in (True, False):
        assert ember.load(path, mmap=True, weights_only=weights_only)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_force_environment_variables_like_torch(torch, monkeypatch):
    data = save_bytes(torch.save, {"ns": argparse.Namespace(a=1)})
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    for load in (torch.load, ember.load):
        with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
            load(io.BytesIO(data), weights_only=False)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "true")
    for load in (torch.load, ember.load):
        with pytest.raises(RuntimeError, match="Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or "
                                               "`TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` should be set"):
            load(io.BytesIO(data))
    monkeypatch.delenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    for load in (torch.load, ember.load):
        with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected"):
            assert load(io.BytesIO(data))["ns"].a == 1
        with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
            load(io.BytesIO(data), weights_only=True)      # an explicit weights_only=True still wins


def test_load_arguments_without_torch(monkeypatch, tmp_path):
    data = save_bytes(ember.save, {"ns": argparse.Namespace(a=1)})
    assert ember.load(io.BytesIO(data), pickle_module=pickle)["ns"].a == 1
    with pytest.raises(RuntimeError, match="Can not safely load weights when explicit pickle_module is specified"):
        ember.load(io.BytesIO(data), pickle_module=pickle, weights_only=True)
    with pytest.warns(UserWarning, match="pickle_load_args only works"), pytest.raises(TypeError, match="errors"):
        ember.load(io.BytesIO(data), errors="strict")       # the weights-only unpickler takes only `encoding`
    path = tmp_path / "ns.pt"
    path.write_bytes(data)
    assert ember.load(path, weights_only=False, mmap=True)["ns"].a == 1
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "YES")
    with pytest.raises(CheckpointError, match="GLOBAL argparse.Namespace was not an allowed global"):
        ember.load(io.BytesIO(data), weights_only=False)
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0")
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.warns(UserWarning, match="forcing weights_only=False"):
        assert ember.load(io.BytesIO(data))["ns"].a == 1
