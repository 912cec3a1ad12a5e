"""Family: dtypes and type promotion. Tensors of bool, the integer types, float16/32/64 and complex64 (and
0-d tensors and Python bool/int/float/complex scalars beside them) through arithmetic in both orders,
comparisons, bitwise ops, reductions with and without dtype=, conversions, in-place ops whose result cannot
be cast back, out= of another dtype, integer division by zero, and torch.result_type / promote_types /
can_cast. Both libraries must agree on every dtype, value and exception type.

Conversions whose result PyTorch leaves undefined are never drawn: nan, infinities and values outside the
target's range (negative floats into uint8 among them) going into an integer type. bfloat16 tensors need
the optional ml_dtypes package, so bfloat16 appears only as a dtype (promote_types, can_cast, finfo)."""
import numpy as np
from hypothesis import strategies as st

from .gen import Builder, broadcastable
from .program import Family, Src, Stmt, _torch

INTS = ["uint8", "int8", "int16", "int32", "int64"]
FLOATS = ["float16", "float32", "float64"]
DTYPES = ["bool"] + INTS + FLOATS + ["complex64"]
ALL_DTYPES = DTYPES + ["bfloat16", "complex128"]      # as dtype objects only
RANGE = {"uint8": (0, 255), "int8": (-128, 127), "int16": (-2 ** 15, 2 ** 15 - 1),
         "int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}

# element values per dtype: small ones (ties, zeros for division by zero) and some that wrap around
GRIDS = {
    "bool": [True, False],
    "uint8": [0, 1, 2, 3, 5, 200, 255],
    "int8": [0, 1, -1, 2, -3, 5, 100, -100, 127],
    "int16": [0, 1, -1, 2, -3, 7, 300, -30000],
    "int32": [0, 1, -1, 2, -3, 7, 70000, -2 ** 31 + 1],
    "int64": [0, 1, -1, 2, -3, 7, 2 ** 40, -5],
    "float16": [0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 1.5, -2.5, 3.0, 1000.0],
    "float32": [0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 1.5, -2.5, 3.0, 70000.0, -3.75],
    "float64": [0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 1.5, -2.5, 3.0, 1e10, -3.75],
    "complex64": [1 + 2j, -0.5j, 0j, 2 - 1j, -1.5 + 0.5j, 3 + 0j, 1 + 0j],
}
SPECIAL = [float("nan"), float("inf"), float("-inf")]
SCALARS = {"bool": [True, False], "int": [2, 0, -1, 3, 1, 7, 300, -2],
           "float": [0.5, 2.0, -1.5, 0.0, 2.5, 1e5, float("nan"), float("inf")],
           "complex": [1j, 1 + 2j, -0.5 + 0j, 2 - 1j]}
SHAPES = [(3,), (), (2, 3), (1, 3), (2, 1), (0,)]


def _dt(name):
    return Src(f"torch.{name}")


def _d64(expr):
    """expr run with float64 as the default dtype (put back to float32 whatever happens)."""
    return Stmt("torch.set_default_dtype(torch.float64)\ntry:\n    {out} = " + expr +
                "\nfinally:\n    torch.set_default_dtype(torch.float32)")


def _str_dtype(expr):
    return f"str({expr}).rsplit('.', 1)[-1]"


BINARY = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "truediv": "{0} / {1}",
    "floordiv": "{0} // {1}", "mod": "{0} % {1}", "pow": "{0} ** {1}",
    "lt": "{0} < {1}", "le": "{0} <= {1}", "gt": "{0} > {1}", "ge": "{0} >= {1}", "eq": "{0} == {1}",
    "ne": "{0} != {1}",
    "torch.add": "torch.add({0}, {1}{kw})", "torch.sub": "torch.sub({0}, {1}{kw})",
    "torch.div": "torch.div({0}, {1}{kw})", "true_divide": "torch.true_divide({0}, {1})",
    "floor_divide": "torch.floor_divide({0}, {1})", "remainder": "torch.remainder({0}, {1})",
    "fmod": "torch.fmod({0}, {1})", "torch.pow": "torch.pow({0}, {1})", "mul_fn": "torch.mul({0}, {1})",
    "eq_fn": "torch.eq({0}, {1})", "lt_fn": "torch.lt({0}, {1})",
}
BITWISE = {"and": "{0} & {1}", "or": "{0} | {1}", "xor": "{0} ^ {1}", "lshift": "{0} << {1}",
           "rshift": "{0} >> {1}", "bitwise_and": "torch.bitwise_and({0}, {1})",
           "bitwise_xor": "torch.bitwise_xor({0}, {1})", "logical_and": "torch.logical_and({0}, {1})"}
TENSOR_PAIR = {"maximum": "torch.maximum({0}, {1})", "minimum": "torch.minimum({0}, {1})",
               "where": "torch.where({2}, {0}, {1})", "where_cond": "torch.where({0} > 0, {0}, {1})"}
UNARY = {"abs": "{0}.abs()", "neg": "-{0}", "neg_fn": "torch.neg({0})", "sign": "{0}.sign()",
         "sgn": "{0}.sgn()", "invert": "~{0}", "bitwise_not": "torch.bitwise_not({0})",
         "clamp": "{0}.clamp({kw})", "clamp_fn": "torch.clamp({0}{kw})", "square": "torch.square({0})",
         "positive": "+{0}", "logical_not": "torch.logical_not({0})"}
REDUCE = {"sum": "{0}.sum({kw})", "sum_dim": "{0}.sum(0{kw})", "prod": "{0}.prod({kw})",
          "mean": "{0}.mean({kw})", "cumsum": "{0}.cumsum(0{kw})", "cumprod": "{0}.cumprod(0{kw})",
          "amax": "{0}.amax()", "amin_dim": "{0}.amin(0)", "argmax": "{0}.argmax()",
          "argmax_dim": "{0}.argmax(0)", "max": "{0}.max()", "any": "{0}.any()", "all": "{0}.all()",
          "all_dim": "{0}.all(0)", "nansum": "torch.nansum({0}{kw})"}
CONVERT = {"to": "{0}.to({1})", "type": "{0}.type({1})", "type_name": "{0}.type()", "float": "{0}.float()",
           "double": "{0}.double()", "half": "{0}.half()", "long": "{0}.long()", "int": "{0}.int()",
           "short": "{0}.short()", "char": "{0}.char()", "byte": "{0}.byte()", "bool": "{0}.bool()",
           "cfloat": "{0}.cfloat()", "item": "{0}.item()", "py_int": "int({0})", "py_float": "float({0})",
           "py_bool": "bool({0})", "tolist": "{0}.tolist()", "is_fp": "{0}.is_floating_point()",
           "is_complex": "{0}.is_complex()", "is_signed": "{0}.is_signed()",
           "element_size": "{0}.element_size()", "real": "{0}.real", "as_dtype": "{0}.to(dtype={1})"}
INPLACE = {"iadd": Stmt("{0} += {1}"), "isub": Stmt("{0} -= {1}"), "imul": Stmt("{0} *= {1}"),
           "itruediv": Stmt("{0} /= {1}"), "ifloordiv": Stmt("{0} //= {1}"), "imod": Stmt("{0} %= {1}"),
           "iand": Stmt("{0} &= {1}"), "ior": Stmt("{0} |= {1}"), "add_": Stmt("{0}.add_({1})"),
           "mul_": Stmt("{0}.mul_({1})"), "div_": Stmt("{0}.div_({1})"), "sub_": Stmt("{0}.sub_({1})"),
           "pow_": Stmt("{0}.pow_({1})"), "clamp_": Stmt("{0}.clamp_({kw})"), "neg_": Stmt("{0}.neg_()"),
           "abs_": Stmt("{0}.abs_()"), "copy_": Stmt("{0}.copy_({1})"), "fill_": Stmt("{0}.fill_({1})"),
           "setitem": Stmt("{0}[...] = {1}"), "masked_fill_": Stmt("{0}.masked_fill_({0} != 0, {1})"),
           "floor_divide_": Stmt("{0}.floor_divide_({1})"), "remainder_": Stmt("{0}.remainder_({1})")}
OUT = {"add_out": "torch.add({0}, {1}, out={2})", "mul_out": "torch.mul({0}, {1}, out={2})",
       "div_out": "torch.div({0}, {1}, out={2})", "sub_out": "torch.sub({0}, {1}, out={2})",
       "floor_divide_out": "torch.floor_divide({0}, {1}, out={2})", "eq_out": "torch.eq({0}, {1}, out={2})",
       "maximum_out": "torch.maximum({0}, {1}, out={2})", "abs_out": "torch.abs({0}, out={2})",
       "neg_out": "torch.neg({0}, out={2})", "sum_out": "torch.sum({0}, 0, out={2})"}
PROMOTE = {"result_type": _str_dtype("torch.result_type({0}, {1})"),
           "promote_types": _str_dtype("torch.promote_types({0}, {1})"),
           "can_cast": "torch.can_cast({0}, {1})", "iinfo": "torch.iinfo({0}).{1}",
           "finfo": "torch.finfo({0}).{1}", "dtype_is_fp": "{0}.is_floating_point",
           "dtype_itemsize": "{0}.itemsize", "dtype_is_signed": "{0}.is_signed"}
CREATE = {"full": "torch.full({0}, {1}{kw})", "arange": "torch.arange({0}{kw})",
          "full_like": "torch.full_like({0}, {1}{kw})", "tensor_infer": "torch.tensor({0})",
          "zeros_like": "torch.zeros_like({0}{kw})", "scalar_tensor": "torch.scalar_tensor({0})",
          "as_tensor": "torch.as_tensor({0}{kw})"}
DEFAULT64 = {"d64_binary": _d64("{0} * {1}"), "d64_div": _d64("{0} / {1}"), "d64_tensor": _d64("torch.tensor({0})"),
             "d64_arange": _d64("torch.arange({0})"), "d64_result_type":
             _d64(_str_dtype("torch.result_type({0}, {1})"))}

OPS = {"tensor": "torch.tensor({0}{kw})", "zeros": "torch.zeros({0}{kw})", **BINARY, **BITWISE, **TENSOR_PAIR,
       **UNARY, **REDUCE, **CONVERT, **INPLACE, **OUT, **PROMOTE, **CREATE, **DEFAULT64}

# ops whose result jumps: on computed floating values (one ulp apart between the libraries) they get only exact
# operands (inputs, and integer or bool results)
JUMPS = {"floordiv", "mod", "floor_divide", "remainder", "fmod", "torch.div", "lt", "le", "gt", "ge", "eq", "ne",
         "eq_fn", "lt_fn", "sign", "sgn", "argmax", "argmax_dim", "where_cond", "item", "py_int", "py_float",
         "py_bool", "tolist", "ifloordiv", "imod", "floor_divide_", "remainder_", "floor_divide_out", "eq_out",
         "maximum", "minimum", "maximum_out", "amax", "amin_dim", "max", "clamp", "clamp_fn", "clamp_", "bool",
         "any", "all", "all_dim", "logical_and", "logical_not", "masked_fill_", "to", "type", "as_dtype", "long",
         "int", "short", "char", "byte", "copy_", "setitem"}


def _kind(v) -> str:
    return str(v.dtype).rsplit(".", 1)[-1]


def _is_tensor(v) -> bool:
    return isinstance(v, _torch.Tensor)


def _val(b, y):
    """The value of an operand: a Ref's PyTorch value, or the Python scalar itself."""
    return y if isinstance(y, (bool, int, float, complex)) else b[y]


def _is_int(dt) -> bool:
    return dt in INTS or dt == "bool"


def tensor(b, dtype=None, shape=None, zero_d=False):
    """A new tensor literal (no grad) of a drawn dtype and shape."""
    dt = dtype or b.choice(DTYPES)
    shape = () if zero_d else (shape if shape is not None else b.choice(SHAPES))
    if 0 in shape:
        return b.add("zeros", shape, dtype=_dt(dt))
    grid = GRIDS[dt] + (SPECIAL if dt in FLOATS and b.chance(10) else [])
    flat = [b.choice(grid) for _ in range(int(np.prod(shape, dtype=np.int64)))]
    data = np.array(flat, dtype=object).reshape(shape).tolist() if shape else flat[0]
    return b.add("tensor", data, dtype=_dt(dt))


def scalar(b, kinds=("bool", "int", "float", "complex")):
    return b.choice(SCALARS[b.choice(kinds)])


def other(b, x, exact, allow_scalar=True):
    """A second operand for tensor x: an existing tensor that broadcasts with it, a new tensor (often 0-d),
    or a Python scalar."""
    shape = tuple(b[x].shape)
    form = b.choice(["scalar", "existing", "new", "zero_d"] if allow_scalar else ["existing", "new", "zero_d"])
    if form == "scalar":
        return scalar(b)
    if form == "existing":
        fits = [r for r in b.refs(lambda v: _is_tensor(v) and broadcastable(v.shape, shape)) if r in exact]
        if fits:
            return b.choice(fits[::-1])
    if form == "zero_d" or not shape:
        return tensor(b, zero_d=True)
    return tensor(b, shape=shape if b.chance(60) else shape[-1:])


def _fits(value, dt) -> bool:
    """Converting value (a PyTorch tensor or a Python scalar) to dtype dt is defined (no nan, infinity or
    out-of-range floating value going into an integer type)."""
    if dt not in RANGE:
        return True
    if _is_tensor(value):
        if not (value.is_floating_point() or value.is_complex()) or value.numel() == 0:
            return True
        r = (value.real if value.is_complex() else value).double()
        lo, hi = RANGE[dt]
        return bool((r.isfinite() & (r > float(lo) - 1) & (r < float(min(hi, 2 ** 53)) + 1)).all())
    if isinstance(value, (bool, int)):
        return True
    r = value.real if isinstance(value, complex) else value
    return bool(np.isfinite(r)) and RANGE[dt][0] - 1 < r < RANGE[dt][1] + 1


def _shift_amount(b):
    if b.chance(50):
        return b.integer(0, 3)
    n = b.integer(1, 3)
    return b.add("tensor", [b.integer(0, 3) for _ in range(n)] if n > 1 else b.integer(0, 3),
                 dtype=_dt(b.choice(INTS)))


def _dtype_kw(b, allow):
    return {"dtype": _dt(b.choice(allow))} if b.chance(40) else {}


def step(b, pool, exact):
    table = b.choice([BINARY, BINARY, BITWISE, TENSOR_PAIR, UNARY, REDUCE, CONVERT, INPLACE, INPLACE, OUT,
                      PROMOTE, CREATE, DEFAULT64])
    name = b.choice(list(table))
    choices = [r for r in pool if r in exact] if name in JUMPS else pool
    x = b.choice((choices or pool)[::-1])
    v = b[x]
    kw = {}
    if table is BINARY or table is INPLACE and name not in ("neg_", "abs_", "clamp_"):
        y = scalar(b) if name in ("fill_", "masked_fill_") else other(b, x, exact)
        if name in ("copy_", "setitem", "fill_", "masked_fill_") and not _fits(_val(b, y), _kind(v)):
            y = 1
        if name == "torch.div" and b.chance(70):
            kw["rounding_mode"] = b.choice(["trunc", "floor", None])
        elif name in ("torch.add", "torch.sub") and b.chance(50):
            kw["alpha"] = b.choice([2, 0.5, True, -1])
        args = (x, y) if table is INPLACE or not b.chance(40) else (y, x)     # both orders
        out = b.add(name, *args, **kw)
    elif table is BITWISE:
        if name in ("lshift", "rshift"):
            ints = [r for r in pool if _is_int(_kind(b[r])) and r in exact]
            x = b.choice(ints[::-1]) if ints and not b.chance(10) else x
            out = b.add(name, x, _shift_amount(b))
        else:
            y = other(b, x, exact)
            out = b.add(name, *((x, y) if b.chance(60) else (y, x)))
    elif table is TENSOR_PAIR:
        y = other(b, x, exact, allow_scalar=name.startswith("where"))
        if name == "where":
            conds = [r for r in pool if _kind(b[r]) == "bool" and broadcastable(b[r].shape, v.shape)]
            cond = b.choice(conds[::-1]) if conds else tensor(b, "bool", shape=tuple(v.shape))
            x = scalar(b) if b.chance(25) else x
            out = b.add(name, x, y, cond)
        else:
            out = b.add(name, x, y)
    elif table is UNARY:
        if name.startswith("clamp"):
            kw = {k: b.choice([0, 1, -1, 0.5, -1.5, 2.5, True]) for k in ("min", "max") if b.chance(60)}
            if not kw:
                kw["min"] = b.choice([0, 0.5])
        out = b.add(name, x, **kw)
    elif table is REDUCE:
        if name in ("sum", "sum_dim", "prod", "mean", "cumsum", "cumprod", "nansum"):
            kw = _dtype_kw(b, DTYPES)
            if kw and not _fits(v, str(kw["dtype"]).rsplit(".", 1)[-1]):
                kw = {}
        out = b.add(name, x, **kw)
    elif table is CONVERT:
        if name in ("to", "type", "as_dtype"):
            dt = b.choice(DTYPES)
            out = b.add(name, x, _dt(dt)) if _fits(v, dt) else b.add("to", x, _dt("float64"))
        elif name in ("long", "int", "short", "char", "byte") and not _fits(v, {"long": "int64", "int": "int32",
                                                                             "short": "int16", "char": "int8",
                                                                             "byte": "uint8"}[name]):
            out = b.add("float", x)
        elif name in ("item", "py_int", "py_float", "py_bool", "tolist"):
            ok = (v.numel() == 1 or name == "tolist") and not v.is_complex()
            ok = ok and (name != "py_int" or _fits(v, "int64"))
            out = b.add(name if ok else "is_fp", x)
        else:
            out = b.add(name, x)
    elif table is INPLACE:      # the unary in-place ops
        if name == "clamp_":
            kw = {k: b.choice([0, 1, -1, 0.5, 2.5]) for k in ("min", "max") if b.chance(60)} or {"max": 1}
        out = b.add(name, x, **kw)
    elif table is OUT:
        y = other(b, x, exact)
        shape = tuple(b[x].shape) if name in ("abs_out", "neg_out") else tuple(
            np.broadcast_shapes(tuple(v.shape), tuple(getattr(_val(b, y), "shape", ()))))
        if name == "sum_out":
            shape = tuple(v.shape)[1:]
        o = b.add("zeros", shape, dtype=_dt(b.choice(DTYPES)))
        out = b.add(name, x, y, o)
    elif table is PROMOTE:
        if name in ("promote_types", "can_cast"):
            out = b.add(name, _dt(b.choice(ALL_DTYPES)), _dt(b.choice(ALL_DTYPES)))
        elif name == "result_type":
            out = b.add(name, *((x, other(b, x, exact)) if b.chance(70) else (scalar(b), x)))
        elif name == "iinfo":
            out = b.add(name, _dt(b.choice(INTS)), Src(b.choice(["max", "min", "bits", "dtype"])))
        elif name == "finfo":
            out = b.add(name, _dt(b.choice(FLOATS + ["bfloat16"])),
                        Src(b.choice(["eps", "max", "min", "tiny", "bits", "resolution", "smallest_normal",
                                      "dtype"])))
        else:
            out = b.add(name, _dt(b.choice(ALL_DTYPES)))
    elif table is CREATE:
        if name == "full":
            out = b.add(name, b.choice([(2,), (), (1, 2)]), scalar(b), **_dtype_kw(b, DTYPES))
        elif name == "full_like":
            fill = scalar(b)
            kw = _dtype_kw(b, DTYPES)
            target = str(kw["dtype"]).rsplit(".", 1)[-1] if kw else _kind(v)
            out = b.add(name, x, fill if _fits(fill, target) else 1, **kw)
        elif name == "arange":
            args = b.choice([[3], [0, 2.5, 0.5], [1, 4], [2.0], [True, 3], [-3, 3, 2]])
            out = b.add(name, Src(", ".join(map(repr, args))), **_dtype_kw(b, DTYPES))
        elif name in ("tensor_infer", "as_tensor"):
            data = b.choice([[True, False], [True, 2], [1, 2.5], [1, 1j], [2, 3], 1.5, 3, True, 2j,
                             [[1, 2], [3, 4.0]], [False, 0.5], []])
            out = b.add(name, data, **(_dtype_kw(b, ["int64", "float64", "float16"]) if name == "as_tensor"
                                       else {}))
        elif name == "scalar_tensor":
            out = b.add(name, scalar(b))
        else:
            out = b.add(name, x, **_dtype_kw(b, DTYPES))
    else:                       # DEFAULT64
        if name == "d64_tensor":
            out = b.add(name, b.choice([[1, 2.5], 1.5, [1, 1j], [2, 3], 0.5j]))
        elif name == "d64_arange":
            out = b.add(name, Src(b.choice(["3", "0, 1.5, 0.5", "2.0"])))
        else:
            y = b.choice([scalar(b), scalar(b, ("float", "complex")), other(b, x, exact)])
            out = b.add(name, *((x, y) if b.chance(70) else (y, x)))
    res = b[out]
    if _is_tensor(res):
        pool.append(out)
        if name in INPLACE:         # x's values may now be computed ones
            if not _is_int(_kind(b[x])):
                exact.discard(x)
        if _is_int(_kind(res)) or name in ("tensor", "zeros"):
            exact.add(out)


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY)
    pool = [tensor(b) for _ in range(b.integer(1, 3))]
    exact = set(pool)
    for _ in range(b.integer(1, 8)):
        step(b, pool, exact)
        for r in b.refs(lambda v: _is_tensor(v)):     # new operands join the pool
            if r not in pool and b.steps[r.i].op in ("tensor", "zeros"):
                pool.append(r)
                exact.add(r)
    return b.program()


FAMILY = Family("dtypes", OPS, programs, exception_types=True)
