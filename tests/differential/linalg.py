"""Family (h): linear algebra. Products (matmul, mm, bmm, mv, addmm, baddbmm, einsum, kron, tensordot, outer,
multi_dot, cdist, cross), determinants and inverses (det, slogdet, logdet, inv, solve, solve_triangular,
triangular_solve, cholesky, cholesky_solve / _inverse, matrix_power, matrix_exp, pinv, matrix_rank),
decompositions (svd / svdvals, eigh / eigvalsh, qr in every mode), norms (matrix_norm / norm / vector_norm with
every ord) and the matrix shape ops (diag_embed, tril / triu, trace, diagonal), on float32 / float64 matrices,
square and rectangular, with 0-2 batch dims, some non-contiguous (transposed, sliced); then backward.

Inputs are built to be well conditioned where an op needs it, by steps of the program itself (so gradients flow
through them): A @ A.mT + c I (positive-definite), A + c I (diagonally dominant), A + A.mT (symmetric). Some are
drawn singular (a zero column) or not positive-definite on purpose: both libraries must raise, with the same
exception type (`exception_types`). Decompositions are compared only where the result is unique: singular
values and eigenvalues, reconstructions U diag(S) Vh and V diag(L) V^T, projectors U U^T, squared eigenvectors,
and their gradients; U-, V- and Q-dependent results only on leaves (generic values: distinct singular values)."""
import numpy as np
from hypothesis import strategies as st

from .gen import Builder, is_float_tensor
from .program import Family, Src, Stmt

PRELUDE = '''\
def _eye(x, c):
    """c times the identity of x's matrix size, in x's dtype."""
    return c * torch.eye(x.shape[-1], dtype=x.dtype)


def _w(t):
    """Weights 1, 2, 3, ... in t's shape: a backward that tells the entries apart."""
    return torch.arange(1, t.numel() + 1, dtype=t.dtype).reshape(t.shape) / t.numel()


def _usv(r):
    """U diag(S) Vh from an svd result (full_matrices or not)."""
    k = r.S.shape[-1]
    return r.U[..., :k] @ torch.diag_embed(r.S) @ r.Vh[..., :k, :]


'''

# the steps that make and condition inputs
INPUTS = {
    "tensor": "torch.tensor({0}{kw})", "zeros": "torch.zeros({0}{kw})",
    "tensor_t": "torch.tensor({0}{kw}).mT.requires_grad_({1})",
    "mT": "{0}.mT", "strided": "{0}[..., ::2]", "square": "{0}[..., :{1}, :{1}]",
    "spd": "{0} @ {0}.mT + _eye({0}.mT, {1})",          # positive-definite for c > 0, indefinite for c < 0
    "dd": "{0} + _eye({0}, {1})",                     # diagonally dominant: invertible
    "sym": "{0} + {0}.mT",
    "singular": "F.pad({0}[..., :-1], (0, 1))",       # last column exactly zero
    "scale": "{0} * {1}",
    "to": "{0}.to({1})",
}

# op name -> (template, what input it takes, drawer of its other arguments)
#   any: a matrix; square: a square matrix; inv: an invertible one (singular on purpose, sometimes);
#   spd: positive-definite (not, on purpose, sometimes); sym: symmetric; exact: a leaf or a view of one
_one = None


def _dims(b, x):
    return tuple(b[x].shape)


def _new(b, shape, dtype=None):
    return tensor(b, shape, dtype=dtype or _mixed(b, b[b.last]))


def _rhs(b, x, k=None):
    """B for A @ B / solve(A, B): (..., n, k), (n, k) or (n,)."""
    shape = _dims(b, x)
    n = shape[-1]
    k = k or b.integer(1, 3)
    return b.choice([shape[:-2] + (n, k), (n, k), (n,), shape[:-2] + (n, k)])


def _matmul(b, x):
    return (_new(b, _rhs(b, x)),), {}


def _mm(b, x):
    return (_new(b, (_dims(b, x)[-1], b.integer(1, 3))),), {}


def _bmm(b, x):
    shape = _dims(b, x)
    return (_new(b, shape[:-2] + (shape[-1], b.integer(1, 3))),), {}


def _mv(b, x):
    return (_new(b, (_dims(b, x)[-1],)),), {}


def _addmm(b, x):
    shape = _dims(b, x)
    k = b.integer(1, 3)
    bias = _new(b, b.choice([(shape[-2], k), (k,), (1, k)]))
    return (bias, _new(b, (shape[-1], k))), _ab(b)


def _baddbmm(b, x):
    shape = _dims(b, x)
    k = b.integer(1, 3)
    bias = _new(b, b.choice([shape[:-1] + (k,), (k,), (shape[-2], k)]))
    return (bias, _new(b, shape[:-2] + (shape[-1], k))), _ab(b)


def _addmv(b, x):
    shape = _dims(b, x)
    return (_new(b, (shape[-2],)), _new(b, (shape[-1],))), _ab(b)


def _ab(b):
    kw = {}
    if b.chance(40):
        kw["beta"] = b.choice([0.5, 0.0, -1.0])
    if b.chance(40):
        kw["alpha"] = b.choice([2.0, -0.5])
    return kw


def _einsum(b, x):
    shape = _dims(b, x)
    return (_new(b, (b.integer(1, 3), shape[-1])),), {}


def _kron(b, x):
    return (_new(b, b.choice([(2, 2), (1, 2), (2,)])),), {}


def _tensordot(b, x):
    shape = _dims(b, x)
    if b.chance(50):
        return (_new(b, (shape[-1], 2)), 1), {}
    return (_new(b, shape[-2:] + (2,)), 2), {}


def _outer(b, x):
    return (_new(b, (b.integer(1, 3),)),), {}


def _multi_dot(b, x):
    shape = _dims(b, x)
    k = b.integer(1, 3)
    return (_new(b, (shape[-1], k)), _new(b, (k, b.integer(1, 3)))), {}


def _vecdot(b, x):
    shape = _dims(b, x)
    return (_new(b, b.choice([shape, shape[-1:], (1,) + shape[-1:]])),), {}


def _cdist(b, x):
    shape = _dims(b, x)
    other = x if b.chance(25) else _new(b, shape[:-2] + (b.integer(1, 3), shape[-1]))
    kw = {"p": b.choice([2.0, 1.0, float("inf"), 0.5, 0.0, 3.0])}
    if b.chance(30):
        kw["compute_mode"] = b.choice(["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"])
    return (other,), kw


def _cross(b, x):
    shape = _dims(b, x)
    threes = [d - len(shape) for d, s in enumerate(shape) if s == 3]
    other = _new(b, shape if b.chance(70) else shape[-2:])
    return (other,), ({"dim": b.choice(threes)} if threes and b.chance(60) else {})


def _solve(b, x):
    left = b.chance(70)
    shape = _dims(b, x)
    n, k = shape[-1], b.integer(1, 3)
    if left:
        return (_new(b, b.choice([shape[:-2] + (n, k), (n, k), (n,)])),), {}
    return (_new(b, b.choice([shape[:-2] + (k, n), (k, n)])),), {"left": False}


def _solve_triangular(b, x):
    left = b.chance(70)
    shape = _dims(b, x)
    n, k = shape[-1], b.integer(1, 3)
    B = _new(b, (shape[:-2] if b.chance(60) else ()) + ((n, k) if left else (k, n)))
    kw = {"upper": b.chance(50)}
    if not left:
        kw["left"] = False
    if b.chance(30):
        kw["unitriangular"] = True
    return (B,), kw


def _triangular_solve(b, x):
    shape = _dims(b, x)
    B = _new(b, shape[:-2] + (shape[-1], b.integer(1, 3)))
    kw = {"upper": b.chance(50)}
    if b.chance(30):
        kw["transpose"] = True
    if b.chance(30):
        kw["unitriangular"] = True
    return (B,), kw


def _cholesky_solve(b, x):
    shape = _dims(b, x)
    batch = shape[:-2] if b.chance(60) else ()
    return (_new(b, batch + (shape[-1], b.integer(1, 3))), b.chance(50)), {}


def _kw(**choices):
    """Each keyword drawn from its list; a list starting with None: the keyword is sometimes absent."""
    def draw(b, x):
        kw = {}
        for k, v in choices.items():
            if v[0] is not None or b.chance(50):
                kw[k] = b.choice(v[1:] if v[0] is None else v)
        return (), kw
    return draw


def _scalar(*values):
    return lambda b, x: ((b.choice(values),), {})


_INF = float("inf")
MATRIX_ORDS = ["fro", "nuc", _INF, -_INF, 1, -1, 2, -2]
VECTOR_ORDS = [2, 1, _INF, -_INF, 0, 0.5, 3, -1]


def _matrix_norm(b, x):
    kw = {"ord": b.choice(MATRIX_ORDS)}
    n = len(_dims(b, x))
    if n > 2 and b.chance(30):
        kw["dim"] = b.choice([(0, -1), (-1, -3), (1, 0)][:n - 1])
    if b.chance(30):
        kw["keepdim"] = True
    return (), kw


def _norm(b, x):
    form = b.choice(["none", "matrix", "vector"])
    n = len(_dims(b, x))
    if form == "none":
        return (), ({"ord": b.choice(MATRIX_ORDS)} if n == 2 and b.chance(60) else {})
    if form == "matrix":
        return (), {"ord": b.choice(MATRIX_ORDS), "dim": (-2, -1)}
    return (), {"ord": b.choice(VECTOR_ORDS), "dim": b.integer(-n, n - 1)}


def _vector_norm(b, x):
    kw = {"ord": b.choice(VECTOR_ORDS)}
    n = len(_dims(b, x))
    form = b.choice(["none", "int", "tuple"])
    if form == "int":
        kw["dim"] = b.integer(-n, n - 1)
    elif form == "tuple":
        kw["dim"] = (-2, -1)
    if b.chance(30):
        kw["keepdim"] = True
    return (), kw


def _torch_norm(b, x):
    return (), b.choice([{"p": "fro"}, {"p": "nuc"}, {"p": 2}, {"p": 1, "dim": -1}, {"p": "fro", "dim": (-2, -1)},
                         {"p": _INF}])


def _diag_embed(b, x):
    kw = {}
    if b.chance(40):
        kw["offset"] = b.choice([1, -1, 2])
    if b.chance(30):
        n = len(_dims(b, x)) + 1
        kw["dim1"], kw["dim2"] = b.choice([(0, 1), (-1, 0), (1, -1)]) if n >= 3 else (0, 1)
    return (), kw


def _pinv(b, x):
    return _kw(hermitian=[None, True], rtol=[None, 0.1, 1e-3])(b, x) if "sym" in b.kind else \
        _kw(rtol=[None, 0.1, 1e-3])(b, x)


OPS_BY_KIND = {
    # products
    "matmul": ("{0} @ {1}", "any", _matmul),
    "mm": ("torch.mm({0}, {1})", "any", _mm),
    "bmm": ("torch.bmm({0}, {1})", "any", _bmm),
    "mv": ("torch.mv({0}, {1})", "any", _mv),
    "addmm": ("torch.addmm({1}, {0}, {2}{kw})", "any", _addmm),
    "baddbmm": ("torch.baddbmm({1}, {0}, {2}{kw})", "any", _baddbmm),
    "addmv": ("torch.addmv({1}, {0}, {2}{kw})", "any", _addmv),
    "einsum": ("torch.einsum('...ij,kj->...ik', {0}, {1})", "any", _einsum),
    "einsum_diag": ("torch.einsum('...ii->...i', {0})", "square", _one),
    "einsum_trace": ("torch.einsum('...ii', {0})", "square", _one),
    "kron": ("torch.kron({0}, {1})", "any", _kron),
    "tensordot": ("torch.tensordot({0}, {1}, dims={2})", "any", _tensordot),
    "outer": ("torch.outer({0}.flatten()[:3], {1})", "any", _outer),
    "multi_dot": ("torch.linalg.multi_dot([{0}, {1}, {2}])", "any", _multi_dot),
    "vecdot": ("torch.linalg.vecdot({0}, {1})", "any", _vecdot),
    "cdist": ("torch.cdist({0}, {1}{kw})", "any", _cdist),
    "cross": ("torch.linalg.cross({0}, {1}{kw})", "any", _cross),
    # determinants, inverses, solvers
    "det": ("torch.linalg.det({0})", "inv", _one),
    "slogdet": ("torch.linalg.slogdet({0})", "inv", _one),
    "logdet": ("torch.logdet({0})", "spd_or_inv", _one),
    "inv": ("torch.linalg.inv({0})", "inv", _one),
    "inverse": ("torch.inverse({0})", "inv", _one),
    "solve": ("torch.linalg.solve({0}, {1}{kw})", "inv", _solve),
    "solve_triangular": ("torch.linalg.solve_triangular({0}, {1}{kw})", "inv", _solve_triangular),
    "triangular_solve": ("torch.triangular_solve({1}, {0}{kw})", "inv", _triangular_solve),
    "cholesky": ("torch.linalg.cholesky({0}{kw})", "spd", _kw(upper=[None, True])),
    "cholesky_solve": ("torch.cholesky_solve({1}, torch.linalg.cholesky({0}, upper={2}), upper={2})", "spd",
                       _cholesky_solve),
    "cholesky_inverse": ("torch.cholesky_inverse(torch.linalg.cholesky({0}, upper={1}), upper={1})", "spd",
                         _scalar(False, True)),
    "matrix_power": ("torch.linalg.matrix_power({0}, {1})", "inv", _scalar(2, 0, 1, 3, -1, -2)),
    "matrix_exp": ("torch.linalg.matrix_exp({0})", "square", _one),
    "pinv": ("torch.linalg.pinv({0}{kw})", "any_or_sym", _pinv),
    "pinverse": ("torch.pinverse({0})", "any", _one),
    "matrix_rank": ("torch.linalg.matrix_rank({0}{kw})", "any_or_singular", _kw(hermitian=[None, False])),
    # decompositions: only what is unique
    "svdvals": ("torch.linalg.svdvals({0})", "any", _one),
    "svd_S": ("torch.linalg.svd({0}{kw}).S", "any", _kw(full_matrices=[None, False])),
    "svd_usv": ("_usv(torch.linalg.svd({0}{kw}))", "exact", _kw(full_matrices=[False, True])),
    "svd_proj": ("(lambda U: U @ U.mT)(torch.linalg.svd({0}, full_matrices=False).U)", "exact", _one),
    "svd_legacy": ("(lambda r: r.U @ torch.diag_embed(r.S) @ r.V.mT)(torch.svd({0}))", "exact", _one),
    "svd_legacy_S": ("torch.svd({0}{kw}).S", "any", _kw(compute_uv=[None, False], some=[None, False])),
    "eigvalsh": ("torch.linalg.eigvalsh({0}{kw})", "sym", _kw(UPLO=[None, "U"])),
    "eigh_L": ("torch.linalg.eigh({0}{kw}).eigenvalues", "sym", _kw(UPLO=[None, "U"])),
    "eigh_vlv": ("(lambda r: r.eigenvectors @ torch.diag_embed(r.eigenvalues) @ r.eigenvectors.mT)"
                 "(torch.linalg.eigh({0}{kw}))", "exact_sym", _kw(UPLO=[None, "U"])),
    "eigh_v2": ("torch.linalg.eigh({0}{kw}).eigenvectors ** 2", "exact_sym", _kw(UPLO=[None, "U"])),
    "qr": ("torch.linalg.qr({0}{kw})", "exact", _kw(mode=[None, "complete", "r"])),
    "qr_qr": ("(lambda r: r.Q @ r.R)(torch.linalg.qr({0}{kw}))", "exact", _kw(mode=[None, "complete"])),
    "qr_R": ("torch.linalg.qr({0}, mode='r').R.abs()", "any", _one),
    # norms
    "matrix_norm": ("torch.linalg.matrix_norm({0}{kw})", "any", _matrix_norm),
    "norm": ("torch.linalg.norm({0}{kw})", "any", _norm),
    "vector_norm": ("torch.linalg.vector_norm({0}{kw})", "any", _vector_norm),
    "torch_norm": ("torch.norm({0}{kw})", "any", _torch_norm),
    "cond_like": ("torch.linalg.matrix_norm({0}, 2) * torch.linalg.matrix_norm(torch.linalg.inv({0}), 2)", "inv",
                  _one),
    # the matrix shape ops
    "diag_embed": ("torch.diag_embed({0}{kw})", "any", _diag_embed),
    "tril": ("torch.tril({0}{kw})", "any", _kw(diagonal=[None, 1, -1, 2])),
    "triu": ("torch.triu({0}{kw})", "any", _kw(diagonal=[None, 1, -1, -2])),
    "trace": ("torch.trace({0})", "any", _one),
    "diagonal": ("torch.linalg.diagonal({0}{kw})", "any", _kw(offset=[None, 1, -1])),
    "diag": ("torch.diag({0}{kw})", "any", _kw(diagonal=[None, 1, -1])),
}

FINISH = {
    "backward": Stmt("{0}.sum().backward()"),
    "backward_w": Stmt("({0} * _w({0})).sum().backward()"),
    "grad": "torch.autograd.grad(({0} * _w({0})).sum(), {1}, allow_unused=True)",
}

OPS = {**INPUTS, **{name: t for name, (t, _, _) in OPS_BY_KIND.items()}, **FINISH}


# -- drawing -----------------------------------------------------------------------------------------------

def _mixed(b, like):
    """The dtype for a new operand: like's, and now and then the other float dtype (both must refuse)."""
    same = "float64" if like is not None and str(like.dtype).endswith("float64") else "float32"
    return b.choice([same] * 9 + ["float32" if same == "float64" else "float64"])


def _values(b, shape):
    """Nested lists for a literal: generic values (distinct singular values) or the small grid (ties, zeros)."""
    n = int(np.prod(shape, dtype=np.int64))
    if b.chance(20):
        return b.data(shape)
    seed = b.integer(0, 10 ** 6)
    flat = np.round(np.random.default_rng(seed).uniform(-1, 1, n), 3)
    return flat.reshape(shape).tolist() if shape else float(flat[0])


def tensor(b, shape, dtype=None, requires_grad=None):
    """A new leaf of `shape`; usually requiring grad."""
    rg = (not b.chance(25)) if requires_grad is None else requires_grad
    dt = Src(f"torch.{dtype or b.choice(['float32', 'float64'])}")
    if 0 in shape:
        return b.add("zeros", tuple(shape), dtype=dt, requires_grad=rg)
    return b.add("tensor", _values(b, tuple(shape)), dtype=dt, requires_grad=rg)


def leaf(b):
    """A matrix input: 0-2 batch dims, square or not, plain, a transposed leaf, or a transposed / sliced view."""
    batch = b.choice([(), (), (2,), (1,), (2, 2), (0,)])
    n = b.integer(1, 4)
    m = n if b.chance(60) else b.integer(1, 4)
    shape = batch + (m, n)
    dt = b.choice(["float32", "float64"])
    layout = b.choice(["plain", "leaf_t", "view_t", "strided"])
    if layout == "plain" or 0 in shape:
        return tensor(b, shape, dt)
    if layout == "leaf_t":
        return b.add("tensor_t", _values(b, batch + (n, m)), not b.chance(25), dtype=Src(f"torch.{dt}"))
    if layout == "view_t":
        return b.add("mT", tensor(b, batch + (n, m), dt))
    return b.add("strided", tensor(b, batch + (m, 2 * n - 1), dt))


def _square(b, x):
    """x, or a square slice of it."""
    m, n = _dims(b, x)[-2:]
    return x if m == n else b.add("square", x, min(m, n))


def condition(b, x, kind, exact):
    """An input of the kind the op takes, made from x by steps of the program."""
    n = _dims(b, x)[-1]
    bad = b.chance(12)
    if kind in ("any", "exact"):
        return x
    if kind == "any_or_sym":
        return b.add("sym", _square(b, x)) if b.chance(40) else x
    if kind == "any_or_singular":
        return b.add("singular", x) if bad else x
    if kind == "square":
        x = _square(b, x)
        return b.add("scale", x, 0.5) if b.chance(50) else x
    if kind in ("sym", "exact_sym"):
        return b.add("sym", _square(b, x)) if not (kind == "sym" and b.chance(20)) else _square(b, x)
    if kind == "spd_or_inv":
        kind = b.choice(["spd", "inv"])
    if kind == "spd":
        m = _dims(b, x)[-2]
        return b.add("spd", x, -float(m * n + 1) if bad else b.choice([float(n), 0.5, 1.0]))
    # inv: diagonally dominant, or singular on purpose
    x = _square(b, x)
    n = _dims(b, x)[-1]
    if bad:
        return b.add("singular", x)
    return b.add("dd", x, float(b.choice([n + 1, 3 * n + 1])))


# ops whose value or gradient divides by singular values, their gaps, or eigenvalue gaps: only on inputs where
# those are well away from 0 (else one ulp between the libraries is any answer)
SPECTRAL = {"pinv", "pinverse", "svdvals", "svd_S", "svd_usv", "svd_proj", "svd_legacy", "svd_legacy_S", "eigvalsh",
            "eigh_L", "eigh_vlv", "eigh_v2", "qr", "qr_qr", "qr_R"}
NORMS = {"matrix_norm", "norm", "torch_norm"}


def _separated(values, scale) -> bool:
    values = np.sort(np.abs(values) if scale is None else values, axis=-1)
    scale = max(float(np.abs(values).max(initial=0.0)), 1e-30) if scale is None else scale
    return bool(np.all(np.diff(values, axis=-1) > 0.02 * scale))


def generic(name, v, kwargs) -> bool:
    """v's singular values (or, for eigh, eigenvalues) are distinct and away from 0, where the op needs it."""
    if name in NORMS and kwargs.get("ord", kwargs.get("p")) not in (2, -2, "nuc"):
        return True
    if name not in SPECTRAL and name not in NORMS:
        return True
    a = v.detach().double().numpy()
    if a.size == 0:
        return True
    if not np.isfinite(a).all():
        return False
    if name.startswith("eig"):
        for uplo in "LU":
            w = np.linalg.eigvalsh(a, UPLO=uplo)
            if not _separated(w, max(float(np.abs(w).max()), 1e-30)):
                return False
        return True
    s = np.linalg.svd(a, compute_uv=False)
    return bool(np.all(s.min(-1) > 0.02 * s.max(-1))) and _separated(np.concatenate([s, -s], -1), None)


def tame(v) -> bool:
    d = v.detach()
    finite = d[d.isfinite()]
    return finite.numel() == 0 or float(finite.abs().max()) <= 1e3


def grow(b, pool, exact, n):
    for _ in range(n):
        name = b.choice(list(OPS_BY_KIND))
        _, kind, drawer = OPS_BY_KIND[name]
        mats = [r for r in pool if b[r].ndim >= 2]
        if kind.startswith("exact"):
            mats = [r for r in mats if r in exact] or mats
        if not mats:
            return
        x = b.choice(mats[::-1])
        x = condition(b, x, kind, exact)
        if b[x] is None:                # the conditioning step raised (in both, or the comparison says)
            continue
        b.kind = kind
        b.last = x
        args, kwargs = drawer(b, x) if drawer else ((), {})
        if not generic(name, b[x], kwargs):
            continue
        out = b.add(name, x, *args, **kwargs)
        v = b[out]
        if is_float_tensor(v) and v.ndim >= 1 and tame(v):
            pool.append(out)


def finish(b, pool, leaves):
    outs = [r for r in pool if r not in leaves and is_float_tensor(b[r]) and b[r].requires_grad]
    if not outs:
        return
    out = outs[-1] if b.chance(70) else b.choice(outs)
    mode = b.choice(["backward", "backward_w", "grad"])
    if mode == "grad":
        wrt = [r for r in leaves if b[r].requires_grad][:b.integer(1, 2)]
        if wrt:
            b.add("grad", out, wrt)
            return
    b.add(mode if mode != "grad" else "backward", out)


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY)
    pool = [leaf(b) for _ in range(b.integer(1, 2))]
    leaves = b.refs(lambda v: is_float_tensor(v) and v.is_leaf)
    exact = set(pool) | set(leaves)
    if b.chance(10):                  # the other dtype, through a conversion
        pool.append(b.add("to", pool[0], Src(b.choice(["torch.float64", "torch.float32"]))))
    grow(b, pool, exact, b.integer(1, 3))
    finish(b, pool, leaves)
    return b.program()


FAMILY = Family("linalg", OPS, programs, prelude=PRELUDE, exception_types=True)
