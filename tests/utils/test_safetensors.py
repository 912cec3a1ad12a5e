"""ember.utils.safetensors: exact round trips both ways with the reference library, and hostile headers.

Requirements covered: FID-7 and SEC-10 (docs/RELIABILITY.md B and A).
"""
import json
import os
import struct
import time
import tracemalloc

import numpy as np
import pytest

import ember
from ember.utils import safetensors as st
from ember.utils.safetensors import SafetensorError

HAS_ML_DTYPES = ember.bfloat16.numpy is not None


def bits(t):
    array = t._array if isinstance(t, ember.Tensor) else t
    return str(array.dtype), array.shape, array.tobytes()      # tobytes: C order, any strides


def sample_tensors():
    tensors = {
        "f32": ember.from_numpy(np.array([[0.0, -0.0], [np.inf, np.nan]], np.float32)),
        "f16": ember.from_numpy(np.array([1.5, -np.inf, 6e-8], np.float16)),
        "f64": ember.from_numpy(np.array([np.pi], np.float64)),
        "i64": ember.from_numpy(np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max])),
        "i32": ember.tensor([1, -2], dtype=ember.int32), "i16": ember.tensor([3], dtype=ember.int16),
        "i8": ember.tensor([-128, 127], dtype=ember.int8), "u8": ember.tensor([0, 255], dtype=ember.uint8),
        "bool": ember.tensor([True, False, True]), "scalar": ember.tensor(3.25), "empty": ember.zeros(0, 4),
        "c64": ember.from_numpy(np.array([1 - 2j], np.complex64)),
        "strided": ember.arange(12.0).reshape(3, 4).t()[::2],
    }
    if HAS_ML_DTYPES:
        tensors["bf16"] = ember.from_numpy(np.array([0x3FC0, 0x8000, 0x7FC1], np.uint16).view(ember.bfloat16.numpy))
    return tensors


def test_round_trip_every_dtype_with_metadata(tmp_path):
    tensors = sample_tensors()
    path = tmp_path / "m.safetensors"
    st.save_file(tensors, path, metadata={"format": "pt", "ünï": "✓"})
    loaded = st.load_file(path)
    assert set(loaded) == set(tensors)
    for name, t in tensors.items():
        assert bits(loaded[name]) == bits(t), name
    from_bytes = st.load(st.save(tensors))
    assert all(bits(from_bytes[n]) == bits(t) for n, t in tensors.items())
    assert [c for c in os.listdir(tmp_path)] == ["m.safetensors"]       # atomic: no temporary left


def test_ember_files_follow_the_format(tmp_path):
    data = st.save(sample_tensors(), metadata={"k": "v"})
    n = struct.unpack("<Q", data[:8])[0]
    assert n % 8 == 0 and data[8:9] == b"{"
    header = json.loads(data[8:8 + n])
    assert header["__metadata__"] == {"k": "v"}
    spans = sorted(tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__")
    position = 0
    for begin, end in spans:
        assert begin == position
        position = end
    assert position == len(data) - 8 - n


def test_reference_library_reads_ember_files(tmp_path):
    torch = pytest.importorskip("torch")
    reference = pytest.importorskip("safetensors.torch")
    tensors = sample_tensors()
    path = tmp_path / "e.safetensors"
    st.save_file(tensors, path, metadata={"k": "v"})
    loaded = reference.load_file(str(path))
    for name, t in tensors.items():
        expected = t._array
        got = loaded[name]
        if name == "bf16":
            assert got.dtype == torch.bfloat16
            assert got.view(torch.int16).numpy().tobytes() == expected.tobytes()
        else:
            assert got.numpy().tobytes() == expected.tobytes() and tuple(got.shape) == expected.shape, name
    from safetensors import safe_open
    with safe_open(str(path), "pt") as handle:
        assert handle.metadata() == {"k": "v"}
    assert set(reference.load(st.save(tensors))) == set(tensors)


def test_ember_reads_reference_files(tmp_path):
    torch = pytest.importorskip("torch")
    reference = pytest.importorskip("safetensors.torch")
    tensors = {"f32": torch.tensor([[1.0, -0.0], [float("nan"), float("inf")]]),
               "bf16": torch.tensor([1.5, -2.0, 3e38], dtype=torch.bfloat16),
               "f16": torch.tensor([65504.0, 6e-8], dtype=torch.float16), "i64": torch.tensor([2**62, -1]),
               "bool": torch.tensor([True, False]), "scalar": torch.tensor(7.0), "empty": torch.zeros(0, 2),
               "u8": torch.tensor([255], dtype=torch.uint8)}
    path = tmp_path / "r.safetensors"
    reference.save_file(tensors, str(path), metadata={"epoch": "3"})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert raw[8 + n - 1:8 + n] == b" " or n % 8 == 0          # reference pads the header with spaces
    loaded = st.load_file(path)
    for name, t in tensors.items():
        if name == "bf16":
            if HAS_ML_DTYPES:
                assert loaded[name].dtype is ember.bfloat16
                assert loaded[name]._array.tobytes() == t.view(torch.int16).numpy().tobytes()
            else:                                 # documented widening: exact values in float32
                assert loaded[name].dtype is ember.float32
            assert loaded[name]._array.astype(np.float32).tolist() == t.float().tolist()
        else:
            assert loaded[name]._array.tobytes() == t.numpy().tobytes(), name
            assert tuple(loaded[name].shape) == tuple(t.shape)
    assert ember.load(path)["scalar"].item() == 7.0             # ember.load routes .safetensors here


def test_safe_open_reads_lazily(tmp_path):
    path = tmp_path / "lazy.safetensors"
    tensors = sample_tensors()
    st.save_file(tensors, path, metadata={"k": "v"})
    with st.safe_open(path, framework="pt") as handle:
        assert handle.keys() == sorted(tensors) and handle.metadata() == {"k": "v"}
        assert bits(handle.get_tensor("i64")) == bits(tensors["i64"])
        with pytest.raises(SafetensorError):
            handle.get_tensor("missing")


def test_whitespace_padded_header_is_accepted():
    header = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode() + b" " * 13
    data = struct.pack("<Q", len(header)) + header + np.float32(2.5).tobytes()
    assert st.load(data)["a"]._array.tolist() == [2.5]


def test_writer_refuses_bad_arguments(tmp_path):
    with pytest.raises(TypeError):
        st.save({"a": np.zeros(2)})
    with pytest.raises(TypeError):
        st.save({1: ember.ones(1)})
    with pytest.raises(TypeError):
        st.save({"a": ember.ones(1)}, metadata={"k": 1})
    with pytest.raises(TypeError, match="complex128"):
        st.save({"a": ember.zeros(1, dtype=ember.complex128)})
    with pytest.raises(TypeError):
        st.save({"__metadata__": ember.ones(1)})


# ------------------------------------------------------------------------------------------------
# SEC-10: hostile headers
# ------------------------------------------------------------------------------------------------

def build(header, data=b"", length=None, raw=None):
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


EIGHT = bytes(8)

HOSTILE = {
    "length beyond file": (build({}, length=10**6), "InvalidHeaderLength"),
    "length 2**64-1": (build({}, length=2**64 - 1), "HeaderTooLarge"),
    "200 MB declared": (build({}, length=200_000_000), "HeaderTooLarge"),
    "3-byte file": (b"\x01\x00\x00", "HeaderTooSmall"),
    "empty file": (b"", "HeaderTooSmall"),
    "bad JSON": (build(None, raw=b"{'a': 1}"), "InvalidHeaderDeserialization"),
    "truncated JSON": (build(None, raw=b'{"a": {"dtype"'), "InvalidHeaderDeserialization"),
    "not UTF-8": (build(None, raw=b'{"\xff\xfe": 1}'), "InvalidHeader"),
    "not an object": (build([1, 2]), "InvalidHeader"),
    "leading whitespace": (build(None, raw=b' {"a": ' + json.dumps(entry()).encode() + b"}", data=EIGHT),
                           "must start with"),
    "NaN constant": (build(None, raw=b'{"a": NaN}'), "NaN"),
    "huge number": (build(None, raw=b'{"a": ' + b"9" * 5000 + b"}"), "InvalidHeaderDeserialization"),
    "deep nesting": (build(None, raw=b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
                     "InvalidHeaderDeserialization"),
    "offset beyond buffer": (build({"a": entry(offsets=(0, 8))}, data=b"1234"), "MetadataIncompleteBuffer"),
    "offsets overlap": (build({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, data=bytes(12)),
                        "InvalidOffset"),
    "offsets with a gap": (build({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}, data=bytes(20)),
                           "InvalidOffset"),
    "offsets not starting at 0": (build({"a": entry(offsets=(4, 12))}, data=bytes(12)), "InvalidOffset"),
    "reversed offsets": (build({"a": entry(shape=(0,), offsets=(8, 0))}, data=EIGHT), "InvalidOffset"),
    "size mismatch": (build({"a": entry(shape=(3,), offsets=(0, 8))}, data=EIGHT), "TensorInvalidInfo"),
    "overflowing shape": (build({"a": entry(shape=(2**40, 2**40, 2**40), offsets=(0, 8))}, data=EIGHT),
                          "ValidationOverflow"),
    "dimension beyond 64 bits": (build({"a": entry(shape=(2**64, 0), offsets=(0, 0))}), "ValidationOverflow"),
    "negative dim": (build({"a": entry(shape=(-2,), offsets=(0, 8))}, data=EIGHT), "invalid shape"),
    "float dim": (build({"a": entry(shape=(2.0,), offsets=(0, 8))}, data=EIGHT), "invalid shape"),
    "bool dim": (build({"a": entry(shape=(True,), offsets=(0, 4))}, data=bytes(4)), "invalid shape"),
    "unknown dtype": (build({"a": entry(dtype="F128")}, data=EIGHT), "unknown dtype"),
    "dtype ember lacks": (build({"a": entry(dtype="U16", shape=(4,))}, data=EIGHT), "does not support"),
    "duplicate keys": (build(None, raw=b'{"a": ' + json.dumps(entry()).encode() + b', "a": '
                             + json.dumps(entry()).encode() + b"}", data=EIGHT), "duplicate key"),
    "non-string metadata": (build({"__metadata__": {"k": 1}}), "__metadata__"),
    "metadata not a dict": (build({"__metadata__": ["k"]}), "__metadata__"),
    "trailing bytes": (build({"a": entry()}, data=EIGHT + b"polyglot"), "MetadataIncompleteBuffer"),
    "truncated data": (build({"a": entry(shape=(4,), offsets=(0, 16))}, data=EIGHT), "MetadataIncompleteBuffer"),
    "string offsets": (build({"a": entry(offsets=("0", "8"))}, data=EIGHT), "data_offsets"),
    "three offsets": (build({"a": entry(offsets=(0, 8, 8))}, data=EIGHT), "data_offsets"),
    "negative offsets": (build({"a": entry(offsets=(-8, 0))}, data=EIGHT), "data_offsets"),
    "extra field": (build({"a": dict(entry(), extra=1)}, data=EIGHT), "exactly"),
    "missing field": (build({"a": {"dtype": "F32", "shape": [2]}}, data=EIGHT), "exactly"),
    "tensor not an object": (build({"a": [1]}, data=EIGHT), "exactly"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=str)
def test_hostile_files_are_refused(case, tmp_path):
    data, match = HOSTILE[case]
    path = tmp_path / "h.safetensors"
    path.write_bytes(data)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SafetensorError, match=match) as info:
            st.load_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2
    assert peak < 64 * 2**20, f"{case}: {peak} bytes allocated while refusing"
    assert isinstance(info.value, ValueError) and isinstance(info.value, ember.serialization.CheckpointError)
    with pytest.raises(SafetensorError, match=match):
        st.load(data)


def test_the_reference_agrees_that_the_structural_cases_are_invalid():
    reference = pytest.importorskip("safetensors.numpy")
    structural = ["length beyond file", "length 2**64-1", "200 MB declared", "3-byte file", "bad JSON",
                  "not UTF-8", "offset beyond buffer", "offsets overlap", "offsets with a gap", "size mismatch",
                  "overflowing shape", "negative dim", "unknown dtype", "trailing bytes", "truncated data",
                  "string offsets", "non-string metadata"]
    for case in structural:
        with pytest.raises(Exception):
            reference.load(HOSTILE[case][0])


def test_zero_sized_tensors_may_share_an_offset():
    header = {"a": entry(shape=(0,), offsets=(0, 0)), "b": entry(shape=(2, 0), offsets=(0, 0)),
              "c": entry(shape=(2,), offsets=(0, 8)), "d": entry(shape=(2**40, 0), offsets=(8, 8))}
    loaded = st.load(build(header, data=EIGHT))
    assert loaded["b"].shape == (2, 0) and loaded["c"].shape == (2,) and loaded["d"].shape == (2**40, 0)
