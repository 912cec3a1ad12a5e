"""safetensors files: save_file/load_file (and save/load on bytes) with the reference validation rules.

Format: u64 little-endian header length N, N bytes of UTF-8 JSON, then the tensors' bytes
(little-endian, C order). Reading validates the whole header before any tensor memory is
allocated: size limit, UTF-8, strict JSON (no duplicate keys, no NaN), known dtypes, non-negative
int shapes, byte counts that match, offsets that tile the buffer exactly from 0 to the end of the
file (no gaps, overlaps or trailing bytes). Ember is stricter than the reference reader in two
places: duplicate keys and a header not starting with '{' are refused.

Without ml_dtypes, BF16 tensors load widened to float32 (exact values).
"""
import json
import os
import struct
import sys

import numpy as np

from .._weights_only_unpickler import CheckpointError

__all__ = ["save_file", "load_file", "save", "load", "safe_open", "SafetensorError"]

MAX_HEADER_SIZE = 100_000_000
# safetensors dtype code -> ember dtype name
_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64",
           "F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64", "C64": "complex64"}
_CODES = {name: code for code, name in _DTYPES.items()}
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "F32": 4, "F64": 8,
             "C64": 8, "U16": 2, "U32": 4, "U64": 8, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E4M3FNUZ": 1,
             "F8_E5M2FNUZ": 1}


class SafetensorError(CheckpointError, ValueError):
    """A safetensors file or header is invalid: a CheckpointError and a ValueError."""


def _fail(message):
    raise SafetensorError(message)


# --- writing -----------------------------------------------------------------------------------

def save(tensors, metadata=None):
    """The safetensors bytes of a flat {name: Tensor} dict."""
    header, arrays = _prepare(tensors, metadata)
    return header + b"".join(memoryview(a.view(np.uint8)).tobytes() for a in arrays)


def save_file(tensors, filename, metadata=None):
    """Write a flat {name: Tensor} dict to `filename` (atomically, like ember.save)."""
    from ..serialization import _atomic_write
    header, arrays = _prepare(tensors, metadata)

    def write(fh, folder):
        fh.write(header)
        for array in arrays:
            fh.write(memoryview(array.view(np.uint8)).cast("B"))

    _atomic_write(filename, write)


def _prepare(tensors, metadata):
    from .._tensor import Tensor
    if not isinstance(tensors, dict):
        raise TypeError(f"save_file: expected a dict of tensors, got {type(tensors).__name__}")
    if metadata is not None and (not isinstance(metadata, dict) or
                                 not all(type(k) is str and type(v) is str for k, v in metadata.items())):
        raise TypeError("save_file: metadata must be a dict of str to str")
    entries = []
    for name, tensor in tensors.items():
        if type(name) is not str or name == "__metadata__":
            raise TypeError(f"save_file: tensor names must be str (not '__metadata__'), got {name!r}")
        if not isinstance(tensor, Tensor):
            raise TypeError(f"save_file: {name!r} is a {type(tensor).__name__}, not a Tensor")
        code = _CODES.get(tensor.dtype.name)
        if code is None:
            raise TypeError(f"save_file: {name!r} has dtype {tensor.dtype}, which safetensors cannot store")
        array = tensor._array if tensor.device.type == "cpu" else tensor._backend().to_numpy(tensor._array)
        array = np.ascontiguousarray(array).reshape(-1)
        if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and sys.byteorder == "big"):
            array = array.astype(array.dtype.newbyteorder("<"))
        entries.append((name, code, list(tensor.shape), array))
    # Largest items first, then by name: every tensor starts aligned to its item size.
    entries.sort(key=lambda e: (-_ITEMSIZE[e[1]], e[0]))
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, code, shape, array in entries:
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)               # pad with spaces: the buffer starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text, [e[3] for e in entries]


# --- reading -----------------------------------------------------------------------------------

def load(data, device="cpu"):
    """Tensors from safetensors bytes."""
    view = memoryview(data).cast("B")
    header, start = _parse_header(view[:8].tobytes(), len(view), lambda n: view[8:8 + n].tobytes())
    return _build(header, lambda begin, end: np.frombuffer(view[start + begin:start + end], np.uint8).copy(),
                  device)


def load_file(filename, device="cpu"):
    """Tensors from a safetensors file, validated from the header before anything is allocated."""
    with open(filename, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        header, start = _parse_header(fh.read(8), size, fh.read)

        def read(begin, end):
            array = np.empty(end - begin, np.uint8)
            fh.seek(start + begin)
            if end > begin and fh.readinto(memoryview(array)) != end - begin:
                _fail(f"{filename}: file ended while reading bytes {begin}..{end} of the buffer")
            return array

        return _build(header, read, device)


class safe_open:
    """Lazy access to one file's tensors: keys(), metadata(), get_tensor(name); a context manager.

    framework is accepted for compatibility ("pt", "np", ...); tensors are always ember Tensors.
    """

    def __init__(self, filename, framework="pt", device="cpu"):
        self._file = open(filename, "rb")
        try:
            size = os.fstat(self._file.fileno()).st_size
            self._header, self._start = _parse_header(self._file.read(8), size, self._file.read)
        except BaseException:
            self._file.close()
            raise
        self._device, self._name = device, filename

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()

    def keys(self):
        return sorted(k for k in self._header if k != "__metadata__")

    def metadata(self):
        return self._header.get("__metadata__")

    def get_tensor(self, name):
        if name == "__metadata__" or name not in self._header:
            raise SafetensorError(f"File does not contain tensor {name}")
        return _build({name: self._header[name]}, self._read, self._device)[name]

    def _read(self, begin, end):
        array = np.empty(end - begin, np.uint8)
        self._file.seek(self._start + begin)
        if end > begin and self._file.readinto(memoryview(array)) != end - begin:
            _fail(f"{self._name}: file ended while reading bytes {begin}..{end} of the buffer")
        return array


def _parse_header(first8, file_size, read):
    if file_size < 8 or len(first8) < 8:
        _fail(f"HeaderTooSmall: the file has {file_size} bytes; a safetensors file starts with an 8-byte length")
    n = struct.unpack("<Q", first8)[0]
    if n > MAX_HEADER_SIZE:
        _fail(f"HeaderTooLarge: the header declares {n} bytes (at most {MAX_HEADER_SIZE})")
    if 8 + n > file_size:
        _fail(f"InvalidHeaderLength: the header declares {n} bytes but the file has only {file_size - 8} after "
              "the length")
    raw = read(n)
    if len(raw) != n:
        _fail(f"InvalidHeaderLength: could read only {len(raw)} of the {n} header bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        _fail(f"InvalidHeader: the header is not valid UTF-8 ({error})")
    if not text.startswith("{"):
        _fail("InvalidHeader: the header must start with '{'")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except SafetensorError:
        raise
    except (ValueError, RecursionError) as error:
        _fail(f"InvalidHeaderDeserialization: the header is not valid JSON ({error})"[:300])
    if not isinstance(header, dict):
        _fail("InvalidHeaderDeserialization: the header must be a JSON object")
    _validate(header, file_size - 8 - n)
    return header, 8 + n


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            _fail(f"InvalidHeaderDeserialization: duplicate key {key!r} in the header"[:200])
        result[key] = value
    return result


def _no_constants(name):
    _fail(f"InvalidHeaderDeserialization: {name} is not valid JSON")


def _validate(header, buffer_size):
    metadata = header.get("__metadata__")
    if metadata is not None and (not isinstance(metadata, dict) or
                                 not all(isinstance(v, str) for v in metadata.values())):
        _fail("InvalidHeaderDeserialization: __metadata__ must map strings to strings")
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            _fail(f"InvalidHeaderDeserialization: tensor {name!r} must have exactly dtype, shape and data_offsets"
                  [:300])
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(code, str) or code not in _ITEMSIZE:
            _fail(f"InvalidHeaderDeserialization: tensor {name!r} has unknown dtype {code!r}"[:300])
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape) or len(shape) > 64:
            _fail(f"InvalidHeaderDeserialization: tensor {name!r} has an invalid shape {shape!r}"[:300])
        if (not isinstance(offsets, list) or len(offsets) != 2 or
                not all(type(o) is int and 0 <= o for o in offsets)):
            _fail(f"InvalidHeaderDeserialization: tensor {name!r} has invalid data_offsets {offsets!r}"[:300])
        begin, end = offsets
        if end < begin:
            _fail(f"InvalidOffset: tensor {name!r} ends ({end}) before it begins ({begin})")
        numel = 1
        for d in shape:                           # exact Python ints: at most 64 dims of 64 bits
            numel *= d
        if any(d >= 1 << 64 for d in shape) or numel * _ITEMSIZE[code] >= 1 << 64:
            _fail(f"ValidationOverflow: tensor {name!r} of shape {shape} overflows 64-bit byte counts"[:300])
        if end - begin != numel * _ITEMSIZE[code]:
            _fail(f"TensorInvalidInfo: tensor {name!r} of shape {shape} and dtype {code} needs "
                  f"{numel * _ITEMSIZE[code]} bytes, but data_offsets cover {end - begin}")
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            _fail(f"InvalidOffset: tensor {name!r} starts at {begin}, expected {position} (offsets must tile "
                  "the buffer with no gaps or overlaps)")
        position = end
    if position != buffer_size:
        _fail(f"MetadataIncompleteBuffer: the tensors cover {position} bytes but the buffer has {buffer_size}")


def _build(header, read, device):
    from .. import _dtype
    from .._tensor import wrap
    result = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        code = info["dtype"]
        if code not in _DTYPES:
            _fail(f"tensor {name!r} has dtype {code}, which ember does not support")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        code, shape = info["dtype"], tuple(info["shape"])
        raw = read(*info["data_offsets"])
        dtype = _dtype._BY_NAME[_DTYPES[code]]
        if sys.byteorder == "big" and _ITEMSIZE[code] > 1:
            raw.view(f"u{_ITEMSIZE[code] // (2 if code == 'C64' else 1)}").byteswap(inplace=True)
        if code == "BOOL":
            np.not_equal(raw, 0, out=raw.view(np.bool_))
        if dtype.numpy is None:                   # bfloat16 without ml_dtypes: exact float32 widening
            array = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = raw.view(dtype.numpy)
        tensor = wrap(array.reshape(shape))
        result[name] = tensor if str(device) == "cpu" else tensor.to(device)
    return result
