"""The backend boundary: only ember/_backends/ knows NumPy from CuPy, so no other module of ember imports or
calls CuPy, and `import ember` does not load it."""
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
