"""Hostile and corrupt checkpoints: ember.load refuses each with CheckpointError and no side effect.

Requirements covered: SEC-1, SEC-3, SEC-5, SEC-8, SEC-9, RES-1, RES-6 (docs/RELIABILITY.md A and C).
Every payload is written by the test itself; payloads that would run a command target a marker
file whose absence is asserted.
"""
import argparse
import ast
import collections
import io
import os
import pathlib
import pickle
import resource
import struct
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ember
from ember import serialization
from ember.serialization import CheckpointError

# ------------------------------------------------------------------------------------------------
# a tiny pickle assembler and checkpoint builders
# ------------------------------------------------------------------------------------------------

MARK, TUPLE, REDUCE, BUILD, NEWOBJ, BINPERSID = b"(", b"t", b"R", b"b", b"\x81", b"Q"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, SETITEM, SETITEMS, APPEND = b"}", b"]", b")", b"s", b"u", b"a"
NONE, TRUE, FALSE, STOP = b"N", b"\x88", b"\x89", b"."


def glob(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def text(value):
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def integer(value):
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if -(1 << 31) <= value < (1 << 31):
        return b"J" + struct.pack("<i", value)
    data = value.to_bytes((value.bit_length() >> 3) + 1, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def tuple_of(*items):
    return MARK + b"".join(items) + TUPLE


def ints(values):
    return tuple_of(*(integer(v) for v in values))


def storage(key="0", numel=6, storage_type="FloatStorage", location="cpu", legacy=False):
    extra = NONE if legacy else b""
    return tuple_of(text("storage"), glob("torch", storage_type), text(key), text(location), integer(numel),
                    extra) + BINPERSID


def tensor(pid=None, offset=0, size=(2, 3), stride=(3, 1), requires_grad=False):
    pid = storage() if pid is None else pid
    offset = offset if isinstance(offset, bytes) else integer(offset)
    return (glob("torch._utils", "_rebuild_tensor_v2") + MARK + pid + offset + ints(size) + ints(stride)
            + (TRUE if requires_grad else FALSE) + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE
            + TUPLE + REDUCE)


def pkl(*body):
    return b"\x80\x02" + b"".join(body) + STOP


def dict_of(**items):
    return EMPTY_DICT + MARK + b"".join(text(k) + v for k, v in items.items()) + SETITEMS


FLOATS6 = np.arange(6, dtype=np.float32).tobytes()


def checkpoint(data_pkl, records=None, prefix="archive", version=b"3\n", byteorder=b"little"):
    """A zip checkpoint with the given data.pkl (default storage: data/0 holding six float32s)."""
    records = {"data/0": FLOATS6} if records is None else records
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        if data_pkl is not None:
            archive.writestr(f"{prefix}/data.pkl", data_pkl)
        if byteorder is not None:
            archive.writestr(f"{prefix}/byteorder", byteorder)
        for name, content in records.items():
            archive.writestr(f"{prefix}/{name}", content)
        if version is not None:
            archive.writestr(f"{prefix}/version", version)
    return buffer.getvalue()


def legacy(obj_pkl, keys=("0",), storages=((6, FLOATS6),), magic=serialization.MAGIC_NUMBER, protocol=1001):
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    parts = [pickle.dumps(magic, 2), pickle.dumps(protocol, 2), pickle.dumps(sys_info, 2), obj_pkl,
             pickle.dumps(list(keys), 2)]
    for count, data in storages:
        parts += [struct.pack("<q", count), data]
    return b"".join(parts)


def load_bytes(data, **kwargs):
    return ember.load(io.BytesIO(data), **kwargs)


def refuse(data, match, **kwargs):
    with pytest.raises(CheckpointError, match=match) as info:
        load_bytes(data, **kwargs)
    assert isinstance(info.value, RuntimeError)
    return str(info.value)


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a payload ran"


def test_the_assembler_builds_loadable_checkpoints():
    loaded = load_bytes(checkpoint(pkl(dict_of(w=tensor()))))
    assert loaded["w"]._array.tolist() == [[0, 1, 2], [3, 4, 5]]
    loaded = load_bytes(legacy(pkl(dict_of(w=tensor(storage(legacy=True))))))
    assert loaded["w"]._array.tolist() == [[0, 1, 2], [3, 4, 5]]


# ------------------------------------------------------------------------------------------------
# SEC-1 / SEC-3: code execution attempts
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module,name", [("posix", "system"), ("os", "system"), ("nt", "system"),
                                         ("subprocess", "call"), ("builtins", "eval"), ("__builtin__", "exec"),
                                         ("os.path", "join"), ("sys", "exit")])
def test_global_that_runs_a_command_is_refused(module, name, marker):
    payload = glob(module, name) + tuple_of(text(f"touch {marker}")) + REDUCE
    message = refuse(checkpoint(pkl(dict_of(w=tensor(), evil=payload))), "blocked|unsupported global")
    shown = module.replace("__builtin__", "builtins")
    assert f"{shown}.{name}" in message


class Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_stdlib_pickles_of_a_reduce_payload_are_refused(protocol, marker):
    body = pickle.dumps({"evil": Evil(f"touch {marker}")}, protocol=protocol)
    with pytest.raises(CheckpointError, match=r"posix\.system|os\.system|nt\.system|opcode|protocol"):
        load_bytes(checkpoint(body))


def test_torch_written_payload_is_refused(torch, marker):
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2), "evil": Evil(f"touch {marker}")}, buffer)
    refuse(buffer.getvalue(), r"posix\.system")


@pytest.mark.parametrize("raw", [
    b'(S"touch MARKER"\nios\nsystem\n.',                 # INST
    b'(cos\nsystem\nS"touch MARKER"\no.',                 # OBJ
    b"\x80\x02\x82\x01.",                                 # EXT1
    b"\x80\x02Pid\n.",                                    # PERSID
    b"\x80\x02" + text("os") + text("system") + b"\x93" + tuple_of(text("touch MARKER")) + REDUCE + STOP,
])
def test_import_capable_opcodes_are_refused(raw, marker):
    raw = raw.replace(b"MARKER", str(marker).encode())
    refuse(checkpoint(raw), "opcode|blocked|unsupported")


@pytest.mark.parametrize("module,name", [("torch", "save"), ("torch", "load"), ("torch.hub", "load"),
                                         ("torch.storage", "_load_from_bytes"), ("torch.hub", "download_url_to_file"),
                                         ("torch._utils", "_rebuild_device_tensor_from_numpy"),
                                         ("torch", "frobnicate"), ("collections", "defaultdict"),
                                         ("numpy", "load"), ("copyreg", "_reconstructor")])
def test_torch_and_other_names_outside_the_table_are_refused(module, name):
    payload = glob(module, name) + tuple_of(text("x")) + REDUCE
    message = refuse(checkpoint(pkl(payload)), "Unsupported global")
    assert f"GLOBAL {module}.{name} was not an allowed global" in message and "add_safe_globals" in message


@pytest.mark.parametrize("payload,match", [
    # allowed names that are not callable, or callables whose arguments would allocate or misbehave
    (glob("torch", "Tensor") + tuple_of(integer(10**12)) + REDUCE, "allow-listed"),
    (glob("torch", "FloatStorage") + tuple_of(integer(10**12)) + REDUCE, "allow-listed"),
    (glob("torch", "float32") + EMPTY_TUPLE + REDUCE, "allow-listed"),
    (glob("builtins", "bytearray") + tuple_of(integer(10**12)) + REDUCE, "allocate"),
    (glob("builtins", "bytes") + tuple_of(integer(10**12)) + REDUCE, "allocate"),
    (glob("_codecs", "encode") + tuple_of(text("x"), text("rot13")) + REDUCE, "latin1"),
    (glob("torch", "Size") + tuple_of(tuple_of(integer(-1))) + REDUCE, ">= 0"),
    (glob("torch", "device") + tuple_of(text("../../etc")) + REDUCE, "torch.device"),
    (glob("torch", "Tensor") + EMPTY_TUPLE + NEWOBJ, "NEWOBJ"),
    (glob("builtins", "set") + EMPTY_TUPLE + NEWOBJ, "NEWOBJ"),
    (glob("torch._tensor", "_rebuild_from_type_v2") + tuple_of(glob("collections", "OrderedDict"),
                                                              glob("torch", "Tensor"), EMPTY_TUPLE, NONE) + REDUCE,
     "refusing to rebuild"),
])
def test_allowed_names_cannot_be_abused(payload, match):
    start = time.perf_counter()
    refuse(checkpoint(pkl(payload)), match)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("payload,match", [
    # write gadgets: put items or attributes into objects that are not plain containers
    (tensor() + text("k") + integer(1) + SETITEM, "only dicts"),
    (tensor() + MARK + integer(1) + integer(2) + SETITEMS, "only dicts"),
    (tensor() + integer(1) + APPEND, "only lists"),
    (glob("torch", "Size") + tuple_of(ints([1])) + REDUCE + integer(2) + APPEND, "only lists"),
    (tensor() + dict_of(_array=NONE) + BUILD, "BUILD"),
    (glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + dict_of(keys=NONE) + BUILD, "keys"),
    (glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + dict_of(__class__=NONE) + BUILD, "__class__"),
    (glob("torch._utils", "_rebuild_parameter_with_state") + tuple_of(tensor(), TRUE, glob(
        "collections", "OrderedDict") + EMPTY_TUPLE + REDUCE, dict_of(_array=NONE)) + REDUCE, "_array"),
    (glob("torch._tensor", "_rebuild_from_type_v2") + tuple_of(
        glob("torch._utils", "_rebuild_tensor_v2"), glob("torch", "Tensor"),
        tensor()[len(glob("torch._utils", "_rebuild_tensor_v2")):-1], dict_of(grad=NONE)) + REDUCE, "grad"),
    (glob("torch._utils", "_rebuild_tensor_v2") + MARK + storage() + integer(0) + ints([2]) + ints([1]) + FALSE
     + dict_of(hook=NONE) + TUPLE + REDUCE, "backward_hooks"),
])
def test_write_gadgets_are_refused(payload, match):
    refuse(checkpoint(pkl(payload)), match)


def test_metadata_bits_must_be_known():
    payload = (glob("torch._utils", "_rebuild_tensor_v2") + MARK + storage() + integer(0) + ints([2]) + ints([1])
               + FALSE + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + dict_of(evil=TRUE)
               + TUPLE + REDUCE)
    refuse(checkpoint(pkl(payload)), "metadata")


LOAD_PATH_FILES = ["ember/serialization.py", "ember/_weights_only_unpickler.py", "ember/_weights_only_globals.py",
                   "ember/utils/safetensors.py", "ember/_load_policy.py"]


def test_load_path_never_uses_a_general_unpickler_or_imports_by_name():
    root = pathlib.Path(ember.__file__).parent.parent
    forbidden_attrs = {("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("pickle", "_Unpickler"),
                       ("importlib", "import_module"), ("builtins", "__import__")}
    for relative in LOAD_PATH_FILES:
        tree = ast.parse((root / relative).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in forbidden_attrs, f"{relative}: {node.value.id}.{node.attr}"
            if isinstance(node, ast.Name):
                assert node.id not in ("__import__", "eval", "exec", "find_class"), f"{relative}: {node.id}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert "importlib" not in names and "dill" not in names, relative


# ------------------------------------------------------------------------------------------------
# SEC-5, SEC-8, SEC-9
# ------------------------------------------------------------------------------------------------

def test_torchscript_archive_is_refused(torch, tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    with pytest.raises(CheckpointError, match="TorchScript archive is not supported"):
        ember.load(path)


def test_torchscript_layout_is_refused_without_torch():
    data = checkpoint(pkl(dict_of()), {"constants.pkl": pkl(NONE), "code/__torch__/m.py": b"import os"})
    refuse(data, "TorchScript archive is not supported")


@pytest.mark.parametrize("key", ["../../../../../../etc/hostname", "/etc/hostname", "..", "a/b", "", "0\n"])
def test_storage_keys_are_record_names_only(key, monkeypatch):
    data = checkpoint(pkl(tensor(storage(key=key))))

    def no_open(*args, **kwargs):
        raise AssertionError(f"a file was opened: {args}")

    monkeypatch.setattr("builtins.open", no_open)
    monkeypatch.setattr(os, "open", no_open)
    monkeypatch.setattr(io, "open", no_open)
    with pytest.raises(CheckpointError, match="invalid storage key"):
        load_bytes(data)


@pytest.mark.parametrize("name", ["archive/../../evil", "/etc/hostname", "other/data.pkl", "archive/./x",
                                  "archive\\..\\x"])
def test_zip_member_names_outside_the_folder_are_refused(name):
    buffer = io.BytesIO(checkpoint(pkl(NONE)))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(name, b"x")
    refuse(buffer.getvalue(), "top-level folder|not inside")


def test_non_tensor_objects_are_refused_unless_allow_listed():
    buffer = io.BytesIO()
    ember.save({"args": argparse.Namespace(lr=0.1, name="run")}, buffer)
    data = buffer.getvalue()
    message = refuse(data, "argparse.Namespace")
    assert "add_safe_globals" in message
    assert load_bytes(data, weights_only=False)["args"].lr == 0.1     # only when the caller says it trusts the file
    with serialization.safe_globals([argparse.Namespace]):
        loaded = load_bytes(data)
    assert loaded["args"] == argparse.Namespace(lr=0.1, name="run")
    refuse(data, "argparse.Namespace")            # the context manager undid the allow-listing
    serialization.add_safe_globals([argparse.Namespace])
    try:
        assert load_bytes(data)["args"].lr == 0.1
        assert argparse.Namespace in serialization.get_safe_globals()
    finally:
        serialization.clear_safe_globals()


@pytest.mark.parametrize("value", [np.float64(1.5), np.arange(3), np.int64(7)])
def test_numpy_objects_are_refused_naming_the_global(value):
    buffer = io.BytesIO()
    ember.save({"v": value}, buffer)
    refuse(buffer.getvalue(), r"Unsupported global: GLOBAL numpy")


def test_torch_written_namespace_and_numpy_are_refused(torch):
    for value, name in ((argparse.Namespace(a=1), "argparse.Namespace"), (np.zeros(2), "numpy")):
        buffer = io.BytesIO()
        torch.save({"v": value, "w": torch.ones(1)}, buffer)
        refuse(buffer.getvalue(), name)


@pytest.mark.parametrize("entry", [os.system, os.execv, (os.system, "posix.system"), (len, "nt.system"),
                                   (argparse.Namespace, "os.system"), (eval, "builtins.eval"), (len, "sys.exit")])
def test_blocked_modules_can_never_be_allow_listed(entry):
    with pytest.raises(ValueError, match="never be allow-listed"):
        serialization.add_safe_globals([entry])
    assert serialization.get_safe_globals() == []


# ------------------------------------------------------------------------------------------------
# RES-1: size claims are checked before allocating
# ------------------------------------------------------------------------------------------------

def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("kind", ["zip", "legacy", "legacy_many"])
def test_huge_storage_claims_are_refused_before_allocating(kind):
    numel = 10**12
    if kind == "zip":
        data = checkpoint(pkl(tensor(storage(numel=numel))), {"data/0": b"\0" * 24})
    elif kind == "legacy":
        data = legacy(pkl(tensor(storage(numel=numel, legacy=True))), storages=[(numel, b"\0" * 24)])
    else:                                         # many storages, each small, together beyond the file
        many = EMPTY_LIST + MARK + b"".join(tensor(storage(key=str(i), numel=10**6, legacy=True), size=(1,),
                                                   stride=(1,)) for i in range(50)) + b"e"
        data = legacy(pkl(many), keys=[str(i) for i in range(50)], storages=[(10**6, b"")] * 50)
    before, start = peak_rss_mb(), time.perf_counter()
    refuse(data, "expected|more than")
    assert time.perf_counter() - start < 1
    assert peak_rss_mb() - before < 256


@pytest.mark.parametrize("offset,size,stride,match", [
    (5, (2,), (1,), "reaches element 6"),
    (0, (2, 3), (3, 2), "reaches element"),
    (0, (7,), (1,), "reaches element"),
    (6, (1,), (1,), "reaches element"),
    (-1, (2,), (1,), r"storage_offset must be an int >= 0"),
    (0, (2,), (-1,), r"stride entry must be an int >= 0"),
    (0, (-2,), (1,), r"size entry must be an int >= 0"),
    (0, (2, 3), (1,), "different lengths"),
    (0, (2**62, 2**62), (0, 0), "too big|size"),
    (0, (2,) * 65, (0,) * 65, "at most 64"),
])
def test_views_outside_their_storage_are_refused(offset, size, stride, match):
    refuse(checkpoint(pkl(tensor(offset=offset, size=size, stride=stride))), match)


@pytest.mark.parametrize("payload,match", [
    (tensor(offset=NONE), "storage_offset"),
    (integer(5) + BINPERSID, "persistent id"),
    (tuple_of(text("storage"), glob("torch", "float32"), text("0"), text("cpu"), integer(6)) + BINPERSID,
     "storage type"),
    (tensor(storage(numel=-1)), "element count"),
    (tensor(storage(location="../x")), "location"),
    (tuple_of(tensor(), tensor(storage(storage_type="IntStorage"))), "referenced as"),
    (tensor(storage(storage_type="LongStorage", numel=3), size=(3,), stride=(1,), requires_grad=True),
     "cannot require grad"),
])
def test_bad_tensor_arguments_are_refused(payload, match):
    refuse(checkpoint(pkl(payload), {"data/0": FLOATS6}), match)


def test_bool_and_float_are_not_ints():
    for bad in (TRUE, b"G" + struct.pack(">d", 1.0)):
        payload = (glob("torch._utils", "_rebuild_tensor_v2") + MARK + storage() + bad + ints([2]) + ints([1])
                   + FALSE + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + TUPLE + REDUCE)
        refuse(checkpoint(pkl(payload)), "storage_offset")


# ------------------------------------------------------------------------------------------------
# RES-6: truncated and corrupt files give CheckpointError with a clear message
# ------------------------------------------------------------------------------------------------

def good_zip():
    buffer = io.BytesIO()
    x = ember.arange(24, dtype=ember.float32).reshape(4, 6)
    ember.save({"x": x, "v": x[1:], "n": [1, "two", (3.0,)], "b": b"\x00\x01"}, buffer)
    return buffer.getvalue()


def good_legacy():
    buffer = io.BytesIO()
    ember.save({"x": ember.arange(6), "y": ember.ones(2, dtype=ember.float16)}, buffer,
               _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def npz_bytes():
    buffer = io.BytesIO()
    np.savez(buffer, x=np.arange(3))
    return buffer.getvalue()


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"hello, world\n" * 10, "not a PyTorch checkpoint"),
    (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "not a PyTorch checkpoint"),
    (b"PK\x03\x04" + bytes(100), "not a valid zip"),
    (b"\x80\x02K\x07.", "magic number"),
    (b"\x80", "truncated"),
    (b"\0" * 257 + b"ustar" + b"\0" * 300, "tar"),
    (npz_bytes(), "top-level folder|missing"),
    (checkpoint(None), "missing record 'archive/data.pkl'"),
    (checkpoint(pkl(tensor()), records={}), "missing record 'archive/data/0'"),
    (checkpoint(pkl(NONE), version=None), "missing record 'archive/version'"),
    (checkpoint(pkl(NONE), version=b"99\n"), "format version '99'"),
    (checkpoint(pkl(NONE), version=b"three"), "format version"),
    (checkpoint(pkl(NONE), version=b"\xff"), "not ASCII"),
    (checkpoint(pkl(NONE), byteorder=b"middle"), "Unknown endianness type: 'middle'"),
    (checkpoint(pkl(tensor()), {"data/0": FLOATS6[:8]}), r"record 'archive/data/0' has 8 bytes, expected 24"),
    (checkpoint(pkl(tensor()), {"data/0": FLOATS6 + b"1234"}), "has 28 bytes, expected 24"),
    (checkpoint(pkl(dict_of(a=tensor()))[:-6]), "truncated"),
    (checkpoint(b"\x80\x02h\x07."), "memo entry 7"),
    (checkpoint(b"\x80\x02."), "empty stack"),
    (checkpoint(b"\x80\x02(K\x01."), "MARK|stack"),
    (checkpoint(b"\x80\x02K\x01K\x02."), "values left"),
    (checkpoint(b"\x80\x02" + TUPLE + STOP), "without a MARK"),
    (checkpoint(b"\x80\x07N."), "protocol 7"),
    (checkpoint(b"\x80\x02\xff."), "unknown opcode"),
    (checkpoint(b"\x80\x02X\xff\xff\xff\x7fabc."), "declares"),
    (checkpoint(b"\x80\x02\x8b\xff\xff\xff\x7f."), "LONG4"),
    (checkpoint(b"\x80\x02X\x02\x00\x00\x00\xff\xfe."), "UTF-8"),
    (checkpoint(b"\x80\x02c" + b"a" * 5000 + b"\nb\n."), "GLOBAL"),
    (checkpoint(b"\x80\x02" + EMPTY_DICT + MARK + EMPTY_LIST + integer(1) + SETITEMS + STOP), "unhashable"),
    (checkpoint(b"\x80\x02" + glob("builtins", "set") + tuple_of(integer(1)) + REDUCE + STOP), "set"),
    (legacy(pkl(tensor(storage(legacy=True))), storages=[(7, FLOATS6)]), "expected 6 got 7"),
    (legacy(pkl(tensor(storage(legacy=True))), storages=[(6, FLOATS6[:10])]), "truncated"),
    (legacy(pkl(tensor(storage(legacy=True))), storages=[]), "missing"),
    (legacy(pkl(tensor(storage(legacy=True))), keys=("0", "1")), "does not match"),
    (legacy(pkl(tensor(storage(legacy=True))), magic=12345), "magic number"),
    (legacy(pkl(tensor(storage(legacy=True))), protocol=999), "protocol version 999"),
    (legacy(pkl(tensor(storage()))), "persistent id"),
    (good_legacy()[:-3], "truncated"),
    (good_legacy()[:50], "truncated"),
])
def test_corrupt_inputs_raise_checkpoint_error_with_the_reason(data, match):
    refuse(data, match)


def test_every_truncation_is_a_checkpoint_error():
    for data in (good_zip(), good_legacy()):
        for cut in range(0, len(data) - 1, 3):
            with pytest.raises(CheckpointError):
                load_bytes(data[:cut])


def test_random_byte_flips_give_checkpoint_error_or_a_valid_load():
    rng = np.random.default_rng(1)
    for data in (good_zip(), good_legacy()):
        for _ in range(300):
            corrupt = bytearray(data)
            for position in rng.integers(0, len(data), rng.integers(1, 4)):
                corrupt[position] ^= int(rng.integers(1, 256))
            try:
                load_bytes(bytes(corrupt))
            except CheckpointError:
                pass


TOKENS = [MARK, TUPLE, REDUCE, BUILD, NEWOBJ, BINPERSID, EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, SETITEM, SETITEMS,
          APPEND, b"e", NONE, TRUE, FALSE, b"\x85", b"\x86", b"\x87", b"0", b"1", b"2", b"\x8f", b"\x90", b"\x91",
          b"\x94", b"\x95" + bytes(8), b"q\x00", b"q\x01", b"h\x00", b"h\x01", b"K\x00", b"K\x02", b"J\xff\xff\xff\xff",
          b"G" + struct.pack(">d", float("nan")), text("storage"), text("0"), text("cpu"), text("latin1"),
          glob("collections", "OrderedDict"), glob("torch._utils", "_rebuild_tensor_v2"),
          glob("torch._utils", "_rebuild_parameter"), glob("torch", "FloatStorage"), glob("torch", "Size"),
          glob("torch", "Tensor"), glob("builtins", "set"), glob("_codecs", "encode"), glob("torch", "device"),
          glob("torch._tensor", "_rebuild_from_type_v2"), glob("collections", "Counter"), storage(),
          ints([2, 3]), ints([3, 1]), tensor(), b"\x8c\x03abc", b"C\x02ab", b"\x93"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_fuzzed_pickles_only_ever_raise_checkpoint_error(tokens):
    try:
        load_bytes(checkpoint(b"\x80\x02" + b"".join(tokens) + STOP))
    except CheckpointError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_legacy_streams_only_ever_raise_checkpoint_error(body):
    try:
        load_bytes(b"\x80\x02" + body)
    except CheckpointError:
        pass


def test_deeply_nested_and_heavily_shared_structures_load():
    # 20 000 levels of nesting through the memo (far past the recursion limit), and a 1000 x 1000 fan-out that costs no copies
    def put(i):
        return b"r" + struct.pack("<I", i)

    def get(i):
        return b"j" + struct.pack("<I", i)

    body = EMPTY_LIST + put(0) + b"0" + b"".join(   # list[i] = [list[i - 1]], nothing left on the stack
        EMPTY_LIST + put(level) + b"0" + get(level) + get(level - 1) + APPEND + b"0" for level in range(1, 20_000))
    deep = load_bytes(checkpoint(b"\x80\x02" + body + get(19_999) + STOP))
    depth = 0
    while deep:
        deep, depth = deep[0], depth + 1
    assert depth == 19_999
    inner = EMPTY_LIST + b"q\x00" + MARK + NONE * 1000 + b"e"
    wide = EMPTY_LIST + MARK + inner + b"h\x00" * 999 + b"e"
    loaded = load_bytes(checkpoint(b"\x80\x02" + wide + STOP))
    assert len(loaded) == 1000 and loaded[5] is loaded[0] and len(loaded[0]) == 1000


def test_overlapping_and_compressed_records_are_refused():
    data = checkpoint(pkl(tensor()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in zipfile.ZipFile(io.BytesIO(data)).namelist():
            archive.writestr(name, zipfile.ZipFile(io.BytesIO(data)).read(name))
    refuse(buffer.getvalue(), "compressed")
    # a second central-directory entry pointing at the bytes of data/0 (a zip "bomb" by reference)
    source = zipfile.ZipFile(io.BytesIO(data))
    info = source.getinfo("archive/data/0")
    eocd = data.rindex(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", data[eocd + 16:eocd + 20])[0]
    entry_start = data.index(b"PK\x01\x02" + data[cd_offset + 4:cd_offset + 4], cd_offset)
    entries, position = [], entry_start
    while data[position:position + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", data[position + 28:position + 34])
        entries.append(data[position:position + 46 + n + m + k])
        position += 46 + n + m + k
    twin = next(e for e in entries if e[46:46 + len(info.filename)] == info.filename.encode())
    twin = twin.replace(b"archive/data/0", b"archive/data/1")
    directory = b"".join(entries) + twin
    count = len(entries) + 1
    forged = (data[:cd_offset] + directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count,
                                                         len(directory), cd_offset, 0))
    refuse(forged, "overlap|local header")


def test_duplicate_records_are_refused():
    buffer = io.BytesIO(checkpoint(pkl(tensor())))
    with pytest.warns(UserWarning):
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr("archive/data/0", FLOATS6)
    refuse(buffer.getvalue(), "duplicate record")


def test_error_messages_name_the_file(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(checkpoint(pkl(tensor()), {"data/0": b"1234"}))
    with pytest.raises(CheckpointError, match=r"broken\.pt.*data/0.*4 bytes, expected 24"):
        ember.load(path)


def test_refusals_leave_no_partial_results_and_no_state():
    data = checkpoint(pkl(dict_of(w=tensor(), evil=glob("posix", "system"))))
    with pytest.raises(CheckpointError):
        load_bytes(data)
    assert serialization.get_safe_globals() == []
    assert load_bytes(checkpoint(pkl(dict_of(w=tensor()))))["w"].shape == (2, 3)


def test_counter_and_ordered_dict_round_trip_through_the_restricted_loader():
    buffer = io.BytesIO()
    ember.save({"c": collections.Counter("aab"), "o": collections.OrderedDict(a=1)}, buffer)
    loaded = load_bytes(buffer.getvalue())
    assert loaded["c"] == collections.Counter("aab") and type(loaded["o"]) is collections.OrderedDict
