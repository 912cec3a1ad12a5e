"""Family (f): checkpoints across the libraries. Objects made with `torch` are written by `torch.save` and read
by PyTorch (`pt.load(..., weights_only=True)`); objects made with PyTorch are written by `pt.save` (zip and
legacy format) and read by `torch.load`. In the PyTorch run both sides are PyTorch, so the ember run must
load the same values, dtypes, classes, requires_grad flags and storage sharing (an in-place op on one loaded
tensor shows whether its views were loaded as views)."""
from hypothesis import strategies as st

from .gen import Builder
from .program import Family, Src, Stmt

DTYPES = ["float32", "float64", "int64", "bool", "float16", "bfloat16", "int32", "int8", "uint8", "complex64"]
SHAPES = [(3,), (2, 3), (), (0,), (2, 0, 3)]

OPS = {
    "tensor": "{0}.arange({1}).reshape({2}).to({0}.{3})",
    "zeros": "{0}.zeros({1}, dtype={0}.{2})",
    "param": "{0}.nn.Parameter({0}.linspace(-1, 1, 4).reshape({1}))",
    "requires_grad": "{0}.linspace(-1, 1, 4).reshape({1}).requires_grad_()",
    "view": "{0}{1}",
    "dict": "{0}",
    "list": "{0}",
    "module_state": "module_state({0})",
    "optim_state": "trained_optimizer_state({0})",
    "to_torch": "pt.load(saved_by(torch, {0}), weights_only=True)",
    "from_torch": "torch.load(saved_by(pt, {0}))",
    "from_torch_legacy": "torch.load(saved_by(pt, {0}, _use_new_zipfile_serialization=False))",
    "roundtrip": "torch.load(saved_by(torch, {0}))",
    "add_": Stmt("{0}.add_(1)"),
}
PRELUDE = '''\
def saved_by(lib, obj, **kwargs):
    buf = io.BytesIO()
    lib.save(obj, buf, **kwargs)
    buf.seek(0)
    return buf


def module_state(lib):
    lib.manual_seed(0)      # (in the PyTorch run `torch` and `pt` share one generator)
    return lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3)).state_dict()


def trained_optimizer_state(lib):
    p = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    opt = lib.optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    return opt.state_dict()
'''
VIEWS = [Src("[1:]"), Src(".t()"), Src("[..., ::2]"), Src(".view(-1)"), Src("[0]")]


def thing(b, lib):
    """A tensor, a view of one, a Parameter, a state_dict or a container of those, made by `lib`."""
    kind = b.choice(["tensor", "tensor", "view", "param", "requires_grad", "module_state", "optim_state", "dict"])
    if kind in ("tensor", "view"):
        shape = b.choice(SHAPES)
        n = 1
        for s in shape:
            n *= s
        t = b.add("tensor", lib, n, shape, Src(b.choice(DTYPES))) if n else \
            b.add("zeros", lib, shape, Src(b.choice(DTYPES)))
        return b.add("view", t, b.choice(VIEWS)) if kind == "view" else t
    if kind in ("param", "requires_grad"):
        return b.add(kind, lib, b.choice([(4,), (2, 2)]))
    if kind in ("module_state", "optim_state"):
        return b.add(kind, lib)
    base = b.add("tensor", lib, 6, (2, 3), Src("float32"))
    view = b.add("view", base, b.choice(VIEWS))
    items = {"w": base, "v": view, "n": 3, "f": 0.5, "s": "x", "none": None, "t": (1, 2)}
    return b.add("dict", {k: items[k] for k in b.draw(st.lists(st.sampled_from(list(items)), min_size=1,
                                                                 unique=True))})


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY)
    for _ in range(b.integer(1, 3)):
        direction = b.choice(["to_torch", "from_torch", "from_torch_legacy", "roundtrip"])
        obj = thing(b, Src("pt" if direction.startswith("from") else "torch"))
        loaded = b.add(direction, obj)
        if b.chance(30):
            value = b[loaded]
            key = b.choice(sorted(value)) if isinstance(value, dict) and value else None
            b.add("add_", Src(f"{loaded!r}[{key!r}]") if key is not None else loaded)
    return b.program()


FAMILY = Family("save_load", OPS, programs, PRELUDE, observe_all=True)
