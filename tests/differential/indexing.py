"""Family (g): indexing. getitem / setitem with every kind of index (ints, slices with steps and negative bounds,
None, Ellipsis, bool masks as tensors and lists, int64 / int32 / 0-d / repeated / negative / broadcasting index
tensors, advanced indices split by a slice, lists of ints), index_put_, the index ops along a dim (index_select,
gather, scatter*, index_add / copy / fill), masks, take / put_ / take_along_dim, narrow / select / unbind /
split / chunk, on float tensors of 0-4 dims, contiguous or not (transposed, strided, expanded); then backward.

A step PyTorch refuses is run as its "!" variant: `try: ... except: v{i} = _exc(e)`, so the exception types
are compared (IndexError vs RuntimeError); a refused in-place write resets its target to zeros first, since
PyTorch's kernels write the elements before the bad index (what a failed write leaves is not defined).
PyTorch leaves undefined what setitem / index_copy / scatter / put_ write at a repeated index: those get
indices without repeats (index_put_(accumulate=True), scatter_add, index_add do get repeats)."""
import numpy as np
from hypothesis import strategies as st

from .gen import Builder, is_float_tensor
from .program import Family, Ref, Src, Step, Stmt, lit

PRELUDE = '''\
def _exc(e, target=None):
    """The exception's builtin class; a refused write zeroes its target (what it left is not defined)."""
    if target is not None:
        with torch.no_grad():
            if all(s for s, n in zip(target.stride(), target.shape) if n > 1):   # (not an expanded one)
                target.data.zero_()
    return next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")


def _w(t):
    """Weights 1, 2, 3, ... in t's shape: a backward that tells the positions apart."""
    return torch.arange(1, t.numel() + 1, dtype=t.dtype).reshape(t.shape)


'''

EXPR = {
    "getitem": "{0}[{1}]",
    "index_select": "torch.index_select({0}, {1}, {2})",
    "gather": "torch.gather({0}, {1}, {2})",
    "scatter": "{0}.scatter({1}, {2}, {3}{kw})",
    "scatter_add": "{0}.scatter_add({1}, {2}, {3})",
    "scatter_reduce": "{0}.scatter_reduce({1}, {2}, {3}, {4}{kw})",
    "index_add": "{0}.index_add({1}, {2}, {3}{kw})",
    "index_copy": "{0}.index_copy({1}, {2}, {3})",
    "index_fill": "{0}.index_fill({1}, {2}, {3})",
    "index_put": "{0}.index_put({1}, {2}{kw})",
    "masked_select": "torch.masked_select({0}, {1})",
    "masked_fill": "{0}.masked_fill({1}, {2})",
    "masked_scatter": "{0}.masked_scatter({1}, {2})",
    "take": "torch.take({0}, {1})",
    "take_along_dim": "torch.take_along_dim({0}, {1}{kw})",
    "put": "{0}.put({1}, {2}{kw})",
    "narrow": "{0}.narrow({1}, {2}, {3})",
    "select": "{0}.select({1}, {2})",
    "unbind": "{0}.unbind({1})",
    "split": "torch.split({0}, {1}, {2})",
    "chunk": "torch.chunk({0}, {1}, {2})",
    "tensor_split": "torch.tensor_split({0}, {1}, {2})",
    "item": "{0}[{1}]",
    "clone": "{0}.clone()",
    "mul2": "{0} * 2",
    "contig": "{0}.is_contiguous()",
    "stride": "[s for s, n in zip({0}.stride(), {0}.shape) if n > 1]",   # (a size-1 dim's stride is free)
}
INPLACE = {
    "setitem": Stmt("{0}[{1}] = {2}"),
    "index_put_": Stmt("{0}.index_put_({1}, {2}{kw})"),
    "scatter_": Stmt("{0}.scatter_({1}, {2}, {3}{kw})"),
    "scatter_add_": Stmt("{0}.scatter_add_({1}, {2}, {3})"),
    "index_add_": Stmt("{0}.index_add_({1}, {2}, {3}{kw})"),
    "index_copy_": Stmt("{0}.index_copy_({1}, {2}, {3})"),
    "index_fill_": Stmt("{0}.index_fill_({1}, {2}, {3})"),
    "masked_fill_": Stmt("{0}.masked_fill_({1}, {2})"),
    "masked_scatter_": Stmt("{0}.masked_scatter_({1}, {2})"),
    "put_": Stmt("{0}.put_({1}, {2}{kw})"),
}
INPUTS = {
    "tensor": "torch.tensor({0}{kw})", "zeros": "torch.zeros({0}{kw})",
    "t": "{0}.transpose(0, -1)", "strided": "{0}[..., 1::2]", "expand": "{0}.expand({1})",
    "backward": Stmt("({0} * _w({0})).sum().backward()"),
}
OPS = {**INPUTS, **EXPR, **INPLACE}
for _name, _template in list(EXPR.items()) + list(INPLACE.items()):    # the variants of refused steps
    if isinstance(_template, Stmt):
        OPS[_name + "!"] = Stmt(f"try:\n    {_template}\n    {{out}} = None\nexcept Exception as e:\n"
                                f"    {{out}} = _exc(e, {{0}})")
    else:
        OPS[_name + "!"] = Stmt(f"try:\n    {{out}} = {_template}\nexcept Exception as e:\n    {{out}} = _exc(e)")
OPS["backward!"] = Stmt("try:\n    ({0} * _w({0})).sum().backward()\n    {out} = None\n"
                        "except Exception as e:\n    {out} = _exc(e)")

FLOATS = [Src("torch.float32"), Src("torch.float32"), Src("torch.float64")]
GRID = [0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 1.5, -2.0, 3.0, -0.25]


def add(b, name, *args, **kwargs) -> Ref:
    """Append a step; one PyTorch refuses becomes its "!" variant (the exception types are compared)."""
    step = Step(name, args, tuple(kwargs.items()))
    if b.torch.run(len(b.steps), step) is not None:
        step = Step(name + "!", args, step.kwargs)
        b.torch.run(len(b.steps), step)
    b.steps.append(step)
    return Ref(len(b.steps) - 1)


def _shape(b, x):
    return tuple(b[x].shape)


def _nested(flat, shape):
    return np.array(flat, dtype=object).reshape(shape).tolist() if shape else flat[0]


def _numel(shape):
    return int(np.prod(shape, dtype=np.int64))


def new_tensor(b, shape, requires_grad=None):
    rg = b.chance(70) if requires_grad is None else requires_grad
    dt = b.choice(FLOATS)
    if 0 in shape:
        return add(b, "zeros", shape, dtype=dt, requires_grad=rg)
    return add(b, "tensor", _nested([b.choice(GRID) for _ in range(_numel(shape))], shape), dtype=dt,
               requires_grad=rg)


SHAPES = [(3,), (4,), (2, 3), (3, 4), (2, 3, 2), (2, 1, 3, 2), (), (0,), (2, 0), (1, 3), (4, 2)]


def new_input(b):
    """A leaf, or a transposed / strided / expanded view of one."""
    shape = b.choice(SHAPES)
    layout = b.choice(["plain", "plain", "t", "strided", "expand"]) if shape else "plain"
    if layout == "plain":
        return new_tensor(b, shape)
    if layout == "t":
        return add(b, "t", new_tensor(b, shape[-1:] + shape[1:-1] + shape[:1]))
    if layout == "strided":
        return add(b, "strided", new_tensor(b, shape[:-1] + (2 * shape[-1] + 1,)))
    small = tuple(1 if b.chance(50) else s for s in shape)
    return add(b, "expand", new_tensor(b, small[b.integer(0, len(small) - 1):]), shape)


# -- indices ------------------------------------------------------------------------------------------------

def _ints(b, n, count, oob=False, unique=False):
    """count ints addressing a dim of size n (negative ones too); one out of range if oob."""
    if unique:
        start = b.integer(0, max(n - 1, 0))
        vals = [(start + k) % n - (n if b.chance(30) else 0) for k in range(min(count, n))]
        vals = vals[::-1] if b.chance(50) else vals
    else:
        vals = [b.integer(-n, n - 1) if n else b.choice([0, -1]) for _ in range(count)]
    if oob:
        vals = vals or [0]
        vals[b.integer(0, len(vals) - 1)] = b.choice([n, -n - 1, n + 3])
    return vals


def _int_tensor(values, shape, int32=False):
    if not values and not shape:
        shape = (0,)
    dt = ", dtype=torch.int32" if int32 else ", dtype=torch.long" if not values else ""
    return f"torch.tensor({lit(_nested(values, shape) if shape else values[0])}{dt})" if values or not shape \
        else f"torch.zeros({lit(shape)}{dt})"


def _slice(b, n):
    def bound():
        return "" if b.chance(40) else str(b.integer(-n - 2, n + 2))
    start, stop = bound(), bound()
    step = b.choice(["", "", "2", "3"] + (["0", "-1"] if b.chance(3) else []))
    text = f"{start}:{stop}" + (f":{step}" if step else "")
    return text if text != ":" or b.chance(50) else "::2"


def index_expr(b, x, unique=False):
    """A random index for the tensor at x, as source text (it is pasted into `x[...]`)."""
    shape = _shape(b, x)
    nd = len(shape)
    oob = b.chance(6)
    if nd and b.chance(8):
        return Src(f"{x} > 0" if b.chance(50) else f"{x} < 0.5")
    adv = b.choice([(), (1,), (2,), (3,), (2, 2), (0,)])
    parts, d = [], 0            # parts: (text, dims consumed)
    budget = min(nd + (1 if b.chance(5) else 0), 4)
    has_mask = False
    for _ in range(b.integer(1, max(budget, 1))):
        if d >= budget:
            break
        n = shape[d] if d < nd else 1
        kind = b.choice(["int", "slice", "slice", "tensor", "list", "mask", "none", "ell"] if n else
                        ["slice", "tensor", "mask", "none", "int"])
        if kind == "int":
            parts.append((str(_ints(b, n, 1, oob)[0]), 1))
            oob = False
        elif kind == "slice":
            parts.append((_slice(b, n), 1))
        elif kind == "none":
            parts.append(("None", 0))
            d -= 1
        elif kind == "ell":
            if any(t == "..." for t, _ in parts):
                parts.append(("None", 0))
                d -= 1
            else:
                rest = b.integer(0, max(nd - d - 1, 0))
                parts.append(("...", nd - d - rest))
                d = nd - rest - 1
        elif kind == "mask" and not has_mask:
            k = b.integer(1, max(1, min(2, nd - d)))
            mshape = shape[d:d + k] if d + k <= nd else (n,)
            bools = [b.chance(50) for _ in range(_numel(mshape))]
            if k == 1 and b.chance(40):
                text = lit(bools) if mshape[0] else "torch.zeros(0, dtype=torch.bool)"
            else:
                text = f"torch.tensor({lit(_nested(bools, mshape))})" if bools else \
                    f"torch.zeros({lit(mshape)}, dtype=torch.bool)"
            if b.chance(5):     # a mask of the wrong length
                text = f"torch.ones({n + 1}, dtype=torch.bool)"
            parts.append((text, k))
            has_mask = True
            d += k - 1
        else:                   # an index tensor or a list of ints, broadcasting to adv
            ishape = adv[b.integer(0, len(adv)):] if adv else ()
            ishape = tuple(1 if b.chance(25) else s for s in ishape)
            vals = _ints(b, n, _numel(ishape), oob, unique) if _numel(ishape) else []
            if oob or (unique and len(vals) < _numel(ishape)):
                ishape = (len(vals),)
            oob = False
            if kind == "list" and ishape:
                parts.append((lit(_nested(vals, ishape)) if vals else "[]", 1))
            else:
                parts.append((_int_tensor(vals, ishape, b.chance(30)), 1))
        d += 1
    text = ", ".join(t for t, _ in parts) or "..."
    if len(parts) == 1 and parts[0][0].startswith("[") and b.chance(50):
        text += ","             # x[[0, 1],]: a tuple holding one list
    if unique and not _no_repeats(b, x, text):
        return Src(b.choice(["0", "1:", "...", "::2"]) if nd else "...")
    return Src(text)


def _no_repeats(b, x, text) -> bool:
    """x[text] addresses no element twice (PyTorch leaves a write to a repeated element undefined)."""
    torch = b.torch.ns["torch"]
    ns = dict(b.torch.ns, _ids=torch.arange(max(_numel(_shape(b, x)), 1))[:_numel(_shape(b, x))]
              .reshape(_shape(b, x)))
    try:
        ids = eval(f"_ids[{text}]", ns)
    except Exception:
        return True             # raises: fine, the exception is compared
    return ids.numel() == ids.flatten().unique().numel()


def _result_shape(b, x, text):
    try:
        return tuple(eval(f"{x}[{text}]", dict(b.torch.ns)).shape)
    except Exception:
        return None


def value_for(b, shape):
    """A value to write into a region of `shape`: a scalar, a 0-d tensor, or a tensor broadcasting to it."""
    form = b.choice(["scalar", "tensor", "tensor", "broadcast", "zero_d", "int"])
    if form == "scalar" or shape is None:
        return b.choice([2.5, -1.0, 0.0, 7])
    if form == "int":
        return Src(f"torch.ones({lit(shape)}, dtype=torch.long)")
    if form == "zero_d":
        return new_tensor(b, ())
    if form == "broadcast" and shape:
        shape = tuple(1 if b.chance(40) else s for s in shape)[b.integer(0, len(shape)):]
    if b.chance(4):
        shape = shape + (2,)    # does not broadcast
    return new_tensor(b, shape)


def _dim(b, x):
    n = max(len(_shape(b, x)), 1)
    return b.integer(-n, n - 1) if not b.chance(4) else n


def _idx1d(b, n, unique=False):
    """A 1-d (sometimes 0-d) int64 / int32 index along a dim of size n."""
    count = b.integer(0, 4)
    vals = _ints(b, n, count, b.chance(6), unique)
    if b.chance(15) and len(vals) == 1:
        return Src(_int_tensor(vals, (), b.chance(30))), 1
    return Src(_int_tensor(vals, (len(vals),), b.chance(30))), len(vals)


def _along_index(b, x, dim, unique=False, in_range=False):
    """An index tensor for gather / scatter: x's ndim, each size <= x's, values in range along dim
    (each line along dim without repeats if unique)."""
    shape = _shape(b, x) or ()
    nd = len(shape)
    d = dim % nd if nd else 0
    ishape = tuple(b.integer(0, s) if b.chance(40) else s for s in shape)
    n = shape[d] if nd else 1
    if unique and nd:
        ishape = ishape[:d] + (min(ishape[d], n),) + ishape[d + 1:]
    count = _numel(ishape)
    if unique and nd and count:
        offs = [b.integer(0, n - 1) for _ in range(count // max(ishape[d], 1))]
        grid = np.indices(ishape)
        lines = np.ravel_multi_index(tuple(np.delete(grid, d, 0)), tuple(np.delete(ishape, d))) \
            if nd > 1 else np.zeros(ishape, dtype=int)
        vals = ((grid[d] + np.array(offs)[lines]) % n).ravel().tolist()
    else:
        vals = [b.integer(0, max(n - 1, 0)) for _ in range(count)] if n else [0] * count
    if b.chance(6) and count and not in_range:
        vals[b.integer(0, count - 1)] = b.choice([n, -1])
    if not nd:
        return Src(_int_tensor(vals, (), False)), ishape
    return Src(_int_tensor(vals, ishape, b.chance(20))), ishape


def _mask(b, shape):
    """A bool mask broadcasting to shape."""
    if shape and b.chance(30):
        shape = tuple(1 if b.chance(40) else s for s in shape)[b.integer(0, len(shape)):]
    bools = [b.chance(50) for _ in range(_numel(shape))]
    return Src(f"torch.tensor({lit(_nested(bools, shape))})" if bools else
               f"torch.zeros({lit(shape)}, dtype=torch.bool)")


def draw_op(b, x, target):
    """One random op on x (target: a tensor that may be written in place), appended; its ref."""
    shape = _shape(b, x)
    nd = len(shape)
    name = b.choice(["getitem", "getitem", "getitem", "setitem", "setitem", "index_put", "index_select",
                     "gather", "scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy",
                     "index_fill", "masked_select", "masked_fill", "masked_scatter", "take", "take_along_dim",
                     "put", "narrow", "select", "unbind", "split", "chunk", "tensor_split"])
    inplace = b.chance(50)
    if name == "getitem":
        return add(b, name, x, index_expr(b, x))
    if name == "setitem":
        idx = index_expr(b, target, unique=True)
        return add(b, name, target, idx, value_for(b, _result_shape(b, target, idx)))
    if name == "index_put":
        acc = b.chance(50)
        tshape = _shape(b, target)
        k = b.integer(1, max(1, min(2, len(tshape))))
        n_adv = b.choice([1, 2, 3])
        idx = []
        for j in range(k):
            n = tshape[j] if j < len(tshape) else 1
            vals = _ints(b, n, n_adv, b.chance(5), unique=not acc)
            idx.append(_int_tensor(vals, (len(vals),), b.chance(30)))
        text = Src("(" + ", ".join(idx) + ",)")
        if not acc and not _no_repeats(b, target, text[1:-2]):
            acc = True
        value = value_for(b, _result_shape(b, target, text[1:-2]))
        if inplace:
            return add(b, "index_put_", target, text, value, accumulate=acc)
        return add(b, "index_put", target, text, value, accumulate=acc)
    dim = _dim(b, x)
    n = shape[dim % nd] if nd and -nd <= dim < nd else 1
    if name == "index_select":
        return add(b, name, x, dim, _idx1d(b, n)[0])
    if name == "gather":
        return add(b, name, x, dim, _along_index(b, x, dim)[0])
    if name in ("scatter", "scatter_add", "scatter_reduce"):
        tgt = target if inplace and name != "scatter_reduce" else x
        tshape = _shape(b, tgt)
        dim = _dim(b, tgt)
        reduce = b.choice([None, "add", "multiply"]) if name == "scatter" else None
        idx, ishape = _along_index(b, tgt, dim, unique=name == "scatter" and reduce is None)
        if name == "scatter" and b.chance(30):
            src = b.choice([1.5, -2.0, 0])
        elif name != "scatter":     # (PyTorch 2.13's scatter_add/reduce backward refuses a src larger than index)
            src = new_tensor(b, ishape if tshape else ())
        else:
            src = new_tensor(b, tuple(s + (1 if b.chance(20) else 0) for s in ishape) if tshape else ())
        kw = {"reduce": reduce} if reduce else {}
        if name == "scatter_reduce":
            kw = {"include_self": b.chance(50)}
            return add(b, name, x, dim, idx, src, b.choice(["sum", "prod", "mean", "amax", "amin"]), **kw)
        return add(b, name + "_" if inplace else name, tgt, dim, idx, src, **kw)
    if name in ("index_add", "index_copy", "index_fill"):
        tgt = target if inplace else x
        tshape = _shape(b, tgt)
        dim = _dim(b, tgt)
        tn = tshape[dim % len(tshape)] if tshape and -len(tshape) <= dim < len(tshape) else 1
        idx, k = _idx1d(b, tn, unique=name == "index_copy")
        kw = {"alpha": b.choice([2, -0.5])} if name == "index_add" and b.chance(40) else {}
        if name == "index_fill":
            src = new_tensor(b, ()) if b.chance(40) else b.choice([1.5, -3.0, 0])
        else:
            sshape = list(tshape)
            if sshape and -len(sshape) <= dim < len(sshape):
                sshape[dim] = k if not b.chance(5) else k + 1
            src = new_tensor(b, tuple(sshape))
        return add(b, name + "_" if inplace else name, tgt, dim, idx, src, **kw)
    if name == "masked_select":
        return add(b, name, x, _mask(b, shape))
    if name == "masked_fill":
        tgt = target if inplace else x
        value = new_tensor(b, ()) if b.chance(40) else b.choice([1.5, -3.0, 0, float("inf")])
        return add(b, name + "_" if inplace else name, tgt, _mask(b, _shape(b, tgt)), value)
    if name == "masked_scatter":
        tgt = target if inplace else x
        tshape = _shape(b, tgt)
        src = new_tensor(b, tshape if b.chance(60) else (_numel(tshape) + 1,) if b.chance(80) else (1,))
        return add(b, name + "_" if inplace else name, tgt, _mask(b, tshape), src)
    if name == "take":
        total = _numel(shape)
        ishape = b.choice([(), (3,), (2, 2), (0,)])
        vals = _ints(b, total, _numel(ishape), b.chance(6)) if total or b.chance(10) else []
        if len(vals) != _numel(ishape):
            ishape = (len(vals),)
        return add(b, name, x, Src(_int_tensor(vals, ishape, b.chance(20))))
    if name == "take_along_dim":
        if b.chance(25) and b[x].is_contiguous():  # (PyTorch 2.13 views a non-contiguous input: raises)
            total = _numel(shape)
            vals = _ints(b, total, 3) if total else []
            return add(b, name, x, Src(_int_tensor(vals, (len(vals),))))
        idx, _ = _along_index(b, x, dim, in_range=True)     # (PyTorch 2.13 reads out of bounds unchecked)
        return add(b, name, x, idx, dim=dim)
    if name == "put":
        tgt = target if inplace else x
        total = _numel(_shape(b, tgt))
        acc = b.chance(50)
        vals = _ints(b, total, b.integer(0, 4), b.chance(6), unique=not acc) if total else []
        src = new_tensor(b, (len(vals) + (1 if b.chance(5) else 0),))
        return add(b, "put_" if inplace else "put", tgt, Src(_int_tensor(vals, (len(vals),))), src,
                   accumulate=acc)
    if name == "narrow":
        start = b.integer(-n, n) if n else 0
        length = b.integer(0, max(n - start % max(n, 1), 0)) if not b.chance(5) else n + 1
        return add(b, name, x, dim, Src(f"torch.tensor({start})") if b.chance(20) else start, length)
    if name == "select":
        return add(b, name, x, dim, _ints(b, n, 1, b.chance(6))[0] if n else 0)
    if name == "unbind":
        return add(b, name, x, dim)
    if name == "split":
        if b.chance(50):
            sizes = []
            while sum(sizes) < n:
                sizes.append(b.integer(0, n - sum(sizes)))
            if b.chance(10):
                sizes.append(1)
            return add(b, name, x, sizes or [0], dim)
        return add(b, name, x, b.integer(1, 3), dim)
    if name == "chunk":
        return add(b, name, x, b.integer(1, 4), dim)
    return add(b, name, x, b.choice([2, 3, [1], [0, 2], [2, 1], Src("torch.tensor([1, 3])")]), dim)


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY)
    pool = [new_input(b) for _ in range(b.integer(1, 2))]
    for _ in range(b.integer(1, 5)):
        x = b.choice(pool[::-1])
        writable = b.refs(lambda v: v.dtype.is_floating_point and (not v.is_leaf or not v.requires_grad))
        writable = [r for r in writable if r in pool]
        target = b.choice(writable[::-1]) if writable and not b.chance(20) else add(b, "clone", x)
        if target not in pool and is_float_tensor(b[target]):
            pool.append(target)
        out = draw_op(b, x, target)
        v = b[out]
        if isinstance(v, tuple) and v:
            out = add(b, "item", out, b.integer(-len(v), len(v) - 1))
            v = b[out]
        if is_float_tensor(v):
            if b.chance(20):       # (ember's empty tensors have strides 0, PyTorch's contiguous ones)
                add(b, b.choice(["contig", "stride"]) if v.numel() else "contig", out)
            pool.append(out)
            if b.chance(20):
                pool.append(add(b, "mul2", out))
    grads = [r for r in pool if is_float_tensor(b[r]) and b[r].requires_grad]
    add(b, "backward", b.choice(grads[::-1]) if grads and not b.chance(5) else pool[-1])
    return b.program()


FAMILY = Family("indexing", OPS, programs, prelude=PRELUDE)
