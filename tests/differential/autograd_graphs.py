"""Family (a): random autograd graphs over a curated op list, ending in backward / autograd.grad.

Each op is a template plus a drawer for its other arguments; a drawer sees the input's real (PyTorch) value,
so dims, shapes and second operands are valid most of the time (an invalid one must raise in both)."""
import itertools

from hypothesis import strategies as st

from .gen import DTYPES, SHAPES, Builder, broadcastable, is_float_tensor
from .program import Family, Src, Stmt


def _shape(b, x):
    return tuple(b[x].shape)


def _dim(b, x):
    n = max(len(_shape(b, x)), 1)
    return b.integer(-n, n - 1)


def _dim_kw(b, x, keepdim=True):
    """dim=... (absent, an int, or a tuple of ints) and keepdim=..."""
    kw, n = {}, len(_shape(b, x))
    form = b.choice(["none", "int", "tuple"] if n >= 2 else ["none", "int"])
    if form == "int":
        kw["dim"] = _dim(b, x)
    elif form == "tuple":
        kw["dim"] = tuple(sorted(set([b.integer(0, n - 1), b.integer(-n, -1) % n])))
    if form != "none" and keepdim and b.chance(40):
        kw["keepdim"] = True
    return kw


def tensor(b, shape, requires_grad=None, dtype=None, special=False):
    """A new tensor literal of `shape` (a leaf, usually requiring grad)."""
    rg = (not b.chance(25)) if requires_grad is None else requires_grad
    dt = DTYPES[dtype or b.choice(["float32", "float32", "float64"])]
    if 0 in shape:
        return b.add("zeros", shape, dtype=dt, requires_grad=rg)
    return b.add("tensor", b.data(shape, special), dtype=dt, requires_grad=rg)


def leaf(b, special):
    """An input: a plain leaf, a non-contiguous leaf, or a transposed / expanded / strided view of a leaf."""
    shape = b.choice(SHAPES)
    layout = b.choice(["plain", "view_t", "leaf_t", "expand", "strided"]) if len(shape) == 2 else "plain"
    if layout == "plain":
        return tensor(b, shape, special=special)
    if layout == "leaf_t":
        dt = DTYPES[b.choice(["float32", "float64"])]
        return b.add("tensor_t", b.data(shape[::-1], special), not b.chance(25), dtype=dt)
    if layout == "view_t":
        return b.add("t", tensor(b, shape[::-1], special=special))
    if layout == "expand":
        return b.add("expand", tensor(b, (1, shape[1]), special=special), shape)
    return b.add("index", tensor(b, (shape[0], 2 * shape[1]), special=special), Src("..., ::2"))


def other(b, x, same_shape=False):
    """A second operand for x: an existing value when one fits (leaves get reused), else a new tensor.
    Only the values in `b.operands` are candidates when it is set (see `grow`)."""
    shape = _shape(b, x)
    fits = [r for r in b.refs(lambda v: is_float_tensor(v) and (tuple(v.shape) == shape if same_shape
                                                                else broadcastable(v.shape, shape)))
            if getattr(b, "operands", None) is None or r in b.operands]
    if fits and not b.chance(40):
        return b.choice(fits[::-1])
    if not same_shape and shape and b.chance(50):
        shape = tuple(1 if b.chance(30) else s for s in shape)[b.integer(0, len(shape)):]
    return tensor(b, shape)


def _reshape(b, x):
    shape = _shape(b, x)
    n = 1
    for s in shape:
        n *= s
    return b.choice([(-1,), (n,), (1, -1), shape[::-1], shape + (1,), (-1, 1)])


def _index(b, x):
    n = len(_shape(b, x))
    return Src(b.choice(["0", "-1", "1:", "::2", "None", "...", "[0, 0]", "[1, 0, 1]"] if n == 1 else
                        [":, 0", "..., 1:", "0", "::2", "None", "[0, 0]", "[[0], [1]]", "..., ::-1"]
                        if n >= 2 else ["None", "...", "()"]))


def _binary(same_shape=False):
    return lambda b, x: ((other(b, x, same_shape),), {})


def _scalar(*values):
    return lambda b, x: ((b.choice(values),), {})


def _kw(**choices):
    return lambda b, x: ((), {k: b.choice(v) for k, v in choices.items() if v[0] is not None or b.chance(50)})


def _matmul_rhs(b, x):
    shape = _shape(b, x)
    k = shape[-1] if shape else 2
    return (tensor(b, b.choice([(k,), (k, 2), (2, k, 2)])),), {}


_one = None     # the op needs nothing but its input

UNARY = {name: (f"torch.{name}({{0}})", _one) for name in [
    "exp", "log", "sin", "cos", "tanh", "sigmoid", "abs", "sqrt", "rsqrt", "neg", "square", "reciprocal",
    "erf", "erfc", "log1p", "expm1", "atan", "asinh", "sinh", "cosh", "floor", "round", "sign", "trunc",
    "frac", "lgamma", "digamma", "sinc", "relu", "log2", "exp2", "asin", "erfinv"]}
UNARY.update({name: (f"F.{name}({{0}})", _one) for name in [
    "logsigmoid", "mish", "hardswish", "hardsigmoid", "selu", "softsign", "tanhshrink", "relu6", "silu"]})
UNARY.update({
    "softplus": ("F.softplus({0}{kw})", _kw(beta=[1.0, 2.0, 0.5], threshold=[20.0, 1.0])),
    "gelu": ("F.gelu({0}{kw})", _kw(approximate=["none", "tanh"])),
    "elu": ("F.elu({0}{kw})", _kw(alpha=[1.0, 0.5, 2.0])),
    "celu": ("F.celu({0}{kw})", _kw(alpha=[1.0, 0.5])),
    "leaky_relu": ("F.leaky_relu({0}{kw})", _kw(negative_slope=[0.01, 0.2, -0.5])),
    "hardtanh": ("F.hardtanh({0}{kw})", _kw(min_val=[-1.0, -0.5], max_val=[1.0, 2.0])),
    "hardshrink": ("F.hardshrink({0}{kw})", _kw(lambd=[0.5, 1.0])),
    "softshrink": ("F.softshrink({0}{kw})", _kw(lambd=[0.5, 1.0])),
    "clamp": ("torch.clamp({0}{kw})", _kw(min=[None, -1.0, 0.0], max=[None, 1.0, 0.5])),
    "threshold": ("F.threshold({0}{kw})", _kw(threshold=[0.5, 0.0], value=[-1.0, 0.0])),
    "pow_scalar": ("{0} ** {1}", _scalar(2, 3, 0.5, -1, 0, -0.5, 1.5, 2.0)),
    "rpow": ("{1} ** {0}", _scalar(2.0, 0.5, 0.0)),
    "mul_scalar": ("{0} * {1}", _scalar(2.0, -1, 0.0, 3)),
    "add_scalar": ("{0} + {1}", _scalar(1.0, -2, 0.5)),
    "div_scalar": ("{0} / {1}", _scalar(2.0, 0.0, -3)),
    "rsub": ("{1} - {0}", _scalar(1.0, 2)),
    "nan_to_num": ("torch.nan_to_num({0}{kw})", _kw(nan=[0.0, 1.0], posinf=[None, 5.0])),
    "logit": ("torch.logit({0}{kw})", _kw(eps=[None, 0.1])),
    "to_dtype": ("{0}.to({1})", _scalar(Src("torch.float64"), Src("torch.float32"))),
    "rrelu_eval": ("F.rrelu({0}{kw})", _kw(training=[False], lower=[0.1], upper=[0.3])),
    "dropout": ("F.dropout({0}{kw})", _kw(p=[0.5, 0.0, 1.0], training=[True])),
})

BINARY = {name: (f"torch.{name}({{0}}, {{1}})", _binary()) for name in [
    "maximum", "minimum", "fmax", "fmin", "atan2", "hypot", "copysign", "logaddexp", "xlogy", "remainder",
    "fmod", "dist"]}
BINARY.update({
    "add": ("{0} + {1}", _binary()), "sub": ("{0} - {1}", _binary()), "mul": ("{0} * {1}", _binary()),
    "div": ("{0} / {1}", _binary()), "pow": ("{0} ** {1}", _binary()),
    "where": ("torch.where({0} > {1}, {0}, {1})", _binary()),
    "lerp": ("torch.lerp({0}, {1}, 0.25)", _binary()),
    "addcmul": ("torch.addcmul({0}, {1}, {1}, value=0.5)", _binary()),
    "div_floor": ("torch.div({0}, {1}, rounding_mode='floor')", _binary()),
    "div_trunc": ("torch.div({0}, {1}, rounding_mode='trunc')", _binary()),
    "mse_loss": ("F.mse_loss({0}, {1})", _binary(True)),
    "huber_loss": ("F.huber_loss({0}, {1}{kw})", lambda b, x: ((other(b, x, True),), {"delta": 0.5})),
    "l1_loss": ("F.l1_loss({0}, {1})", _binary(True)),
    "smooth_l1_loss": ("F.smooth_l1_loss({0}, {1})", _binary(True)),
    "cat": ("torch.cat([{0}, {1}]{kw})", lambda b, x: ((other(b, x, True),), {"dim": _dim(b, x)})),
    "stack": ("torch.stack([{0}, {1}])", _binary(True)),
})

REDUCE = {name: (f"torch.{name}({{0}}{{kw}})", lambda b, x: ((), _dim_kw(b, x))) for name in [
    "sum", "mean", "amax", "amin", "nansum"]}
_dim_only = lambda b, x: ((), {"dim": _dim(b, x)})  # noqa: E731
REDUCE.update({name: (f"torch.{name}({{0}}{{kw}})", _dim_only) for name in [
    "softmax", "log_softmax", "cumsum", "cumprod", "logcumsumexp", "logsumexp", "argmax"]})
REDUCE.update({
    "prod": ("torch.prod({0}{kw})", lambda b, x: ((), {"dim": _dim(b, x)} if b.chance(50) else {})),
    "max": ("torch.max({0})", _one), "min": ("torch.min({0})", _one), "median": ("torch.median({0})", _one),
    "max_dim": ("torch.max({0}{kw}).values", _dim_only), "min_dim": ("torch.min({0}{kw}).values", _dim_only),
    "max_dim_indices": ("torch.max({0}{kw}).indices", _dim_only),
    "median_dim": ("torch.median({0}{kw}).values", _dim_only),
    "cummax": ("torch.cummax({0}{kw}).values", _dim_only),
    "sort": ("torch.sort({0}{kw}).values", lambda b, x: ((), {"dim": _dim(b, x), "descending": b.chance(50)})),
    "norm": ("torch.linalg.vector_norm({0}{kw})",
             lambda b, x: ((), {"ord": b.choice([2, 1, float("inf"), 0.5, 3])} | _dim_kw(b, x))),
    "std": ("torch.std({0}{kw})", lambda b, x: ((), _dim_kw(b, x) | {"correction": b.choice([1, 0])})),
    "var": ("torch.var({0}{kw})", lambda b, x: ((), _dim_kw(b, x) | {"correction": b.choice([1, 0])})),
    "normalize": ("F.normalize({0}{kw})", _dim_only),
})

SHAPE = {name: (f"{{0}}.{name}()", _one) for name in ["t", "flatten", "squeeze", "contiguous", "clone",
                                                        "detach"]}
SHAPE.update({
    "reshape": ("{0}.reshape({1})", lambda b, x: ((_reshape(b, x),), {})),
    "view": ("{0}.view({1})", lambda b, x: ((_reshape(b, x),), {})),
    "mT": ("{0}.mT", _one),
    "transpose": ("{0}.transpose({1}, {2})", lambda b, x: ((_dim(b, x), _dim(b, x)), {})),
    "permute": ("{0}.permute({1})", lambda b, x: ((b.choice(list(itertools.permutations(
        range(len(_shape(b, x))))))[::-1] if _shape(b, x) else (),), {})),
    "unsqueeze": ("{0}.unsqueeze({1})", lambda b, x: ((b.integer(-len(_shape(b, x)) - 1, len(_shape(b, x))),),
                                                       {})),
    "squeeze_dim": ("{0}.squeeze({1})", lambda b, x: ((_dim(b, x),), {})),
    "expand": ("{0}.expand({1})", lambda b, x: (((2,) + tuple(2 if s == 1 and b.chance(50) else s
                                                             for s in _shape(b, x)),), {})),
    "narrow": ("{0}.narrow({1}, {2}, {3})", lambda b, x: ((_dim(b, x), b.integer(0, 1), b.integer(0, 2)), {})),
    "index": ("{0}[{1}]", lambda b, x: ((_index(b, x),), {})),
    "masked_index": ("{0}[{0} > {1}]", _scalar(0.0, 1.0)),
    "select": ("{0}.select({1}, {2})", lambda b, x: ((_dim(b, x), b.integer(-1, 1)), {})),
    "flip": ("torch.flip({0}, {1})", lambda b, x: (((_dim(b, x),),), {})),
    "roll": ("torch.roll({0}, {1}, {2})", lambda b, x: ((b.integer(-2, 2), _dim(b, x)), {})),
    "repeat": ("{0}.repeat({1})", lambda b, x: ((tuple(b.integer(1, 2) for _ in range(len(_shape(b, x)) + 1)),), {})),
    "split": ("torch.split({0}, {1}, {2})[{3}]", lambda b, x: ((b.integer(1, 2), _dim(b, x), b.integer(-1, 0)), {})),
    "chunk": ("torch.chunk({0}, {1}, {2})[{3}]", lambda b, x: ((b.integer(1, 3), _dim(b, x), 0), {})),
    "unbind": ("torch.unbind({0}, {1})[{2}]", lambda b, x: ((_dim(b, x), b.integer(-1, 0)), {})),
    "diagonal": ("torch.diagonal({0})", _one), "tril": ("torch.tril({0})", _one),
    "triu": ("torch.triu({0}, {1})", _scalar(0, 1, -1)),
    "movedim": ("torch.movedim({0}, 0, {1})", lambda b, x: ((_dim(b, x),), {})),
    "gather": ("torch.gather({0}, {1}, torch.zeros_like({0}, dtype=torch.long))", lambda b, x: ((_dim(b, x),), {})),
    "index_select": ("torch.index_select({0}, {1}, torch.tensor([0, 0]))", lambda b, x: ((_dim(b, x),), {})),
    "masked_fill": ("{0}.masked_fill({0} > 0.5, {1})", _scalar(0.0, -1.0)),
    "pad": ("F.pad({0}, {1})", _scalar((1, 0), (0, 2), (1, 1, 0, 1))),
    "repeat_interleave": ("{0}.repeat_interleave({1})", _scalar(2)),
})

MATMUL = {
    "matmul": ("{0} @ {1}", _matmul_rhs),
    "einsum": ("torch.einsum('...j,jk->...k', {0}, {1})",
               lambda b, x: ((tensor(b, ((_shape(b, x) or (1,))[-1], 2)),), {})),
    "tensordot": ("torch.tensordot({0}, {1}, dims=1)", _matmul_rhs),
    "linear": ("F.linear({0}, {1})", lambda b, x: ((tensor(b, (2, (_shape(b, x) or (1,))[-1])),), {})),
    "outer": ("torch.outer({0}, {1})", _binary()),
}

CATEGORIES = {"unary": UNARY, "binary": BINARY, "reduce": REDUCE, "shape": SHAPE, "matmul": MATMUL}

FINISH = {
    "backward": Stmt("{0}.sum().backward({kw})"),
    "backward_gradient": Stmt("{0}.backward(torch.full_like({0}, {1}){kw})"),
    "grad": "torch.autograd.grad({0}.sum(), {1}, allow_unused=True{kw})",
    "item": "{0}[{1}]",
    "grad_of": "{0}.grad",
}

OPS = {"tensor": "torch.tensor({0}{kw})", "zeros": "torch.zeros({0}{kw})",
       "tensor_t": "torch.tensor({0}{kw}).t().requires_grad_({1})", **FINISH}
for _table in CATEGORIES.values():
    OPS.update({name: template for name, (template, _) in _table.items()})


def tame(v) -> bool:
    """No finite value beyond 20: past that, exp(x) and sin(x) turn one ulp of x into more than the tolerance
    (exp(exp(x)), sin(exp(exp(x))) give any answer), so such values are not built on."""
    finite = v.detach()[v.detach().isfinite()]
    return finite.numel() == 0 or float(finite.abs().max()) <= 20


# ops whose value jumps: on computed inputs one ulp between the libraries (a formula written another way)
# becomes a different answer, so they only get exact inputs (leaves and views of them)
JUMPS = {"floor", "round", "sign", "trunc", "frac", "div_floor", "div_trunc", "remainder", "fmod", "argmax",
         "max_dim_indices", "masked_index", "where", "threshold", "hardshrink", "softshrink", "masked_fill"}


def grow(b, pool, n):
    """n random ops, each on a recent float tensor of the pool; float results join the pool."""
    exact = set(pool)
    for _ in range(n):
        table = CATEGORIES[b.choice(list(CATEGORIES))]
        name = b.choice(list(table))
        jumps = name in JUMPS
        x = b.choice([r for r in pool if r in exact or not jumps][::-1] or pool[::-1])
        if name == "median_dim" and 0 in b[x].stride():
            name = "median"     # PyTorch 2.13 bug: median(x.expand(3, 2), 0) reads uninitialized memory
        template, drawer = table[name]
        b.operands = exact if jumps else None
        args, kwargs = drawer(b, x) if drawer else ((), {})
        b.operands = None
        out = b.add(name, x, *args, **kwargs)
        if is_float_tensor(b[out]) and tame(b[out]):
            pool.append(out)
            if name in SHAPE and x in exact:
                exact.add(out)


def finish(b, pool, leaves):
    """backward / autograd.grad on a value; with create_graph, the gradients join the pool."""
    out = pool[-1] if not b.chance(30) else b.choice(pool)
    mode = b.choice(["backward", "grad", "twice", "gradient"])
    create = b.chance(30)
    kw = {"create_graph": True} if create else {}
    if mode == "backward":
        b.add("backward", out, **kw)
    elif mode == "twice":
        b.add("backward", out, retain_graph=True, **kw)
        b.add("backward", out)
    elif mode == "gradient":
        b.add("backward_gradient", out, b.choice([0.5, -1.0, 2.0]), **kw)
    else:
        wrt = [r for r in leaves if b[r] is not None and b[r].requires_grad][:b.integer(1, 3)] or leaves[:1]
        grads = b.add("grad", out, wrt, **kw | ({"retain_graph": True} if b.chance(30) else {}))
        for k in range(len(wrt)):
            pool.append(b.add("item", grads, k))
        return
    if create:
        pool.extend(b.add("grad_of", r) for r in leaves)


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY)
    special = b.chance(10)
    pool = [leaf(b, special) for _ in range(b.integer(1, 3))]
    leaves = b.refs(lambda v: is_float_tensor(v) and v.is_leaf)
    grow(b, pool, b.integer(1, 8))
    finish(b, pool, leaves)
    if b.chance(30):                    # a second round: on gradients (double backward) or after a backward
        pool = [r for r in pool if is_float_tensor(b[r])]
        grow(b, pool, b.integer(1, 4))
        finish(b, pool, leaves)
    return b.program()


FAMILY = Family("autograd", OPS, programs)
