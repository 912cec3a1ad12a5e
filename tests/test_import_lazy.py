"""`import ember` loads no heavy module (issue 15): ml_dtypes, the optional subpackages and SciPy/scikit-learn load
on first use, and each is then reachable as before. Each check runs in a fresh interpreter; no timing asserted."""
import json
import subprocess
import sys

import pytest

HEAVY = ["ml_dtypes", "ember.onnx", "ember.distributed", "ember.distributions", "ember.nn", "ember.optim",
         "ember.profiler", "ember.fft", "ember.special", "ember.func", "ember.jit", "ember.hub", "ember.export",
         "ember.serialization", "ember.utils.data", "scipy", "sklearn", "onnx", "onnxruntime", "mpi4py", "cupy"]


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_ember_loads_no_heavy_module():
    loaded = _run(f"import json, sys, ember\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert loaded == []


def test_lazy_modules_load_on_first_access():
    code = """
import json, sys, ember
seen = {}
def first_use(name, fn):
    before = name in sys.modules
    fn()
    seen[name] = [before, name in sys.modules]
first_use("ml_dtypes", lambda: ember.ones(2, dtype=ember.bfloat16) * 1.5)
first_use("ember.distributions", lambda: ember.distributions.Normal(0.0, 1.0).log_prob(ember.tensor(0.0)))
first_use("ember.onnx", lambda: ember.onnx.export)
first_use("ember.distributed", lambda: ember.distributed.is_available())
first_use("ember.nn", lambda: ember.nn.Linear(2, 3))
first_use("ember.optim", lambda: ember.optim.SGD)
first_use("ember.profiler", lambda: ember.profiler.profile)
first_use("ember.fft", lambda: ember.fft.fft(ember.ones(4)))
first_use("ember.serialization", lambda: ember.save)
print(json.dumps(seen))
"""
    seen = _run(code)
    pytest.importorskip("ml_dtypes")
    assert seen == {name: [False, True] for name in seen}


def test_bfloat16_works_after_a_lazy_import():
    pytest.importorskip("ml_dtypes")
    got = _run("import json, ember\n"
               "x = ember.tensor([1.0, 2.5], dtype=ember.bfloat16) * 2\n"
               "print(json.dumps([str(ember.bfloat16), str(x.dtype), x.tolist(), ember.bfloat16.is_floating_point,"
               " ember.finfo(ember.bfloat16).bits]))")
    assert got == ["ember.bfloat16", "ember.bfloat16", [2.0, 5.0], True, 16]


def test_every_listed_name_is_importable():
    # dir(ember) lists the lazy names too; `from ember import X` works for each, and the lazy subpackages are
    # the modules themselves (ember.nn is sys.modules["ember.nn"])
    code = """
import json, sys, ember
missing = []
for name in dir(ember):
    try:
        exec(f"from ember import {name}", {})
    except Exception as e:
        missing.append([name, type(e).__name__])
same = all(getattr(ember, m) is sys.modules["ember." + m] for m in ("nn", "optim", "distributions", "onnx", "distributed"))
print(json.dumps([missing, same, len(dir(ember))]))
"""
    missing, same, count = _run(code)
    assert missing == [] and same and count > 500


def test_unknown_attribute_is_attribute_error():
    import ember
    with pytest.raises(AttributeError, match="module 'ember' has no attribute 'not_a_name'"):
        getattr(ember, "not_a_name")
