"""save/load in PyTorch's checkpoint formats: files move both ways between ember and PyTorch.

Note [checkpoint security]
    load() with weights_only=True (the default) never executes code from a file: the pickle inside a
    checkpoint is run by ember/_weights_only_unpickler.py, an opcode interpreter whose GLOBALs resolve
    through an exact-name table of ember's own validating constructors (nothing is imported). Only an
    explicit weights_only=False (or a pickle_module with weights_only unset, or the environment variable
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD, as in torch.load) unpickles everything with
    ember/_trusted_unpickler.py, for files the user trusts. Every
    size is checked before memory is allocated: a storage's byte count against its record (zip) or the
    bytes left in the file (legacy), a tensor's extent against its storage, zip records against the
    file and each other (no overlap, so the sum of allocations never exceeds the file size). Any
    problem raises CheckpointError naming the record. CRC-32s are verified (0 means "not computed",
    as torch.serialization.set_crc32_options(False) writes).

Note [atomic save]
    save() to a path serialises the object in memory first (an exception there touches no file),
    writes a temporary `.<name>.ember-tmp.<pid>.<random>` in the target's directory, flushes and
    fsyncs it, os.replace()s it over the target and fsyncs the directory. On any error the temporary
    is removed and the old file is untouched. Temporaries of dead processes (a SIGKILL mid-save) are
    removed by the next save to the same path; load() never looks at them.

Deviations from PyTorch, all documented here:
  * weights_only=False never imports torch: torch.* globals resolve to ember's counterparts (a name ember
    lacks raises CheckpointError), so torch.save(model) loads as ember modules.
  * safe_globals([...]) removes on exit only the globals it added (PyTorch also removes ones that were
    allowed before the block). add_safe_globals checks its entries at once (PyTorch at the next load),
    and allows an ember class or function under its own name and its torch name (the one files use).
  * A legacy-format checkpoint whose storages go to a non-CPU device runs its object pickle twice (the
    data follows the pickle); with weights_only=False that runs the file's constructors twice.
  * A refusal's text is torch.load's, naming ember.load and ember.serialization.add_safe_globals; the
    GLOBAL it names keeps its `builtins.` prefix.
  * save() always writes pickle protocol 2 (PyTorch's default; its weights-only loader refuses others).
  * Storages whose location is a device ember cannot use (cuda:0 on a machine without CuPy/GPU) load
    on the CPU with a warning instead of raising. Sharing is kept on the CPU only.
  * Without ml_dtypes, bfloat16 storages are widened to float32 (exact values).
  * Views are saved over their whole base array, like PyTorch; a view whose strides PyTorch cannot
    express (negative, or not a multiple of the item size) is saved as a contiguous copy.
"""
import contextlib
import errno
import os
import re
import secrets
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np

from ._device import device
from ._load_policy import Unpickling, get_unsafe_globals_in_checkpoint
from ._pickler import _Pickler, _StorageTable
from ._weights_only_globals import (LoadedStorage, StorageType, add_safe_globals, clear_safe_globals,
                                    get_safe_globals, safe_globals)
from ._weights_only_unpickler import CheckpointError, StreamReader, Unpickler

__all__ = ["save", "load", "CheckpointError", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals", "get_unsafe_globals_in_checkpoint", "set_crc32_options", "get_crc32_options",
           "DEFAULT_PROTOCOL"]

DEFAULT_PROTOCOL = 2
MAGIC_NUMBER = 0x1950a86a20f9469cfc6c            # first pickle of a legacy (pre-1.6) checkpoint
PROTOCOL_VERSION = 1001
_FORMAT_VERSION = 3                               # the `version` record torch writes today
_MAX_FORMAT_VERSION = 10                          # newest `version` a reader of this format accepts
_ALIGNMENT = 64
_ZIP64_LIMIT = 0xFFFFFFFF                         # sizes/offsets from here on need zip64 fields
_TMP_MARK = ".ember-tmp."
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_LOCATION = re.compile(r"[a-z_]{1,32}(:[0-9]{1,6})?")
_KNOWN_DEVICE_TYPES = {"cpu", "cuda", "mps", "xpu", "xla", "hpu", "meta", "mtia", "maia", "ipu", "privateuseone"}
_options = {"crc32": True}


def set_crc32_options(compute_crc32):
    """Whether save() computes CRC-32s (when off it writes 0, which readers treat as 'not computed')."""
    _options["crc32"] = bool(compute_crc32)


def get_crc32_options():
    return _options["crc32"]


def _fail(message):
    raise CheckpointError(message)


def _is_path(f):
    return isinstance(f, (str, bytes, os.PathLike))


# ================================================================================================
# save
# ================================================================================================

def save(obj, f, pickle_module=None, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Write `obj` in PyTorch's zip checkpoint format (atomically when `f` is a path).

    pickle_module is ignored and pickle_protocol must be 2-5; the pickle is always written with
    protocol 2 so that torch.load(weights_only=True) reads it. _use_new_zipfile_serialization=False
    writes the legacy format. ember's classes and functions with a PyTorch counterpart are written under
    torch's names, and modules with torch's attributes, so torch.load(weights_only=False) of a whole
    ember model builds torch's modules.
    """
    if type(pickle_protocol) is not int or not 2 <= pickle_protocol <= 5:
        raise ValueError(f"save: pickle_protocol must be between 2 and 5, got {pickle_protocol!r}")
    legacy = not _use_new_zipfile_serialization
    storages = _StorageTable()
    data_pkl = _Pickler(storages, legacy).dump(obj)          # any error here happens before writing

    def write(fh, folder):
        if legacy:
            _write_legacy(fh, data_pkl, storages)
        else:
            _write_zip(fh, folder, data_pkl, storages, not _disable_byteorder_record)

    if _is_path(f):
        _atomic_write(f, write)
    else:
        if not hasattr(f, "write"):
            raise AttributeError(f"save: expected a path or a file object with write(), got {type(f).__name__}")
        write(f, "archive")
        if hasattr(f, "flush"):
            f.flush()


def _zip_records(data_pkl, storages, byteorder):
    records = [("data.pkl", data_pkl), (".format_version", b"1"), (".storage_alignment", str(_ALIGNMENT).encode())]
    if byteorder:
        records.append(("byteorder", b"little"))
    records += [(f"data/{entry.key}", entry.flat) for entry in storages.entries]
    records += [("version", f"{_FORMAT_VERSION}\n".encode()),
                (".data/serialization_id", str(secrets.randbits(128)).zfill(40).encode())]
    return records


def _write_zip(fh, folder, data_pkl, storages, byteorder=True):
    """A zip of stored records, each data start 64-byte aligned, CRC-32 filled, zip64 where needed."""
    pos, central = 0, []
    for name, data in _zip_records(data_pkl, storages, byteorder):
        view = memoryview(data.view(np.uint8) if isinstance(data, np.ndarray) else data).cast("B")
        size = view.nbytes
        crc = zlib.crc32(view) if _options["crc32"] else 0
        raw_name = f"{folder}/{name}".encode("utf-8")
        big = size >= _ZIP64_LIMIT
        extra = struct.pack("<HHQQ", 1, 16, size, size) if big else b""
        pad = -(pos + 30 + len(raw_name) + len(extra) + 4) % _ALIGNMENT
        extra += struct.pack("<HH", 0x6D65, pad) + b"\0" * pad      # 'em': padding to the alignment
        size32 = 0xFFFFFFFF if big else size
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if big else 20, 0x0800, 0, 0, 0x21, crc, size32, size32,
                             len(raw_name), len(extra))
        fh.write(header + raw_name + extra)
        fh.write(view)
        central.append((raw_name, crc, size, pos))
        pos += len(header) + len(raw_name) + len(extra) + size
    cd_start, directory = pos, []
    for raw_name, crc, size, offset in central:
        fields = [v for v in (size, size, offset) if v >= _ZIP64_LIMIT]
        extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
        size32 = 0xFFFFFFFF if size >= _ZIP64_LIMIT else size
        offset32 = 0xFFFFFFFF if offset >= _ZIP64_LIMIT else offset
        version = 45 if fields else 20
        directory.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0300 | version, version, 0x0800, 0, 0,
                                     0x21, crc, size32, size32, len(raw_name), len(extra), 0, 0, 0,
                                     0o100644 << 16, offset32) + raw_name + extra)
    directory = b"".join(directory)
    fh.write(directory)
    count, cd_size = len(central), len(directory)
    end = cd_start + cd_size
    if count >= 0xFFFF or cd_size >= _ZIP64_LIMIT or cd_start >= _ZIP64_LIMIT:
        fh.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x032D, 45, 0, 0, count, count, cd_size, cd_start))
        fh.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
    fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                         min(cd_size, 0xFFFFFFFF), min(cd_start, 0xFFFFFFFF), 0))


def _write_legacy(fh, data_pkl, storages):
    sys_info = {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    for header in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info):
        fh.write(_Pickler(None).dump(header))
    fh.write(data_pkl)
    fh.write(_Pickler(None).dump([entry.key for entry in storages.entries]))
    for entry in storages.entries:
        fh.write(struct.pack("<q", entry.flat.size))
        fh.write(memoryview(entry.flat.view(np.uint8)).cast("B"))


def _atomic_write(path, write):
    path = os.fsdecode(os.fspath(path))
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    name = os.path.basename(target)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist.")
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "save: target is a directory", path)
    _remove_stale_temporaries(directory, name)
    try:
        mode = os.stat(target).st_mode & 0o7777      # keep an existing checkpoint's permissions
    except OSError:
        mode = None
    fd, temp = _create_temporary(directory, name)
    try:
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with open(fd, "wb") as fh:
            write(fh, os.path.splitext(name)[0] or "archive")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _create_temporary(directory, name):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temp = os.path.join(directory, f".{name}{_TMP_MARK}{os.getpid()}.{secrets.token_hex(4)}")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "save: could not create a temporary file", directory)


def _remove_stale_temporaries(directory, name):
    """Delete temporaries that a killed save of `name` left behind (their process no longer exists)."""
    if os.name != "posix":                        # no safe liveness probe elsewhere: leave them
        return
    prefix = f".{name}{_TMP_MARK}"
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            pid = entry[len(prefix):].split(".", 1)[0] if entry.startswith(prefix) else ""
            if pid.isdigit() and int(pid) != os.getpid() and not _process_exists(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, entry))


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _fsync_directory(directory):
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ================================================================================================
# load
# ================================================================================================

def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Read a checkpoint written by torch.save or ember.save (zip or legacy format).

    weights_only (the default, as in PyTorch): the pickle is run by ember's weights-only interpreter,
    which never executes code from the file (Note [checkpoint security]); other objects load once
    allow-listed with add_safe_globals / safe_globals. weights_only=False (or a pickle_module with
    weights_only unset) unpickles everything, as torch.load does: only for files you trust. torch.*
    names then resolve to ember's objects, so a model PyTorch pickled whole loads as ember modules.
    map_location: None, a device (str/ember.device), a dict {saved location: new location} or a
    callable (storage, location) -> storage or None. mmap=True maps storages from the file (copy on
    write) instead of reading them; it needs a path. Paths ending in .safetensors are read with
    ember.utils.safetensors.load_file.
    """
    unpickling = Unpickling.from_arguments(weights_only, pickle_module, pickle_load_args)
    restore = _Restorer(map_location)
    if _is_path(f):
        path = os.fsdecode(os.fspath(f))
        if path.endswith(".safetensors"):
            from .utils.safetensors import load_file
            return load_file(path, device=str(restore.fixed or "cpu"))
        with open(path, "rb") as fh:
            try:
                return _load_stream(fh, restore, unpickling, bool(mmap), path)
            except CheckpointError as error:
                raise CheckpointError(f"{path}: {error}") from None
    if not hasattr(f, "read"):
        raise AttributeError(f"load: expected a path or a file object with read(), got {type(f).__name__}")
    if not (getattr(f, "seekable", lambda: False)()):
        import io
        f = io.BytesIO(f.read())
    return _load_stream(f, restore, unpickling, bool(mmap), None)


def _load_stream(fh, restore, unpickling, use_mmap, path):
    start = fh.tell()
    head = fh.read(512)
    fh.seek(start)
    if not head:
        _fail("the checkpoint is empty (0 bytes)")
    if head[:4] == b"PK\x03\x04":
        if use_mmap and path is None:
            raise ValueError("f must be a file path in order to use the mmap argument")
        return _ZipCheckpoint(fh, use_mmap).load(restore, unpickling)
    if use_mmap:
        name = f"{path}, " if path is not None else ""
        raise RuntimeError(f"mmap can only be used with files saved with `ember.save({name}"
                           "_use_new_zipfile_serialization=True), please ember.save your checkpoint with this "
                           "option in order to use mmap.")
    if head[:1] == b"\x80":
        return _load_legacy(fh, restore, unpickling)
    if len(head) >= 262 and head[257:262] == b"ustar":
        _fail("tar-based checkpoints (PyTorch < 0.4) are not supported")
    _fail(f"not a PyTorch checkpoint: it starts with {head[:8]!r}, neither a zip archive (b'PK\\x03\\x04') "
          "nor a legacy pickle (b'\\x80\\x02')")


class _Restorer:
    """Decides each storage's device from its saved location and map_location."""

    def __init__(self, map_location):
        self.map, self.fixed, self.warned = map_location, None, False
        if isinstance(map_location, (str, device)):
            self.fixed = device(map_location) if isinstance(map_location, str) else map_location
        elif not (map_location is None or isinstance(map_location, dict) or callable(map_location)):
            raise TypeError(f"load: map_location must be None, a str, a device, a dict or a callable, got "
                            f"{type(map_location).__name__}")

    def __call__(self, storage, location):
        if self.fixed is not None:
            return self.fixed
        if isinstance(self.map, dict):
            location = self.map.get(location, location)
            if isinstance(location, device):
                return location
        elif callable(self.map):
            result = self.map(storage, location)
            if isinstance(result, LoadedStorage):
                return result.device
            if isinstance(result, (str, device)):
                return device(result) if isinstance(result, str) else result
            if result is not None:
                raise TypeError(f"load: map_location returned {type(result).__name__}, expected a storage or None")
        return self._default(str(location))

    def _default(self, location):
        if location == "cpu":
            return device("cpu")
        try:
            target = device(location)
        except (RuntimeError, ValueError):
            target = None
        if target is not None and target.type == "cuda" and _cuda_available():
            return target
        if location.partition(":")[0] not in _KNOWN_DEVICE_TYPES:
            _fail(f"don't know how to restore data location {location!r}")
        if not self.warned:
            self.warned = True
            warnings.warn(f"load: the checkpoint has storages on '{location}', which is not available here; "
                          "loading them on the CPU (pass map_location='cpu' to silence this)", stacklevel=4)
        return device("cpu")


def _cuda_available():
    try:
        from ._backends import cuda
    except ImportError:
        return False
    return cuda.available()


def _storage_dtype(storage_type):
    from . import _dtype
    return _dtype._BY_NAME[storage_type.dtype_name]


def _check_pid(pid, length, where):
    if type(pid) is not tuple or len(pid) != length or type(pid[0]) is not str or pid[0] != "storage":
        _fail(f"{where}: unsupported persistent id {pid!r}"[:300])
    _, storage_type, key, location, numel = pid[:5]
    if not isinstance(storage_type, StorageType):
        _fail(f"{where}: storage type must be a torch.<Type>Storage, got {storage_type!r}"[:300])
    if type(key) is not str or not _KEY.fullmatch(key):
        _fail(f"{where}: invalid storage key {key!r}: keys name records under data/ and must be plain "
              "tokens"[:300])
    if type(location) is not str or not _LOCATION.fullmatch(location):
        _fail(f"{where}: invalid storage location {location!r} for storage {key!r}"[:300])
    if type(numel) is not int or numel < 0:
        _fail(f"{where}: storage {key!r} has an invalid element count {numel!r}"[:300])
    return _storage_dtype(storage_type), key, location, numel


def _decode_storage(raw, dtype, byteorder):
    """A record's raw bytes (a writable uint8 array) -> the storage array, in place where possible."""
    if byteorder != sys.byteorder and dtype.itemsize > 1:
        unit = dtype.itemsize // 2 if dtype.is_complex else dtype.itemsize    # complex: swap each part
        raw.view(f"u{unit}").byteswap(inplace=True)
    if dtype.name == "bool":
        np.not_equal(raw, 0, out=raw.view(np.bool_))   # any nonzero byte means True, stored as 1
    if dtype.numpy is None:                       # bfloat16 without ml_dtypes: widen, values exact
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    return raw.view(dtype.numpy)


class _ZipCheckpoint:
    """A validated zip checkpoint: one top-level folder, stored records that do not overlap."""

    def __init__(self, fh, use_mmap):
        self.fh = fh
        fh.seek(0, 2)
        self.size = fh.tell()
        fh.seek(0)
        try:
            archive = zipfile.ZipFile(fh)
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
                NotImplementedError, KeyError, IndexError, OverflowError) as error:
            _fail(f"not a valid zip archive (truncated or corrupt?): {error}")
        # TorchScript first: its code/ records must never be looked at, whatever else is wrong.
        if any(i.filename.split("/")[1:2] in (["constants.pkl"], ["code"]) for i in infos):
            _fail("TorchScript archive is not supported (torch.jit.save output): ember.load reads checkpoints "
                  "written by torch.save; its code/ is never interpreted")
        self.records, prefixes = {}, set()
        for info in infos:
            name = info.filename
            if name in self.records:
                _fail(f"duplicate record {name!r} in the archive")
            parts = name.split("/")
            if len(parts) < 2 or any(p in ("", ".", "..") for p in parts[:-1]) or "\\" in name:
                _fail(f"record {name!r} is not inside a single top-level folder")
            prefixes.add(parts[0])
            if info.flag_bits & 0x1:
                _fail(f"record {name!r} is encrypted")
            if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
                _fail(f"record {name!r} is compressed (method {info.compress_type}); checkpoints store records "
                      "uncompressed")
            self.records[name] = info
        if len(prefixes) != 1:
            _fail(f"records must all be inside one top-level folder, found {sorted(prefixes)[:5]}")
        self.prefix = prefixes.pop()
        self.spans = {name: self._locate(info) for name, info in self.records.items()}
        previous_end, previous = 0, None
        for name, (start, data_start, size) in sorted(self.spans.items(), key=lambda item: item[1][0]):
            if start < previous_end:
                _fail(f"records {previous!r} and {name!r} overlap in the archive")
            previous_end, previous = data_start + size, name
        self.mmap = None
        if use_mmap:
            import mmap
            self.mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)

    def _locate(self, info):
        if not 0 <= info.header_offset <= self.size - 30:
            _fail(f"record {info.filename!r}: local header offset {info.header_offset} is outside the file")
        self.fh.seek(info.header_offset)
        header = self.fh.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            _fail(f"record {info.filename!r}: bad local header at offset {info.header_offset}")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        raw_name = self.fh.read(name_length)
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if raw_name.decode(encoding, "replace") != info.orig_filename:
            _fail(f"record {info.filename!r}: local header names {raw_name[:100]!r}")
        data_start = info.header_offset + 30 + name_length + extra_length
        if data_start + info.file_size > self.size:
            _fail(f"record {info.filename!r} ends at byte {data_start + info.file_size} but the file has "
                  f"{self.size} bytes (truncated?)")
        return info.header_offset, data_start, info.file_size

    def has(self, name):
        return f"{self.prefix}/{name}" in self.records

    def size_of(self, name):
        return self.records[f"{self.prefix}/{name}"].file_size

    def read(self, name, limit=None):
        """A record's bytes as a writable uint8 array, CRC-32 verified."""
        full = f"{self.prefix}/{name}"
        info = self.records.get(full)
        if info is None:
            _fail(f"missing record {full!r}")
        _, data_start, size = self.spans[full]
        if limit is not None and size > limit:
            _fail(f"record {full!r} has {size} bytes, at most {limit} expected")
        if self.mmap is not None:
            data = np.frombuffer(self.mmap, np.uint8, size, data_start) if size else np.empty(0, np.uint8)
        else:
            data = np.empty(size, np.uint8)
            self.fh.seek(data_start)
            got = self.fh.readinto(memoryview(data)) if size else 0
            if got != size:
                _fail(f"record {full!r} is truncated: {got} of {size} bytes")
        if info.CRC and zlib.crc32(data) != info.CRC:
            _fail(f"record {full!r} is corrupt: CRC-32 {zlib.crc32(data):#010x} does not match the stored "
                  f"{info.CRC:#010x}")
        return data

    def read_text(self, name, limit=64):
        try:
            return self.read(name, limit).tobytes().decode("ascii").strip()
        except UnicodeDecodeError:
            _fail(f"record {self.prefix}/{name!r} is not ASCII text")

    def load(self, restore, unpickling):
        if not self.has("version"):
            _fail(f"missing record '{self.prefix}/version': not a PyTorch checkpoint")
        version = self.read_text("version")
        if not version.isdigit() or not 1 <= int(version) <= _MAX_FORMAT_VERSION:
            _fail(f"unsupported checkpoint format version {version!r} (this reader handles 1 to "
                  f"{_MAX_FORMAT_VERSION})")
        byteorder = self.read_text("byteorder") if self.has("byteorder") else "little"
        if byteorder not in ("little", "big"):
            _fail(f"Unknown endianness type: {byteorder!r} in record '{self.prefix}/byteorder'")
        if not self.has("data.pkl"):
            _fail(f"missing record '{self.prefix}/data.pkl': not a PyTorch checkpoint")
        storages = {}
        where = f"{self.prefix}/data.pkl"

        def persistent_load(pid):
            dtype, key, location, numel = _check_pid(pid, 5, where)
            cached = storages.get(key)
            if cached is not None:
                if cached.dtype is not dtype or cached.array.size != numel:
                    _fail(f"storage {key!r} is referenced as {numel} x {dtype.name} and as "
                          f"{cached.array.size} x {cached.dtype.name}")
                return cached
            name = f"data/{key}"
            if not self.has(name):
                _fail(f"missing record '{self.prefix}/{name}' for storage {key!r}")
            expected, actual = numel * dtype.itemsize, self.size_of(name)
            if actual != expected:
                _fail(f"record '{self.prefix}/{name}' has {actual} bytes, expected {expected} "
                      f"({numel} x {dtype.name})")
            array = _decode_storage(self.read(name), dtype, byteorder)
            storage = LoadedStorage(array, dtype, key, location, _CPU())
            storage.device = restore(storage, location)
            storages[key] = storage
            return storage

        return unpickling.buffer(self.read("data.pkl"), persistent_load, where)


def _load_legacy(fh, restore, unpickling):
    """Legacy format: magic, protocol, sys_info, object and key-list pickles, then each storage's bytes.

    The data follows the object pickle, so storages are allocated (zeroed, within the bytes left in
    the file) while unpickling and filled afterwards; when some storage goes to another device the
    object pickle is read a second time over the filled storages.
    """
    start = fh.tell()
    fh.seek(0, 2)
    end = fh.tell()
    fh.seek(start)

    def unpickle(where, persistent_load=None):          # the header pickles are plain data: always weights-only
        return Unpickler(StreamReader(fh, end), persistent_load, where=where,
                         encoding=unpickling.encoding).load()

    if unpickle("legacy header") != MAGIC_NUMBER:
        _fail("not a PyTorch checkpoint: a legacy file must start with the magic number pickle")
    protocol = unpickle("legacy header")
    if protocol != PROTOCOL_VERSION:
        _fail(f"legacy checkpoint protocol version {protocol!r} is not supported (expected {PROTOCOL_VERSION})")
    sys_info = unpickle("legacy sys_info")
    if not isinstance(sys_info, dict) or type(sys_info.get("little_endian", True)) is not bool:
        _fail("legacy sys_info must be a dict with a bool 'little_endian'")
    byteorder = "little" if sys_info.get("little_endian", True) else "big"
    storages, devices = {}, {}
    budget = [0]                                  # bytes the storages claim so far

    def persistent_load(pid, second_pass=False):
        if type(pid) is tuple and len(pid) == 4 and pid[0] == "module":
            # torch.save(module) in this format stores each module class with its source (for a change warning)
            if not isinstance(pid[1], type):
                _fail(f"legacy object pickle: persistent id 'module' must name a class, got {pid[1]!r}"[:300])
            return pid[1]
        dtype, key, location, numel = _check_pid(pid, 6, "legacy object pickle")
        root = storages.get(key)
        if root is None:
            budget[0] += 8 + numel * dtype.itemsize
            if budget[0] > end - fh.tell():       # RES-1: refuse before allocating
                _fail(f"storage {key!r} claims {numel} x {dtype.name}, more than the {end - fh.tell()} bytes "
                      "left in the file")
            array = np.zeros(numel, dtype.numpy if dtype.numpy is not None else np.float32)
            root = storages[key] = LoadedStorage(array, dtype, key, location, _CPU())
            devices[key] = restore(root, location)
        elif root.dtype is not dtype or root.array.size != numel:
            _fail(f"storage {key!r} is referenced with two different types or sizes")
        device = devices[key] if second_pass else root.device
        view = pid[5]
        if view is None:
            return LoadedStorage(root.array, dtype, key, location, device) if second_pass else root
        if (type(view) is not tuple or len(view) != 3 or type(view[0]) is not str or
                any(type(v) is not int or v < 0 for v in view[1:]) or view[1] + view[2] > numel):
            _fail(f"storage view {view!r} is outside storage {key!r} of {numel} elements"[:300])
        return LoadedStorage(root.array[view[1]:view[1] + view[2]], dtype, view[0], location, device)

    object_start = fh.tell()
    result = unpickling.stream(fh, end, persistent_load, "legacy object pickle")
    keys = unpickle("legacy storage key list")
    if type(keys) is not list or any(type(k) is not str for k in keys) or len(set(keys)) != len(keys):
        _fail("legacy storage key list must be a list of distinct strings")
    if set(keys) != set(storages):
        _fail(f"legacy storage key list {sorted(keys)[:5]} does not match the storages the object uses "
              f"{sorted(storages)[:5]}")
    for key in keys:
        storage = storages[key]
        count_bytes = fh.read(8)
        if len(count_bytes) != 8:
            _fail(f"legacy storage {key!r} is missing: the file ends before its element count")
        count = struct.unpack("<q" if byteorder == "little" else ">q", count_bytes)[0]
        if count != storage.array.size:
            _fail(f"storage has wrong size: expected {storage.array.size} got {count} (legacy storage {key!r})")
        nbytes = count * storage.dtype.itemsize
        raw = np.empty(nbytes, np.uint8)
        if nbytes and fh.readinto(memoryview(raw)) != nbytes:
            _fail(f"legacy storage {key!r} is truncated: the file ends inside its {nbytes} bytes")
        storage.array[...] = _decode_storage(raw, storage.dtype, byteorder)
    if any(d.type != "cpu" for d in devices.values()):
        fh.seek(object_start)
        result = unpickling.stream(fh, end, lambda pid: persistent_load(pid, True), "legacy object pickle")
    return result


def _CPU():
    return device("cpu")
