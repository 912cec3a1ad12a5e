"""ember.save / ember.load: round trips, fidelity against PyTorch both ways, file layout, durability.

Requirements covered: FID-1..5, FID-8 (docs/RELIABILITY.md B), DUR-1..4 (H). Hostile inputs are in
test_serialization_security.py.
"""
import collections
import io
import math
import os
import random
import signal
import struct
import sys
import time
import warnings
import zipfile

import numpy as np
import pytest

import ember
from ember import serialization
from ember._tensor import wrap
from ember.serialization import CheckpointError

# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

HAS_ML_DTYPES = ember.bfloat16.numpy is not None


def raw_bytes(t):
    """The exact bytes (NaN payloads, -0.0) of an ember or torch tensor, plus dtype name and shape."""
    if isinstance(t, ember.Tensor):
        array = np.ascontiguousarray(t._array)
        return t.dtype.name, tuple(t.shape), array.reshape(-1).view(np.uint8).tobytes()
    import torch
    flat = t.detach().contiguous().reshape(-1)
    name = str(t.dtype).replace("torch.", "")
    return name, tuple(t.shape), flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    ember.save(obj, buffer)
    buffer.seek(0)
    return ember.load(buffer, **load_kwargs)


def shares(a, b):
    return np.shares_memory(a._array, b._array)


def special_values(dtype_name):
    """Values that catch lossy paths: infinities, NaN payloads, -0.0, subnormals, integer extremes."""
    if dtype_name in ("float16", "float32", "float64"):
        info = np.finfo(dtype_name)
        values = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, info.max, info.min,
                           info.smallest_subnormal, -info.smallest_subnormal, info.tiny], dtype=dtype_name)
        bits = values.view(f"u{values.itemsize}")
        bits[6] |= 0x5                            # a NaN with a payload
        return values
    if dtype_name == "bfloat16":
        return np.array([0, 0x8000, 0x3FC0, 0x7F80, 0xFF80, 0x7FC1, 0x0001, 0x8001, 0x7F7F], np.uint16)
    if dtype_name == "bool":
        return np.array([True, False, True])
    if dtype_name in ("complex64", "complex128"):
        return np.array([1 + 2j, complex(np.inf, -0.0), complex(np.nan, 1), -0.0 - 0.0j], dtype_name)
    info = np.iinfo(dtype_name)
    return np.array([0, 1, -1 if info.min else 2, info.min, info.max], dtype=dtype_name)


ALL_DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32", "int64", "bool",
              "complex64", "complex128"]


def ember_tensor(dtype_name, shape=None):
    values = special_values(dtype_name)
    if dtype_name == "bfloat16":
        if not HAS_ML_DTYPES:
            pytest.skip("bfloat16 tensors need ml_dtypes")
        values = values.view(ember.bfloat16.numpy)
    t = ember.from_numpy(values.copy())
    return t.reshape(shape) if shape else t


def torch_tensor(torch, dtype_name):
    values = special_values(dtype_name)
    if dtype_name == "bfloat16":
        return torch.from_numpy(values.astype(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(values.copy())


def zip_names(data):
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


def rewrite_zip(data, replace=None, drop=(), prefix=None):
    """A copy of a zip checkpoint with records replaced/dropped (CRCs recomputed by zipfile)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for name in source.namelist():
            folder, _, rest = name.partition("/")
            if rest in drop:
                continue
            content = (replace or {}).get(rest, source.read(name))
            target.writestr(f"{prefix or folder}/{rest}", content)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------
# round trips through ember's own writer and reader (FID-4, FID-8)
# ------------------------------------------------------------------------------------------------

def test_nested_python_objects_keep_types_values_and_order():
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    od._metadata = {"": {"version": 1}}
    obj = {
        "none": None, "true": True, "false": False, "ints": [0, 255, 256, 65535, 65536, -1, 2**31 - 1, -2**31,
                                                         2**63 - 1, -2**63, 2**70, -2**70, 2**2000],
        "floats": (0.0, -0.0, math.inf, -math.inf, 1e-310, 1.5),
        "nan": math.nan, "str": "héllo ✓ 😀", "empty": "", "bytes": b"\x00\x80\xff", "no_bytes": b"",
        "bytearray": bytearray(b"ab"), "tuple": (1, (2, 3), [4]), "tuple4": (1, 2, 3, 4, 5), "empty_tuple": (),
        "set": {1, 2, 3}, "complex": 1 - 2j, "od": od,      # not frozenset/range/slice: PyTorch refuses them
        "counter": collections.Counter("abca"),
        "size": ember.Size([2, 3]), "device": ember.device("cpu"), "cuda": ember.device("cuda", 1),
        "dtype": ember.float16, "nested": [[[{"deep": (1,)}]]], 1: "int key", (1, 2): "tuple key",
        "big_list": list(range(2500)), "big_dict": {str(i): i for i in range(1200)},
    }
    back = roundtrip(obj)
    assert list(back) == list(obj)
    for key, value in obj.items():
        if key == "nan":
            assert math.isnan(back[key])
            continue
        assert type(back[key]) is type(value), key
        assert back[key] == value, key
    assert math.copysign(1, back["floats"][1]) == -1
    assert list(back["od"]) == ["z", "a"] and back["od"]._metadata == {"": {"version": 1}}
    assert back["dtype"] is ember.float16 and back["size"] == (2, 3)
    assert back["device"] == ember.device("cpu") and back["cuda"] == ember.device("cuda", 1)


def test_shared_python_objects_stay_shared_and_recursion_works():
    shared = [1, 2]
    recursive = []
    recursive.append(recursive)
    back = roundtrip({"a": shared, "b": shared, "r": recursive, "t": (recursive,)})
    assert back["a"] is back["b"]
    assert back["r"][0] is back["r"] and back["t"][0] is back["r"]


@pytest.mark.parametrize("dtype_name", ALL_DTYPES)
def test_every_dtype_round_trips_bit_exactly(dtype_name):
    t = ember_tensor(dtype_name)
    back = roundtrip({"t": t, "matrix": t[: t.shape[0] // 2 * 2].reshape(-1, 2) if t.shape[0] > 1 else t})
    assert raw_bytes(back["t"]) == raw_bytes(t)
    assert back["t"].dtype is t.dtype


def test_views_of_one_storage_keep_values_strides_and_sharing():
    base = ember.arange(48, dtype=ember.float32).reshape(6, 8)
    views = {
        "base": base, "t": base.t(), "offset": base[2:], "step": base[:, ::2], "expand": base[0:1].expand(5, 8),
        "same": base, "flat": base.view(-1)[5:17], "scalar": base[3, 4],
    }
    back = roundtrip(views)
    for name, view in views.items():
        assert raw_bytes(back[name]) == raw_bytes(view), name
        assert back[name].stride() == view.stride(), name
        assert back[name].storage_offset() == view.storage_offset(), name
    assert back["same"] is back["base"]
    for name in views:
        assert shares(back[name], back["base"]), name
    back["base"]._array[2, 0] = -1.0              # sharing is real memory sharing
    assert back["offset"]._array[0, 0] == -1.0 and back["flat"]._array[11] == -1.0


def test_tensors_over_numpy_bases_that_torch_cannot_express_are_copied():
    fortran = ember.from_numpy(np.asfortranarray(np.arange(12.0).reshape(3, 4)))
    reversed_view = wrap(np.arange(6.0)[::-1])   # internal ops may make such views
    byte_offset = ember.from_numpy(np.frombuffer(np.arange(10, dtype=np.uint8).tobytes()[1:9], np.float32))
    back = roundtrip([fortran, reversed_view, byte_offset])
    for original, loaded in zip([fortran, reversed_view, byte_offset], back):
        assert raw_bytes(loaded) == raw_bytes(original)
    assert back[0].stride() == (1, 3)              # F-contiguous base: strides kept


def test_parameters_requires_grad_and_leaves():
    nn = ember.nn
    weight = nn.Parameter(ember.randn(3, 2))
    frozen = nn.Parameter(ember.randn(2), requires_grad=False)
    leaf = ember.randn(4, requires_grad=True)
    plain = ember.randn(2)
    back = roundtrip({"w": weight, "f": frozen, "leaf": leaf, "plain": plain, "again": weight})
    assert type(back["w"]) is nn.Parameter and back["w"].requires_grad and back["w"].is_leaf
    assert type(back["f"]) is nn.Parameter and not back["f"].requires_grad
    assert type(back["leaf"]) is ember.Tensor and back["leaf"].requires_grad and back["leaf"].is_leaf
    assert not back["plain"].requires_grad
    assert back["again"] is back["w"]
    assert raw_bytes(back["w"]) == raw_bytes(weight)


def test_zero_dim_empty_and_top_level_values():
    assert roundtrip(ember.tensor(3.5)).shape == ()
    empty = roundtrip(ember.zeros(0, 3, dtype=ember.int64))
    assert empty.shape == (0, 3) and empty.dtype is ember.int64
    assert raw_bytes(roundtrip([ember.ones(2)])[0]) == raw_bytes(ember.ones(2))
    assert roundtrip(7) == 7 and roundtrip(None) is None
    assert roundtrip((ember.ones(1), "x"))[1] == "x"


def test_tensor_python_attributes_round_trip():
    t = ember.ones(2)
    t.note = "kept"
    assert roundtrip(t).note == "kept"


def test_training_checkpoint_round_trip():
    params = [ember.randn(3, 2), ember.randn(3)]
    checkpoint = {
        "epoch": 7, "model": collections.OrderedDict(weight=params[0], bias=params[1]),
        "optimizer": {"state": {0: {"step": ember.tensor(3.0), "exp_avg": ember.zeros(3, 2)},
                                1: {"step": ember.tensor(3.0), "exp_avg": ember.zeros(3)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "amsgrad": False}]},
        "rng": ember.get_rng_state(), "best": math.nan, "name": "rün", "blob": b"\x01\x02", "huge": 2**70,
    }
    back = roundtrip(checkpoint)
    assert back["epoch"] == 7 and back["name"] == "rün" and back["blob"] == b"\x01\x02" and back["huge"] == 2**70
    assert math.isnan(back["best"])
    assert isinstance(back["optimizer"]["param_groups"][0]["betas"], tuple)
    assert list(back["optimizer"]["state"]) == [0, 1]
    assert raw_bytes(back["rng"]) == raw_bytes(checkpoint["rng"])
    ember.set_rng_state(back["rng"])


def test_paths_and_file_objects(tmp_path):
    import pathlib
    data = {"x": ember.arange(5)}
    for target in (str(tmp_path / "a.pt"), pathlib.Path(tmp_path / "b.pt"), os.fsencode(tmp_path / "c.pt")):
        ember.save(data, target)
        assert raw_bytes(ember.load(target)["x"]) == raw_bytes(data["x"])
    with open(tmp_path / "d.pt", "wb") as fh:
        ember.save(data, fh)
    with open(tmp_path / "d.pt", "rb") as fh:
        assert raw_bytes(ember.load(fh)["x"]) == raw_bytes(data["x"])


def test_unpicklable_object_raises_before_any_file_exists(tmp_path):
    import pickle
    path = tmp_path / "x.pt"
    # Python's own error, as torch.save's (AttributeError for a local object up to Python 3.13)
    with pytest.raises((AttributeError, pickle.PicklingError), match="Can't pickle local object .*<lambda>"):
        ember.save({"f": lambda: 1}, path)
    assert os.listdir(tmp_path) == []


def _local_model(lib):
    class Net(lib.nn.Module):
        pass
    return Net()


def _pickle_error(save, obj):
    try:
        save(obj, io.BytesIO())
    except Exception as error:            # whatever Python's pickle raises
        return type(error), str(error)
    raise AssertionError("saved")


def test_class_pickle_errors_are_pythons_as_in_torch(torch):
    """A whole model whose class was defined inside a function, and a lambda: Python's pickle errors, as
    torch.save raises them (super_resolution's torch.save(model, path) with its Net made in main())."""
    for make in (_local_model, lambda lib: {"f": lambda: 1}):
        got, want = _pickle_error(ember.save, make(ember)), _pickle_error(torch.save, make(torch))
        assert got[0] is want[0] and "Can't pickle local object" in got[1]
        assert got[1] == want[1]


# ------------------------------------------------------------------------------------------------
# the file layout
# ------------------------------------------------------------------------------------------------

def test_zip_layout_alignment_crc_and_folder_name(tmp_path):
    path = tmp_path / "my.model.pt"
    ember.save({"a": ember.ones(3), "b": ember.zeros(2, dtype=ember.int16)}, path)
    data = path.read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None              # every CRC-32 is right
    names = archive.namelist()
    assert names[0] == "my.model/data.pkl"
    assert {n.split("/")[0] for n in names} == {"my.model"}
    for required in ("version", "byteorder", ".format_version", ".storage_alignment", "data/0", "data/1"):
        assert f"my.model/{required}" in names
    assert archive.read("my.model/version") == b"3\n" and archive.read("my.model/byteorder") == b"little"
    for info in archive.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
        assert (info.header_offset + 30 + name_length + extra_length) % 64 == 0, info.filename
    buffer = io.BytesIO()
    ember.save([1], buffer)
    assert zip_names(buffer.getvalue())[0] == "archive/data.pkl"


def test_crc_can_be_disabled_and_zero_means_not_computed():
    serialization.set_crc32_options(False)
    try:
        buffer = io.BytesIO()
        ember.save({"x": ember.arange(4)}, buffer)
    finally:
        serialization.set_crc32_options(True)
    assert all(i.CRC == 0 for i in zipfile.ZipFile(io.BytesIO(buffer.getvalue())).infolist())
    buffer.seek(0)
    assert raw_bytes(ember.load(buffer)["x"]) == raw_bytes(ember.arange(4))


def test_zip64_records(monkeypatch):
    monkeypatch.setattr(serialization, "_ZIP64_LIMIT", 16)     # every record and offset needs zip64 now
    t = ember.arange(40, dtype=ember.float64)
    buffer = io.BytesIO()
    ember.save({"t": t}, buffer)
    assert zipfile.ZipFile(io.BytesIO(buffer.getvalue())).testzip() is None
    buffer.seek(0)
    assert raw_bytes(ember.load(buffer)["t"]) == raw_bytes(t)


def test_legacy_format_round_trip():
    base = ember.arange(12, dtype=ember.int32).reshape(3, 4)
    buffer = io.BytesIO()
    ember.save({"b": base, "v": base[1:, ::2], "f": ember.ones(2, dtype=ember.float16)}, buffer,
               _use_new_zipfile_serialization=False)
    assert buffer.getvalue()[:2] == b"\x80\x02"
    buffer.seek(0)
    back = ember.load(buffer)
    assert raw_bytes(back["v"]) == raw_bytes(base[1:, ::2]) and shares(back["b"], back["v"])


def test_mmap_loads_the_same_values(tmp_path):
    path = tmp_path / "m.pt"
    x = ember.randn(4, 5)
    ember.save({"x": x, "v": x[1:]}, path)
    back = ember.load(path, mmap=True)
    assert raw_bytes(back["x"]) == raw_bytes(x) and shares(back["x"], back["v"])
    back["x"]._array[0, 0] = 123.0                 # copy-on-write: the file does not change
    assert raw_bytes(ember.load(path)["x"]) == raw_bytes(x)
    with pytest.raises(ValueError, match="file path"):
        ember.load(io.BytesIO(path.read_bytes()), mmap=True)


def test_map_location_forms():
    x = ember.arange(3.0)
    for location in ("cpu", ember.device("cpu"), {"cpu": "cpu"}, lambda storage, loc: storage,
                     lambda storage, loc: None):
        back = roundtrip({"x": x}, map_location=location)
        assert back["x"].device == ember.device("cpu") and raw_bytes(back["x"]) == raw_bytes(x)
    with pytest.raises(TypeError):
        roundtrip(x, map_location=3.5)


def test_pickle_module_and_protocol_arguments():
    import pickle
    assert roundtrip([1], pickle_module=pickle) == [1]
    with pytest.raises(ValueError):
        ember.save([1], io.BytesIO(), pickle_protocol=1)
    with pytest.raises(RuntimeError, match="pickle_module"):
        ember.load(io.BytesIO(b"x"), pickle_module=object())


# ------------------------------------------------------------------------------------------------
# oracle: files written by PyTorch (FID-1..5)
# ------------------------------------------------------------------------------------------------

def torch_save_bytes(torch, obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def ember_load_bytes(data, **kwargs):
    return ember.load(io.BytesIO(data), **kwargs)


def torch_cnn(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    model.train()
    model(torch.randn(2, 3, 8, 8))                 # BatchNorm running stats move, num_batches_tracked = 1
    return model.eval()


def torch_mlp(torch):
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


@pytest.mark.parametrize("make", [torch_mlp, torch_cnn], ids=["mlp", "cnn"])
def test_torch_state_dicts_load_bit_exactly(torch, make, tmp_path):
    state = make(torch).state_dict()
    np.savez(tmp_path / "reference.npz", **{k: v.numpy() for k, v in state.items()})
    reference = np.load(tmp_path / "reference.npz")
    torch.save(state, tmp_path / "model.pt")
    loaded = ember.load(tmp_path / "model.pt")
    assert type(loaded) is collections.OrderedDict and list(loaded) == list(state)
    for key, value in state.items():
        assert raw_bytes(loaded[key]) == raw_bytes(value), key
        assert np.array_equal(loaded[key]._array, reference[key])
    assert loaded._metadata == state._metadata
    assert ("1.num_batches_tracked" in loaded) == (make is torch_cnn)
    if make is torch_cnn:
        counter = loaded["1.num_batches_tracked"]
        assert counter.shape == () and counter.dtype is ember.int64 and counter.item() == 1


def ember_model(kind):
    nn = ember.nn
    if kind == "mlp":
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


def model_input(kind, seed):
    shape = (4, 6) if kind == "mlp" else (2, 3, 8, 8)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_torch_checkpoint_drives_the_same_ember_model(torch, kind):
    model = torch_mlp(torch) if kind == "mlp" else torch_cnn(torch)
    state = ember_load_bytes(torch_save_bytes(torch, model.state_dict()))
    ported = ember_model(kind)
    ported.load_state_dict(state)
    ported.eval()
    x = model_input(kind, 0)
    expected = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ported(ember.from_numpy(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_ember_checkpoint_drives_the_same_torch_model(torch, kind):
    trained = ember_model(kind)
    trained.train()
    trained(ember.from_numpy(model_input(kind, 2)))          # moves BatchNorm statistics
    trained.eval()
    buffer = io.BytesIO()
    ember.save(trained.state_dict(), buffer)
    buffer.seek(0)
    model = torch_mlp(torch) if kind == "mlp" else torch_cnn(torch)
    model.load_state_dict(torch.load(buffer, weights_only=True))
    x = model_input(kind, 1)
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(),
                               trained(ember.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype_name", ALL_DTYPES)
def test_torch_tensors_of_every_dtype_load_bit_exactly(torch, dtype_name):
    t = torch_tensor(torch, dtype_name)
    loaded = ember_load_bytes(torch_save_bytes(torch, {"t": t, "m": t[:2].reshape(1, 2)}))
    if dtype_name == "bfloat16" and not HAS_ML_DTYPES:
        widened = t.float()
        assert loaded["t"].dtype is ember.float32 and raw_bytes(loaded["t"]) == raw_bytes(widened)
        return
    assert raw_bytes(loaded["t"]) == raw_bytes(t)
    assert raw_bytes(loaded["m"]) == raw_bytes(t[:2].reshape(1, 2))


def test_torch_views_of_one_storage(torch):
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    views = {"base": base, "t": base.t(), "offset": base[2:], "step": base[:, ::2],
             "expand": base[0:1].expand(5, 8), "same": base, "flat": base.view(-1)[5:17]}
    loaded = ember_load_bytes(torch_save_bytes(torch, views))
    for name, view in views.items():
        assert raw_bytes(loaded[name]) == raw_bytes(view), name
        assert loaded[name].stride() == view.stride() and loaded[name].storage_offset() == view.storage_offset()
        assert shares(loaded[name], loaded["base"]), name
    assert loaded["same"] is loaded["base"]


def test_torch_training_checkpoint_structure(torch):
    model = torch_mlp(torch)
    # torch.optim.Adam's state_dict after one step, built by hand: importing torch.optim costs seconds
    optimizer_state = {
        "state": {i: {"step": torch.tensor(1.0), "exp_avg": torch.randn_like(p), "exp_avg_sq": torch.rand_like(p)}
                  for i, p in enumerate(model.parameters())},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                          "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                          "fused": None, "params": [0, 1, 2, 3]}]}
    frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    checkpoint = {
        "model": model.state_dict(), "optimizer": optimizer_state, "epoch": 3, "blob": b"\x00\xff",
        "huge": 2**70, "name": "modèle", "nan": math.nan, "rng": torch.get_rng_state(),
        "param": torch.nn.Parameter(torch.randn(2, 2)), "frozen": frozen, "leaf": torch.randn(3, requires_grad=True),
        "list": [1, (2, 3)], "empty": torch.zeros(0, 4), "scalar": torch.tensor(2.5),
    }
    loaded = ember_load_bytes(torch_save_bytes(torch, checkpoint))
    assert list(loaded) == list(checkpoint)
    assert loaded["blob"] == b"\x00\xff" and loaded["huge"] == 2**70 and loaded["name"] == "modèle"
    assert math.isnan(loaded["nan"]) and loaded["list"] == [1, (2, 3)] and type(loaded["list"][1]) is tuple
    state = loaded["optimizer"]["state"]
    assert list(state) == list(optimizer_state["state"])
    for index, entry in optimizer_state["state"].items():
        for key, value in entry.items():
            assert raw_bytes(state[index][key]) == raw_bytes(value)
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert raw_bytes(loaded["rng"]) == raw_bytes(checkpoint["rng"])
    assert loaded["param"].requires_grad and not loaded["frozen"].requires_grad
    assert loaded["leaf"].requires_grad and loaded["leaf"].is_leaf
    nn = ember.nn
    assert isinstance(loaded["param"], nn.Parameter) and isinstance(loaded["frozen"], nn.Parameter)
    assert loaded["empty"].shape == (0, 4) and loaded["scalar"].shape == ()


def test_torch_legacy_format(torch):
    base = torch.arange(12.0).reshape(3, 4)
    data = torch_save_bytes(torch, {"b": base, "row": base[1], "s": torch.ones(2, dtype=torch.int16)},
                            _use_new_zipfile_serialization=False)
    loaded = ember_load_bytes(data)
    assert raw_bytes(loaded["row"]) == raw_bytes(base[1]) and shares(loaded["b"], loaded["row"])
    assert raw_bytes(loaded["s"]) == raw_bytes(torch.ones(2, dtype=torch.int16))


def test_torch_big_endian_checkpoint(torch):
    tensors = {name: torch_tensor(torch, name) for name in ALL_DTYPES}
    data = torch_save_bytes(torch, tensors)
    archive = zipfile.ZipFile(io.BytesIO(data))
    replace = {"byteorder": b"big"}
    for key, (name, t) in enumerate(tensors.items()):     # torch numbers storages in pickling order
        raw = np.frombuffer(archive.read(f"archive/data/{key}"), np.uint8).copy()
        itemsize = t.element_size() // (2 if t.is_complex() else 1)
        if itemsize > 1:
            raw.view(f"u{itemsize}").byteswap(inplace=True)
        replace[f"data/{key}"] = raw.tobytes()
    big = rewrite_zip(data, replace)
    from_torch = torch.load(io.BytesIO(big), weights_only=True)   # the rewrite is a valid big-endian file
    loaded = ember_load_bytes(big)
    for name, t in tensors.items():
        assert raw_bytes(from_torch[name]) == raw_bytes(t)
        if name == "bfloat16" and not HAS_ML_DTYPES:
            continue
        assert raw_bytes(loaded[name]) == raw_bytes(t), name


def test_torch_file_variants(torch, tmp_path):
    x = torch.arange(6.0).reshape(2, 3)
    data = torch_save_bytes(torch, {"x": x})
    no_byteorder = rewrite_zip(data, drop=("byteorder",))
    assert raw_bytes(ember_load_bytes(no_byteorder)["x"]) == raw_bytes(x)
    cuda = rewrite_zip(data, {"data.pkl": zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl").replace(
        b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")})
    with pytest.warns(UserWarning, match="cuda:0"):
        assert raw_bytes(ember_load_bytes(cuda)["x"]) == raw_bytes(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert raw_bytes(ember_load_bytes(cuda, map_location="cpu")["x"]) == raw_bytes(x)
        assert raw_bytes(ember_load_bytes(cuda, map_location={"cuda:0": "cpu"})["x"]) == raw_bytes(x)
    torch.save({"x": x}, tmp_path / "stem.pt")
    assert zip_names((tmp_path / "stem.pt").read_bytes())[0].startswith("stem/")
    assert raw_bytes(ember.load(tmp_path / "stem.pt")["x"]) == raw_bytes(x)
    torch.serialization.set_crc32_options(False)
    try:
        no_crc = torch_save_bytes(torch, {"x": x})
    finally:
        torch.serialization.set_crc32_options(True)
    assert all(i.CRC == 0 for i in zipfile.ZipFile(io.BytesIO(no_crc)).infolist())
    assert raw_bytes(ember_load_bytes(no_crc)["x"]) == raw_bytes(x)


@pytest.mark.skipif(not HAS_ML_DTYPES, reason="writes the bfloat16 files with ml_dtypes first")
def test_bfloat16_widens_exactly_without_ml_dtypes(monkeypatch, tmp_path):
    from ember.utils import safetensors
    t = ember_tensor("bfloat16")
    expected = t._array.astype(np.float32)
    files = []
    for legacy in (False, True):
        buffer = io.BytesIO()
        ember.save({"t": t, "v": t[2:]}, buffer, _use_new_zipfile_serialization=not legacy)
        files.append(buffer.getvalue())
    safetensors.save_file({"t": t}, tmp_path / "t.safetensors")
    monkeypatch.setattr(ember.bfloat16, "numpy", None)          # as if ml_dtypes were missing
    for data in files:
        loaded = ember.load(io.BytesIO(data))
        assert loaded["t"].dtype is ember.float32 and shares(loaded["t"], loaded["v"])
        assert loaded["t"]._array.tobytes() == expected.tobytes()
    loaded = safetensors.load_file(tmp_path / "t.safetensors")["t"]
    assert loaded.dtype is ember.float32 and loaded._array.tobytes() == expected.tobytes()


def test_torch_conjugate_bit_is_applied(torch):
    z = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex64).conj()
    loaded = ember_load_bytes(torch_save_bytes(torch, z))
    assert raw_bytes(loaded) == raw_bytes(z.resolve_conj())


# ------------------------------------------------------------------------------------------------
# oracle: files written by ember, read by torch.load(weights_only=True) (FID-8)
# ------------------------------------------------------------------------------------------------

def torch_load_ember(torch, obj, **save_kwargs):
    buffer = io.BytesIO()
    ember.save(obj, buffer, **save_kwargs)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("dtype_name", ALL_DTYPES)
def test_ember_tensors_of_every_dtype_load_in_torch(torch, dtype_name):
    t = ember_tensor(dtype_name)
    loaded = torch_load_ember(torch, {"t": t})
    assert raw_bytes(loaded["t"]) == raw_bytes(t)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_ember_views_load_in_torch_with_sharing(torch, legacy):
    base = ember.arange(48, dtype=ember.float32).reshape(6, 8)
    views = {"base": base, "t": base.t(), "offset": base[2:], "step": base[:, ::2],
             "expand": base[0:1].expand(5, 8), "flat": base.view(-1)[5:17]}
    loaded = torch_load_ember(torch, views, _use_new_zipfile_serialization=not legacy)
    pointer = loaded["base"].untyped_storage().data_ptr()
    for name, view in views.items():
        assert raw_bytes(loaded[name]) == raw_bytes(view), name
        assert loaded[name].stride() == view.stride() and loaded[name].storage_offset() == view.storage_offset()
        assert loaded[name].untyped_storage().data_ptr() == pointer, name


def test_ember_checkpoint_structure_in_torch(torch):
    nn = ember.nn
    od = collections.OrderedDict(w=ember.ones(2))
    od._metadata = collections.OrderedDict({"": {"version": 1}})
    obj = {"param": nn.Parameter(ember.ones(2)), "frozen": nn.Parameter(ember.ones(1), requires_grad=False),
           "leaf": ember.zeros(2, requires_grad=True), "od": od, "tuple": (1, "a"), "list": [b"x", 2**70],
           "set": {1}, "complex": 1j, "size": ember.Size([1, 2]), "dtype": ember.bfloat16,
           "device": ember.device("cpu"), "bytearray": bytearray(b"q"), "empty_bytes": b"", "nan": math.nan}
    loaded = torch_load_ember(torch, obj)
    assert type(loaded["param"]) is torch.nn.Parameter and loaded["param"].requires_grad
    assert type(loaded["frozen"]) is torch.nn.Parameter and not loaded["frozen"].requires_grad
    assert loaded["leaf"].requires_grad and loaded["leaf"].is_leaf
    assert type(loaded["od"]) is collections.OrderedDict and loaded["od"]._metadata == od._metadata
    assert loaded["tuple"] == (1, "a") and loaded["list"] == [b"x", 2**70] and loaded["set"] == {1}
    assert loaded["complex"] == 1j and loaded["size"] == torch.Size([1, 2]) and loaded["dtype"] is torch.bfloat16
    assert loaded["device"] == torch.device("cpu") and loaded["bytearray"] == bytearray(b"q")
    assert loaded["empty_bytes"] == b"" and math.isnan(loaded["nan"])


def test_ember_zip64_and_no_crc_files_load_in_torch(torch, monkeypatch):
    t = ember.arange(10, dtype=ember.int64)
    monkeypatch.setattr(serialization, "_ZIP64_LIMIT", 16)
    assert raw_bytes(torch_load_ember(torch, t)) == raw_bytes(t)
    monkeypatch.undo()
    serialization.set_crc32_options(False)
    try:
        assert raw_bytes(torch_load_ember(torch, t)) == raw_bytes(t)
    finally:
        serialization.set_crc32_options(True)


# ------------------------------------------------------------------------------------------------
# durability (DUR-1..4)
# ------------------------------------------------------------------------------------------------

def temporaries(directory):
    return [name for name in os.listdir(directory) if serialization._TMP_MARK in name]


def test_save_is_write_temp_fsync_replace_fsync_dir(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"old")
    calls, real_fsync, real_replace, real_open = [], os.fsync, os.replace, os.open

    def fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    def os_open(file, flags, *args, **kwargs):
        if os.fspath(file) == str(path) and flags & (os.O_WRONLY | os.O_RDWR):
            raise AssertionError("the target was opened for writing")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "open", os_open)
    ember.save({"x": ember.ones(3)}, path)
    monkeypatch.undo()
    assert [c[0] for c in calls] == ["fsync", "replace", "fsync"]
    temp = calls[1][1]
    assert os.path.dirname(temp) == str(tmp_path) and os.path.basename(temp).startswith(".ckpt.pt.ember-tmp.")
    assert calls[1][2] == str(path)
    if os.path.exists("/proc/self/fd"):
        assert calls[0][1] == temp and calls[2][1] == str(tmp_path)
    assert temporaries(tmp_path) == []
    assert raw_bytes(ember.load(path)["x"]) == raw_bytes(ember.ones(3))


def test_failed_serialization_leaves_the_old_file(tmp_path):
    class Exploding:
        def __reduce_ex__(self, protocol):
            raise RuntimeError("boom")

    path = tmp_path / "ckpt.pt"
    ember.save({"x": ember.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        ember.save({"x": ember.zeros(2), "bad": Exploding()}, path)
    assert path.read_bytes() == before and temporaries(tmp_path) == []


def test_failed_write_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    ember.save({"x": ember.ones(2)}, path)
    before = path.read_bytes()

    def write_fails(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "_write_zip", write_fails)
    with pytest.raises(OSError, match="No space"):
        ember.save({"x": ember.zeros(2)}, path)
    assert path.read_bytes() == before and temporaries(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="needs fork and RLIMIT_FSIZE")
def test_disk_full_via_rlimit_fsize_keeps_the_old_file(tmp_path):
    import resource
    path = tmp_path / "ckpt.pt"
    ember.save({"x": ember.ones(10)}, path)
    before = path.read_bytes()
    big = {"x": ember.zeros(1 << 20)}             # 4 MiB: over the limit below
    pid = os.fork()
    if pid == 0:                                  # child: limit file sizes, try to save
        code = 1
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
            try:
                ember.save(big, path)
            except OSError as error:
                code = 0 if error.errno == 27 else 2     # EFBIG
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert path.read_bytes() == before and temporaries(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_mid_save_never_corrupts_the_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    versions = [{f"w{i}": ember.full((1 << 18,), float(v)) for i in range(4)} for v in (1, 2)]   # 4 MiB each
    ember.save(versions[0], path)
    start = time.perf_counter()
    ember.save(versions[1], path)
    save_time = time.perf_counter() - start
    rng, killed_mid_write = random.Random(0), 0
    for _ in range(10):
        pid = os.fork()
        if pid == 0:
            try:
                for i in range(10**6):            # save the two versions in turn until killed
                    ember.save(versions[i % 2], path)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0, 3 * save_time))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        loaded = ember.load(path)
        values = {float(t._array[0]) for t in loaded.values()} | {float(t._array[-1]) for t in loaded.values()}
        assert values in ({1.0}, {2.0}), values   # one whole version, never a mix
        left = temporaries(tmp_path)              # killed mid-write: recognisable, ignored by load
        assert all(name.startswith(".ckpt.pt.ember-tmp.") for name in left)
        killed_mid_write += bool(left)            # (the next child's save removes them)
    assert killed_mid_write
    ember.save(versions[0], path)                 # cleans the temporaries of the killed children
    assert temporaries(tmp_path) == []


def test_stale_temporaries_are_cleaned_only_for_dead_processes(tmp_path):
    path = tmp_path / "ckpt.pt"
    dead = tmp_path / ".ckpt.pt.ember-tmp.999999999.abcd"
    mine = tmp_path / f".ckpt.pt.ember-tmp.{os.getpid()}.abcd"
    other = tmp_path / ".other.pt.ember-tmp.999999999.abcd"
    for p in (dead, mine, other):
        p.write_bytes(b"partial")
    ember.save([1], path)
    assert not dead.exists() and mine.exists() and other.exists()
    assert ember.load(path) == [1]


def test_save_keeps_permissions_and_follows_symlinks(tmp_path):
    real = tmp_path / "real.pt"
    ember.save([1], real)
    os.chmod(real, 0o600)
    link = tmp_path / "link.pt"
    link.symlink_to(real)
    ember.save([2], link)
    assert link.is_symlink() and ember.load(real) == [2]
    assert (real.stat().st_mode & 0o777) == 0o600


def test_corruption_is_detected_and_names_the_record(tmp_path):
    path = tmp_path / "c.pt"
    ember.save({"x": ember.arange(64, dtype=ember.float32)}, path)
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:-1])
    with pytest.raises(CheckpointError, match="zip"):
        ember.load(tmp_path / "cut.pt")
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("c/data/0")
    flipped = bytearray(data)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    flipped[info.header_offset + 30 + name_length + extra_length + 17] ^= 0x10
    (tmp_path / "flip.pt").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=r"c/data/0.*CRC-32"):
        ember.load(tmp_path / "flip.pt")
