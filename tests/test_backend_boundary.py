"""The backend boundary: only ember/_backends/ knows NumPy from CuPy, so no other module of ember imports or
calls CuPy, and `import ember` does not load it; outside the backends NumPy does not compute on tensor data, but for
the host-side code listed (with its reasons) and the sites still to convert."""
import ast
import functools
import pathlib
import re
import subprocess
import sys

import pytest

import ember

_EMBER = pathlib.Path(ember.__file__).resolve().parent
_CUPY = re.compile(r"""\bimport\s+cupy\b|\bfrom\s+cupy\b|\bcupy\.|find_spec\(\s*["']cupy\b|"""
                   r"""import_module\(\s*["']cupy\b""")


def _cupy_uses(root):
    """'path:line: text' for each line of a .py file under root (outside ember/_backends) that touches CuPy."""
    hits = []
    backends = root / "_backends"
    for path in sorted(root.rglob("*.py")):
        if backends in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _CUPY.search(line):
                hits.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    return hits


def test_only_backends_touch_cupy():
    hits = _cupy_uses(_EMBER)
    assert not hits, "CuPy used outside ember/_backends:\n" + "\n".join(hits)


def test_scanner_catches_each_spelling(tmp_path):
    pkg = tmp_path / "ember"
    (pkg / "_backends").mkdir(parents=True)
    (pkg / "_backends" / "cuda.py").write_text("import cupy\n")              # allowed: the backend itself
    (pkg / "a.py").write_text("x = 1\nimport cupy\n")
    (pkg / "b.py").write_text("from cupy.cuda import nvtx\n")
    (pkg / "c.py").write_text("def f(m):\n    return m.cupy_x + cupy.cuda.runtime.getDeviceCount()\n")
    (pkg / "d.py").write_text("import importlib.util\nok = importlib.util.find_spec('cupy')\n")
    (pkg / "e.py").write_text("_cupy_device = 1  # CuPy, the backend\n")     # no CuPy call
    hits = _cupy_uses(pkg)
    assert [h.split(": ")[0] for h in hits] == ["ember/a.py:2", "ember/b.py:1", "ember/c.py:2", "ember/d.py:2"]


def test_import_ember_does_not_load_cupy():
    code = "import sys, ember, ember.cuda, ember.accelerator, ember.backends.cuda; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cuda_queries_reach_cupy_through_the_backend(monkeypatch):
    """With a stand-in CuPy (no GPU here), ember.cuda's queries run the relocated backend calls."""
    import types

    from ember import _cuda_memory
    from ember._backends import cuda as backend
    calls = []

    class Device:
        def __init__(self, index):
            self.id = index

        def __enter__(self):
            calls.append(("enter", self.id))

        def __exit__(self, *exc):
            calls.append(("exit", self.id))

        def synchronize(self):
            calls.append(("synchronize", self.id))

    pool = types.SimpleNamespace(used_bytes=lambda: 512, total_bytes=lambda: 2048,
                                 free_all_blocks=lambda: calls.append(("free_all_blocks",)))
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 2, memGetInfo=lambda: (100, 400),
        getDeviceProperties=lambda i: {"name": b"Fake GPU %d" % i, "major": 9, "minor": 0,
                                       "totalGlobalMem": 80 * 2**30, "multiProcessorCount": 132})
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(Device=Device, runtime=runtime)
    cupy.get_default_memory_pool = lambda: pool
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setattr(backend, "xp", None)           # restored afterwards: the backend has not started
    monkeypatch.setattr(_cuda_memory, "_peaks", {})
    assert ember.cuda.is_available() and ember.cuda.device_count() == 2
    assert ember.cuda.memory_allocated("cuda:1") == 512 and ember.cuda.memory_reserved(1) == 2048
    assert ember.cuda.max_memory_allocated(1) == 512 and calls[:2] == [("enter", 1), ("exit", 1)]
    assert ember.cuda.mem_get_info() == (100, 400)
    props = ember.cuda.get_device_properties(1)
    assert props.name == "Fake GPU 1" and ember.cuda.get_device_capability() == (9, 0)
    assert "device ID 1" in ember.cuda.memory_summary(1)
    calls.clear()
    ember.cuda.synchronize("cuda:1")
    ember.cuda.empty_cache()
    assert calls == [("synchronize", 1), ("free_all_blocks",)]
    with pytest.raises(ValueError, match="Expected a cuda device"):
        ember.cuda.mem_get_info("cpu")


# --- NumPy computations on tensor data (issue 14: "no numpy computation on tensor data outside ember/_backends") --
# Op code computes with the array module of its tensors' device (ctx.xp, t._backend().xp), never with NumPy's
# functions, which would refuse (or silently copy) device arrays. The scanner below finds every call of a NumPy
# function outside ember/_backends: `np.<name>(...)` through any name `import numpy [as np]` binds, and `<name>(...)`
# for `from numpy import <name>`. Calls that compute nothing on array data are not counted (_NUMPY_HELPERS); every
# other call must be host-side by nature (HOST_SIDE_FILES, HOST_SIDE_LINES, with the reason) or wait in TO_CONVERT.

_NUMPY_HELPERS = frozenset({
    # dtypes and their facts
    "dtype", "finfo", "iinfo", "result_type", "promote_types", "can_cast", "issubdtype", "min_scalar_type",
    # scalar types, called on Python numbers as type constructors
    "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intp", "float16", "float32",
    "float64", "complex64", "complex128",
    # type and shape questions: no data is read
    "isscalar", "ndim", "shape", "broadcast_shapes",
    # NumPy's floating-point warning state (a context manager; device arrays raise no warnings)
    "errstate",
})

# Whole files whose NumPy work is host-side by nature, and why.
HOST_SIDE_FILES = {
    "ember/random.py": "the Generator: mt19937 words and PyTorch's transforms of them are drawn on the host for every "
                       "device, cuda draws are copied over (Note [cuda random numbers])",
    "ember/_mt_sampling.py": "the generator's float transforms, bit for bit as PyTorch's CPU kernels, on host words",
    "ember/ops/sampling.py": "the random factories and fills: the generator's host draws and explicit host copies "
                             "(_array_of) of probabilities; results reach the device through backend.from_numpy",
    "ember/ops/gamma_sampling.py": "rejection samplers run element by element in Python on host copies (_host) and "
                                   "the generator's words; samples reach the device through _to_device",
    "ember/serialization.py": "checkpoint files: storages are read and written as host bytes",
    "ember/_pickler.py": "pickling: storages are written as host bytes",
    "ember/_weights_only_globals.py": "rebuilds tensors from checkpoint storages in host memory, then moves them "
                                      "with .to(device)",
    "ember/utils/safetensors.py": "the safetensors file format: host bytes",
    "ember/_tensor_str.py": "printing formats a host copy (backend.to_numpy) of the tensor",
    "ember/testing.py": "assert_close compares host copies (.cpu().numpy())",
    "ember/autograd/gradcheck.py": "finite differences are assembled on host copies (backend.to_numpy) and the "
                                   "perturbed values written back with from_numpy: a testing aid",
    "ember/utils/tensorboard/_convert.py": "event files: summaries are computed from host copies (.cpu().numpy())",
    "ember/utils/tensorboard/summary.py": "event files: histograms and images of host copies",
    "ember/utils/tensorboard/writer.py": "event files: embedding sprites assembled on the host",
    "ember/utils/benchmark/utils/common.py": "statistics of measured times (Python floats)",
    "ember/utils/data/_worker.py": "worker processes: NumPy's global seed set as PyTorch's workers set it, and "
                                   "shared-memory host buffers",
    "ember/examples/walkthrough.py": "the tutorial's own NumPy code (the NumPy bridge chapter and its data)",
    "ember/onnx/__init__.py": "ONNXProgram feeds onnxruntime host copies (.cpu().numpy()) and wraps its host results",
    "ember/onnx/_graph.py": "ONNX export: initializers and constants are host arrays written into the model",
    "ember/onnx/_symbolic.py": "ONNX export: the converters' constants (axes, shapes, default weights) are host arrays",
    "ember/onnx/_ops_more.py": "ONNX export: the converters' constants are host arrays",
    "ember/onnx/_sequence.py": "ONNX export: the converters' constants are host arrays",
    "ember/distributed/_mpi.py": "MPI moves and reduces host memory: the reductions MPI lacks (float16, bfloat16, "
                                 "bool) apply NumPy's ufuncs to MPI's host buffers",
    "ember/distributed/distributed_c10d.py": "collectives stage tensors through contiguous host arrays "
                                             "(backend.to_numpy / from_numpy), the buffers MPI reads and writes",
}

# Single lines that are host-side by nature: (file, a substring of the line, why).
HOST_SIDE_LINES = [
    ("ember/distributions/constraints.py", "ok = np.empty(flat.shape[0], dtype=bool)",
     "positive_definite.check tries a Cholesky factorisation per matrix of a host copy (.cpu()): CuPy's cholesky "
     "does not raise LinAlgError for a matrix that is not positive definite"),
    ("ember/distributions/constraints.py", "np.linalg.cholesky(matrix)", "the same host-side Cholesky check"),
    ("ember/_tensor.py", "array = np.asarray(array)", "wrap(): the NumPy bridge makes cpu tensors of NumPy data"),
    ("ember/_tensor_protocols.py", "return _make(array if array.ndim or not return_scalar else np.asarray(array), CPU)",
     "__array_wrap__: a NumPy ufunc applied to a cpu tensor (device tensors return before this line)"),
    ("ember/nn/_functional/ctc.py", "np.asarray(value, dtype=np.int64).reshape(-1)",
     "ctc_loss's input/target lengths are host integers (PyTorch reads them on the host, as IntArrayRef): they "
     "size the Python loops and slices"),
    ("ember/nn/_functional/ctc.py", "np.concatenate(([0], np.cumsum(tgt_len)[:-1]))",
     "the targets' offsets: host integers from the host lengths, used as slice bounds"),
    ("ember/nn/_functional/ctc.py", "np.maximum(tgt_len, 1).astype(log_probs._array.dtype)), log_",
     "the mean's divisor from the host lengths, copied to the device with xp.asarray"),
    ("ember/optim/optimizer.py", "np.array(value, dtype=(dtype or scalar_dtype()).numpy))",
     "scalar_state: PyTorch keeps `step` and the other scalar states as 0-d CPU tensors whatever the params' "
     "device (non-capturable, non-fused optimizers)"),
    ("ember/ops/sparse_ops.py", "array = np.asarray(indices)",
     "sparse_coo_tensor's indices from the caller are read and checked on the host once, then copied to the values' "
     "device"),
    ("ember/ops/sparse_ops.py", "return np.array(array, dtype=_INDEX)", "the same host copy of the caller's indices"),
    ("ember/ops/sparse_ops.py", "if not bool(np.all(keys[1:] > keys[:-1])):",
     "the is_coalesced=True check of those host indices"),
    ("ember/ops/creation.py", "arr = np.asarray(data)",
     "tensor(data): nested Python numbers and NumPy arrays are host data, read and checked on the host, then copied "
     "once with backend.from_numpy (a device tensor as the data copies on its device: _tensor_of_device_tensor)"),
    ("ember/ops/creation.py", "np.array(values, dtype=carrier).reshape(sizes), dtype",
     "tensor(data) element by element: the Python elements are stored into a host array, then copied once"),
    ("ember/ops/creation.py", "np.array(arr, dtype=dtype.numpy, copy=arr is data or isinsta",
     "tensor(data)'s cast of that host array (or of a cpu tensor's data) before its one copy to the device"),
    ("ember/ops/creation.py", "array = np.array(array, copy=True)",
     "_copy_to_device: the host array a device-to-cpu copy returned gets memory of its own"),
    ("ember/ops/indexing.py", "arr = np.asarray(item)",
     "a Python list/range/NumPy array used as an index is host data: read and checked on the host, then copied to "
     "the indexed tensor's device with from_numpy"),
    ("ember/ops/inplace.py", "np.indices(array.shape, sparse=True), array.strides))",
     "_memory_order: the elements' order in memory comes from the shape and strides alone (no tensor data), as "
     "host indices for the serial Python loops of overlapping writes"),
    ("ember/ops/inplace.py", "np.argsort(np.broadcast_to(offsets, array.shape).ravel(), ki",
     "the same host order of the offsets computed from shape and strides"),
    ("ember/ops/inplace.py", "np.unravel_index(order, array.shape))", "the same host order, as index tuples"),
    ("ember/ops/sparse_csr_ops.py", "array = np.asarray(indices)",
     "sparse_compressed_tensor's indices from the caller are read and checked on the host"),
    ("ember/ops/sparse_csr_ops.py", "return np.array(array, dtype=np.int32 if array.dtype == np.int32 else np.int64)",
     "the same host copy of the caller's indices"),
    ("ember/nn/utils/rnn.py", "return np.asarray(values, dtype=np.int64).reshape(-1)",
     "_host_ints: a PackedSequence's lengths, batch_sizes and permutation as host integers (PyTorch keeps lengths "
     "and batch_sizes on the cpu whatever the data's device); a device permutation is read with .tolist()"),
    ("ember/nn/utils/rnn.py", "if np.any(lengths[1:] > lengths[:-1]):", "the enforce_sorted check of those host lengths"),
    ("ember/nn/utils/rnn.py", "order = np.argsort(-lengths, kind=\"stable\")", "the sorting order of the host lengths"),
    ("ember/nn/utils/rnn.py", "step = np.arange(int(lengths[0]) if lengths.size else 0)[:, None]",
     "pack_padded_sequence's host bookkeeping: the steps each sequence is alive (batch_sizes, a cpu tensor)"),
    ("ember/nn/utils/rnn.py", "rows = (step * batch + (np.arange(batch) if order is None else order))[alive]",
     "the packed rows from that host bookkeeping, copied to the data's device once as index_select's index"),
    ("ember/nn/utils/rnn.py", "alive = batch_sizes[:, None] > np.arange(batch)",
     "pad_packed_sequence's host bookkeeping from the host batch_sizes (the lengths it returns are a cpu tensor)"),
    ("ember/nn/utils/rnn.py", "where = np.full((steps_out, batch), data.shape[0], dtype=np.int64)",
     "the padded output's source rows from that host bookkeeping, copied to the data's device once"),
    ("ember/nn/utils/rnn.py", "where[:steps][alive] = np.arange(int(batch_sizes.sum()))",
     "the same host source rows"),
]

# TO CONVERT (issue 14): NumPy calls on tensor data, or making arrays that meet it, in files other engineers own. Each
# should compute with the device's array module (or copy to the host explicitly where that is its nature, and move to
# HOST_SIDE_LINES with the reason); the lead assigns them (the comment names the likely area). Delete a substring when
# its line is converted: test_numpy_allowlist_is_current fails on stale ones.
TO_CONVERT = {
    "ember/storage.py": [  # views / in-place / engine
        "np.empty(0, np.uint8)",
        "np.asarray(window)",
        "np.zeros(int(size), np.uint8)",
        "np.ndarray(tuple(shape), dtype, buffer=self._bytes, offset=o",
    ],
}


def _numpy_calls(path):
    """(line number, dotted name) of each call of a NumPy function in a Python file, helpers left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules, functions = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name == "numpy" or a.name.startswith("numpy."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "numpy":
            functions.update({a.asname or a.name: a.name for a in node.names})
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, chain = node.func, []
        while isinstance(func, ast.Attribute):
            chain.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            continue
        if func.id in modules and chain:
            name = ".".join(reversed(chain))
        elif func.id in functions and not chain:
            name = functions[func.id]
        else:
            continue
        if name not in _NUMPY_HELPERS:
            calls.append((node.lineno, name))
    return sorted(calls)


def _numpy_sites(root):
    """{relative path: [(line number, name, line text)]} of the NumPy calls under root, outside root/_backends."""
    sites = {}
    backends = root / "_backends"
    for path in sorted(root.rglob("*.py")):
        if backends in path.parents:
            continue
        calls = _numpy_calls(path)
        if calls:
            lines = path.read_text(encoding="utf-8").splitlines()
            sites[path.relative_to(root.parent).as_posix()] = [(n, name, lines[n - 1].strip()) for n, name in calls]
    return sites


def _line_allowances(host_lines, to_convert):
    """{path: [substring]} of the per-line entries."""
    allowed = {}
    for path, substring, _why in host_lines:
        allowed.setdefault(path, []).append(substring)
    for path, substrings in to_convert.items():
        allowed.setdefault(path, []).extend(substrings)
    return allowed


def _unexplained(sites, host_files, host_lines, to_convert):
    """'path:line: text' of each site no allowlist entry covers."""
    allowed = _line_allowances(host_lines, to_convert)
    return [f"{path}:{n}: {text}" for path, found in sites.items() if path not in host_files
            for n, _name, text in found if not any(s in text for s in allowed.get(path, ()))]


def _stale(sites, host_files, host_lines, to_convert):
    """Allowlist entries that cover nothing: whole files without a NumPy call, substrings matching no call's line."""
    stale = [f"{path} (whole file)" for path in host_files if path not in sites]
    for path, substrings in _line_allowances(host_lines, to_convert).items():
        texts = [text for _n, _name, text in sites.get(path, ())]
        stale += [f"{path}: {s!r}" for s in substrings if not any(s in text for text in texts)]
    return stale


@functools.lru_cache(maxsize=1)
def _ember_sites():
    return _numpy_sites(_EMBER)


def test_no_numpy_computation_on_tensor_data_outside_the_backends():
    hits = _unexplained(_ember_sites(), HOST_SIDE_FILES, HOST_SIDE_LINES, TO_CONVERT)
    assert not hits, ("NumPy calls outside ember/_backends: compute with the device's array module (ctx.xp, "
                      "t._backend().xp), or copy to the host explicitly and add the line to HOST_SIDE_LINES with the "
                      "reason:\n" + "\n".join(hits))


def test_numpy_allowlist_is_current():
    stale = _stale(_ember_sites(), HOST_SIDE_FILES, HOST_SIDE_LINES, TO_CONVERT)
    assert not stale, "allowlist entries that no longer match a NumPy call (delete them):\n" + "\n".join(stale)
    assert all(why for why in HOST_SIDE_FILES.values()) and all(why for *_, why in HOST_SIDE_LINES)


def test_numpy_scanner_catches_planted_calls(tmp_path):
    pkg = tmp_path / "ember"
    (pkg / "_backends").mkdir(parents=True)
    (pkg / "ops").mkdir()
    (pkg / "_backends" / "cpu.py").write_text("import numpy as xp\nout = xp.zeros(3)\n")     # the backend: allowed
    (pkg / "ops" / "planted.py").write_text(
        "import numpy as np\n"
        "import numpy\n"
        "from numpy import stack as _stack\n"
        "def f(ctx, x):\n"
        "    a = np.zeros(x.shape)  # one\n"
        "    b = numpy.asarray(x)\n"
        "    np.add.at(a, [0], 1)\n"
        "    c = _stack([a, b])\n"
        "    d = np.lib.stride_tricks.as_strided(c, (1,), (8,))\n"
        "    e = ctx.xp.zeros(3) + np.pi + np.float32(1.0) + np.dtype('f').itemsize\n"
        "    with np.errstate(all='ignore'):\n"
        "        return 'np.zeros(1)', np.result_type(a, b)  # np.where(x)\n")
    (pkg / "ops" / "host.py").write_text("import numpy as np\nrows = np.arange(3)\n")
    (pkg / "ops" / "clean.py").write_text("def g(xp, x):\n    return xp.where(x > 0, x, 0)\n")
    sites = _numpy_sites(pkg)
    assert sorted(sites) == ["ember/ops/host.py", "ember/ops/planted.py"]
    assert [(n, name) for n, name, _ in sites["ember/ops/planted.py"]] == [
        (5, "zeros"), (6, "asarray"), (7, "add.at"), (8, "stack"), (9, "lib.stride_tricks.as_strided")]
    hits = _unexplained(sites, {}, [], {})
    assert [h.split(": ")[0] for h in hits] == ["ember/ops/host.py:2"] + [f"ember/ops/planted.py:{n}" for n in
                                                                         (5, 6, 7, 8, 9)]
    # the allowlists: a whole file, a line by substring, a TO CONVERT entry; stale entries are reported
    host_lines = [("ember/ops/planted.py", "np.zeros(x.shape)", "planted")]
    to_convert = {"ember/ops/planted.py": ["numpy.asarray(x)", "np.add.at(", "_stack(", "as_strided(c"]}
    assert _unexplained(sites, {"ember/ops/host.py": "planted"}, host_lines, to_convert) == []
    assert _unexplained(sites, {"ember/ops/host.py": "planted"}, host_lines, {}) == [
        f"ember/ops/planted.py:{n}: {text}" for n, _name, text in sites["ember/ops/planted.py"][1:]]
    assert _stale(sites, {"ember/ops/clean.py": "x"}, host_lines, {"ember/ops/planted.py": ["np.where("]}) == [
        "ember/ops/clean.py (whole file)", "ember/ops/planted.py: 'np.where('"]
