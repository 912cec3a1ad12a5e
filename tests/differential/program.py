"""Programs as plain data, one interpreter for both libraries, and what is compared after each step.

A program is a tuple of `Step`s. A step names an op of its family's table, a one-line Python template over
`torch` (ember or PyTorch), `F` (`torch.nn.functional`) and `pt` (always PyTorch), and gives its arguments:
`Ref(i)` (the value of step i, the variable `v{i}`), `Src` (source text pasted as is) or a plain literal.
The interpreter renders each step to one line and executes it, so the reproducer printed for a failure is
exactly the code that ran, and hypothesis shrinks a failure by shrinking the list.
"""
import functools
import io
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np

import ember

try:
    import torch as _torch
except ImportError:             # the tests skip; importing this module must still work
    _torch = None


@dataclass(frozen=True)
class Ref:
    """The value made by step `i` (the variable `v{i}`)."""
    i: int

    def __repr__(self):
        return f"v{self.i}"


class Src(str):
    """Source text pasted into the line as it is: a dtype, an index expression, a lambda."""

    def __repr__(self):
        return str(self)


class Stmt(str):
    """An op template that is a statement (`x.backward()`): its line assigns nothing, unless it says `{out} =`
    (`with torch.no_grad(): {out} = {0}[1:]`)."""


@dataclass(frozen=True)
class Step:
    op: str             # key of the family's op table
    args: tuple = ()    # fill the template's {0}, {1}, ...
    kwargs: tuple = ()  # (name, value) pairs, rendered as `, name=value` where the template says {kw}


def lit(x) -> str:
    """Python source of an argument."""
    if isinstance(x, float):
        return "nan" if math.isnan(x) else ("-inf" if x < 0 else "inf") if math.isinf(x) else repr(x)
    if isinstance(x, list):
        return "[" + ", ".join(map(lit, x)) + "]"
    if isinstance(x, tuple):
        return "(" + ", ".join(map(lit, x)) + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in x.items()) + "}"
    return repr(x)


@dataclass(frozen=True)
class Family:
    """A kind of program: its op table, the lines run before the first step, and its strategy."""
    name: str
    ops: dict           # op name -> template (str, or Stmt)
    programs: object    # () -> hypothesis strategy of Program
    prelude: str = ""
    # after an expression step, observe only its value (a statement, or any step with this flag, may change
    # earlier values: observe everything); everything is observed after the last step in any case
    observe_all: bool = False
    float32_loose: float = 1.0  # float32 tolerance x this (nn models: float32 noise through normalizations)
    exception_types: bool = False   # both raising with different exception types is a divergence, not a note

    def line(self, i: int, step: Step) -> str:
        template = self.ops[step.op]
        kw = "".join(f", {k}={lit(v)}" for k, v in step.kwargs)
        text = template.format(*map(lit, step.args), kw=kw, out=f"v{i}").replace("(, ", "(")
        return text if isinstance(template, Stmt) else f"v{i} = {text}"


HEADER = """\
import io
import math
from math import inf, nan

import torch  # or: import ember as torch
{pt}F = torch.nn.functional
torch.manual_seed(0)
"""


@dataclass(frozen=True)
class Program:
    family: Family
    steps: tuple

    def source(self, upto=None, lib="torch") -> str:
        """The program as a script; `lib="ember"` writes `import ember as torch`."""
        uses_pt = bool(re.search(r"\bpt\.", "".join(self.family.ops.values()) + self.family.prelude))
        head = HEADER.format(pt="import torch as pt  # PyTorch in both runs\n" if uses_pt else "")
        if uses_pt:
            head += "pt.manual_seed(0)\n"
        if lib == "ember":
            head = head.replace("import torch  # or: import ember as torch", "import ember as torch")
        body = [self.family.line(i, s) for i, s in enumerate(self.steps[:upto])]
        return head + self.family.prelude + "\n".join(body) + "\n"

    def ops(self) -> frozenset:
        return frozenset(s.op for s in self.steps)

    def __repr__(self):
        return "\n" + self.source()

    def _repr_pretty_(self, p, cycle):  # what hypothesis prints for a falsifying example
        p.text(repr(self))


@functools.lru_cache(maxsize=8192)
def _compiled(line: str):
    return compile(line, "<step>", "exec")


class Interpreter:
    """Runs a program's steps, one at a time, with `torch` bound to module `m` (ember or PyTorch)."""

    def __init__(self, m, family: Family):
        self.m, self.family = m, family
        self.ns = {"torch": m, "F": m.nn.functional, "pt": _torch, "io": io, "math": math,
                   "nan": math.nan, "inf": math.inf}
        m.set_default_dtype(m.float32)
        m.set_grad_enabled(True)
        m.default_generator.manual_seed(0)      # (torch.manual_seed also seeds every accelerator: slow)
        _torch.default_generator.manual_seed(0)
        exec(family.prelude, self.ns)

    def run(self, i: int, step: Step):
        """Execute step i; return the exception it raised, or None."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(_compiled(self.family.line(i, step)), self.ns)
        except Exception as e:          # both libraries raising is fine: the comparison decides
            self.ns[f"v{i}"] = None
            return e
        finally:
            self.m.set_grad_enabled(True)
        return None

    def value(self, i: int):
        return self.ns.get(f"v{i}")

    def facts(self, steps) -> dict:
        """(path, attribute) -> value for what these steps made; paths are Python expressions."""
        out = {}
        for i in steps:
            if f"v{i}" in self.ns:
                observe(f"v{i}", self.ns[f"v{i}"], out)
        return out


# -- what is observed -------------------------------------------------------------------------------------

_TENSORS = (ember.Tensor,) + ((_torch.Tensor,) if _torch is not None else ())


def _numpy(t):
    t = t.detach()
    if str(t.dtype).endswith(("bfloat16", "float16")):
        t = t.float()
    return np.array(t.numpy())


def observe(path: str, x, out: dict, grad=True):
    """Record the facts about x that must agree between the libraries."""
    try:
        _observe(path, x, out, grad)
    except Exception as e:      # PyTorch refuses to show some tensors (a split output modified in place)
        out[path, "observing-raised"] = type(e).__name__


def _observe(path, x, out, grad):
    if isinstance(x, _TENSORS):
        out[path, "type"] = "Tensor"
        out[path, "class"] = type(x).__name__
        out[path, "dtype"] = str(x.dtype).rsplit(".", 1)[-1]
        out[path, "shape"] = tuple(x.shape)
        out[path, "requires_grad"] = x.requires_grad
        out[path, "is_leaf"] = x.is_leaf
        out[path, "grad_fn"] = x.grad_fn is None
        out[path, "value"] = _numpy(x)
        if grad and x.is_leaf:
            observe(f"{path}.grad", x.grad, out, grad=False)
    elif x is None or isinstance(x, (bool, int, float, str)):
        out[path, "type"] = type(x).__name__
        out[path, "value"] = x
    elif isinstance(x, (list, tuple)):
        out[path, "len"] = len(x)
        for k, item in enumerate(x):
            observe(f"{path}[{k}]", item, out, grad)
    elif isinstance(x, dict):
        out[path, "keys"] = sorted(map(repr, x))
        for k, item in x.items():
            observe(f"{path}[{k!r}]", item, out, grad)
    elif hasattr(x, "param_groups") and hasattr(x, "state_dict"):    # an optimizer
        observe(f"{path}.state_dict()", x.state_dict(), out, grad=False)
    elif hasattr(x, "get_last_lr"):                                   # an lr scheduler
        observe(f"{path}.get_last_lr()", x.get_last_lr(), out)
        observe(f"{path}.last_epoch", getattr(x, "last_epoch", None), out)
    elif hasattr(x, "named_parameters") and hasattr(x, "named_buffers"):   # an nn.Module
        out[path, "training"] = x.training
        for name, p in x.named_parameters():
            observe(f"{path}.get_parameter({name!r})", p, out)
        for name, b in x.named_buffers():
            observe(f"{path}.get_buffer({name!r})", b, out)
    # anything else (grad_fn objects, buffers, closures) is not compared


# -- comparing --------------------------------------------------------------------------------------------

# (rtol, atol) per dtype: |ember - torch| <= atol * max(1, largest finite |torch| in the tensor) + rtol * |torch|.
# float32's atol is 1e-4: one ulp apart near a zero of cos (sin(exp(exp(cos(x)))) backward) or through a
# normalization already moves a result by ~3e-5 of the tensor's scale, while a wrong formula moves it by O(1)
TOLERANCES = {"float32": (1e-5, 1e-4), "float64": (1e-10, 1e-10), "float16": (1e-3, 1e-3),
              "bfloat16": (1e-2, 1e-2), "complex64": (1e-5, 1e-4), "complex128": (1e-10, 1e-10)}
FLOAT_TOL = (1e-10, 1e-15)      # Python floats (learning rates)


def _close_arrays(a: np.ndarray, b: np.ndarray, dtype: str, loose=1.0) -> bool:
    if a.shape != b.shape:
        return False
    if dtype not in TOLERANCES or np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
        return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        return _close_arrays(a.real, b.real, dtype, loose) and _close_arrays(a.imag, b.imag, dtype, loose)
    a, b = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(b)
    if not np.array_equal(np.isnan(a), np.isnan(b)) or not np.array_equal(a[~finite & ~np.isnan(b)],
                                                                            b[~finite & ~np.isnan(b)]):
        return False
    if not np.array_equal(np.isfinite(a), finite):
        return False
    rtol, atol = (t * loose for t in TOLERANCES[dtype])
    scale = max(1.0, float(np.abs(b[finite]).max())) if finite.any() else 1.0
    return bool(np.all(np.abs(a[finite] - b[finite]) <= atol * scale + rtol * np.abs(b[finite])))


def _same(attr, a, b, dtype, loose=1.0) -> bool:
    if attr == "value" and isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and _close_arrays(a, b, dtype, loose)
    if isinstance(a, float) and isinstance(b, float) and not isinstance(a, bool):
        if math.isnan(a) or math.isnan(b) or math.isinf(b):
            return (math.isnan(a) and math.isnan(b)) or a == b
        rtol, atol = FLOAT_TOL
        return abs(a - b) <= atol + rtol * abs(b)
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Divergence:
    step: int       # the step after which the two runs differ
    kind: str       # "value", "grad:value", "raises-only-ember", "dtype", ...
    where: str      # a Python expression naming what differs (`v3.grad.dtype`), or "" for raises
    torch: str      # what PyTorch says
    ember: str      # what ember says

    def describe(self) -> str:
        return f"after step {self.step}: {self.kind} at {self.where or 'the step'}: " \
               f"torch {self.torch} | ember {self.ember}"


_SHOWN = {"requires_grad": ".requires_grad", "is_leaf": ".is_leaf", "grad_fn": ".grad_fn", "dtype": ".dtype",
          "shape": ".shape", "len": "", "keys": ".keys()", "training": ".training"}


def _where(path: str, attr: str) -> str:
    """A Python expression showing the differing attribute."""
    if attr == "class":
        return f"type({path})"
    return path + _SHOWN.get(attr, "")


def _kind(path: str, attr: str) -> str:
    for marker, prefix in ((".grad", "grad:"), (".state_dict()", "state:"), (".get_buffer(", "buffer:"),
                           (".get_parameter(", "param:"), (".get_last_lr()", "lr:")):
        if marker in path:
            return prefix + attr
    return attr


def _show(x) -> str:
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=8, threshold=20).replace("\n", "")
    text = repr(x)
    return text if len(text) < 200 else text[:200] + "..."


def compare(step: int, ref: dict, emb: dict, mixed=False, loose=1.0):
    """The first fact that differs, as a Divergence, or None. In a program that mixes float32 and float64,
    float64 values are compared with float32's tolerance (they may come from float32 intermediates);
    `loose` widens float32's tolerance for families of deeper computations."""
    for key, b in ref.items():
        path, attr = key
        if key not in emb:
            return Divergence(step, _kind(path, "missing:" + attr), path, f"has {attr}={_show(b)}", "has none")
        a = emb[key]
        dtype = ref.get((path, "dtype"))
        if not _same(attr, a, b, "float32" if mixed and dtype == "float64" else dtype,
                     loose if dtype in ("float32", "complex64") or mixed else 1.0):
            return Divergence(step, _kind(path, attr), _where(path, attr), _show(b), _show(a))
    for key in emb.keys() - ref.keys():
        return Divergence(step, _kind(key[0], "extra:" + key[1]), key[0], "has none",
                          f"has {key[1]}={_show(emb[key])}")
    return None


def class_of(program: Program, d: Divergence) -> tuple:
    """The class of a divergence: family, the op of the step where the runs part, the kind."""
    return program.family.name, program.steps[d.step].op, d.kind


def fails_as(key):
    """A predicate on programs: diverges in class `key`."""
    def fails(program):
        d, _ = check(program)
        return d is not None and class_of(program, d) == key
    return fails


def _exc(e) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first[:160]}"


def check(program: Program):
    """Run the program under PyTorch and ember side by side: (first Divergence or None, notes).

    Notes are differences that do not fail a test: both raised, with different exception types."""
    ref, emb = Interpreter(_torch, program.family), Interpreter(ember, program.family)
    notes, mixed = [], False
    for i, step in enumerate(program.steps):
        e_ref, e_emb = ref.run(i, step), emb.run(i, step)
        if e_ref is not None and e_emb is None:
            return Divergence(i, "raises-only-torch", "", _exc(e_ref), "runs"), notes
        if e_emb is not None and e_ref is None:
            return Divergence(i, "raises-only-ember", "", "runs", _exc(e_emb)), notes
        if e_ref is not None and not _same_exception_type(e_ref, e_emb):
            if program.family.exception_types:
                return Divergence(i, "exception-type", "", _exc(e_ref), _exc(e_emb)), notes
            notes.append(Divergence(i, "exception-type", "", _exc(e_ref), _exc(e_emb)))
        everything = (program.family.observe_all or e_ref is not None or i == len(program.steps) - 1
                      or isinstance(program.family.ops[step.op], Stmt))
        seen = range(i + 1) if everything else (i,)
        facts = ref.facts(seen)
        mixed = mixed or any(k[1] == "dtype" and v == "float32" for k, v in facts.items())
        d = compare(i, facts, emb.facts(seen), mixed, program.family.float32_loose)
        if d is not None:
            return d, notes
    return None, notes


def _same_exception_type(a, b) -> bool:
    # PyTorch's C++-made classes have a leading underscore: torch.linalg.LinAlgError is torch._C._LinAlgError
    return type(a).__name__.lstrip("_") == type(b).__name__ or isinstance(b, type(a))


def reproducer(program: Program, d: Divergence, lib="torch") -> str:
    """The program up to the diverging step, with a last line that prints what differs."""
    text = program.source(upto=d.step + 1, lib=lib)
    if d.where:
        text += f"print({d.where})  # torch: {d.torch} | ember: {d.ember}\n"
    else:
        text += f"# torch: {d.torch} | ember: {d.ember}\n"
    return text
