"""Family (i): torch.nn.functional with its argument ranges. Each program makes float32 or float64 inputs of
valid shapes (some requiring grad, some non-contiguous: transposed, sliced, channels_last), makes one F call
with randomly drawn arguments (pooling of every kind, interpolate in every mode, pad, unfold/fold,
pixel_shuffle, grid_sample / affine_grid, conv / conv_transpose, distances, softmax and the activations, the
normalizations, embedding, one_hot and the losses), sometimes a second one on its result (an activation, fold
after unfold, grid_sample after affine_grid, nll_loss after log_softmax), then backward.

The arguments are drawn from ranges that include invalid ones (padding over half the kernel, a mode for the
wrong rank, a reflect pad wider than the input, a group count that does not divide the channels): both
libraries must raise, with the same exception type (`exception_types`)."""
from hypothesis import strategies as st

from .gen import GRID, Builder, is_float_tensor
from .program import Family, Src, Stmt

PRELUDE = '''\
def _w(t):
    """Weights 1, 2, 3, ... in t's shape: a backward that tells the entries apart."""
    return torch.arange(1, t.numel() + 1, dtype=t.dtype).reshape(t.shape) / max(t.numel(), 1)


'''

REDUCTIONS = ["mean", "sum", "none"]

# F functions by the number of tensors they take positionally (the rest are drawn as keywords)
ARITY = {
    1: """max_pool1d max_pool2d max_pool3d avg_pool1d avg_pool2d avg_pool3d lp_pool1d lp_pool2d lp_pool3d
          adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d
          adaptive_max_pool3d fractional_max_pool2d fractional_max_pool3d interpolate pad unfold fold
          pixel_shuffle pixel_unshuffle affine_grid normalize pdist softmax log_softmax softmin glu hardswish
          hardsigmoid mish softsign tanhshrink threshold rrelu selu celu elu logsigmoid softplus hardshrink
          softshrink layer_norm group_norm instance_norm batch_norm local_response_norm one_hot""",
    2: """grid_sample conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d cosine_similarity
          pairwise_distance embedding l1_loss mse_loss smooth_l1_loss huber_loss cross_entropy nll_loss kl_div
          binary_cross_entropy binary_cross_entropy_with_logits poisson_nll_loss hinge_embedding_loss
          soft_margin_loss multilabel_margin_loss multilabel_soft_margin_loss multi_margin_loss""",
    3: """gaussian_nll_loss margin_ranking_loss cosine_embedding_loss triplet_margin_loss
          triplet_margin_with_distance_loss""",
}

OPS = {
    "tensor": "torch.tensor({0}{kw})", "zeros": "torch.zeros({0}{kw})",
    "long": "torch.tensor({0}, dtype=torch.long)",
    "leaf_cl": "torch.tensor({0}{kw}).contiguous(memory_format=torch.channels_last).requires_grad_({1})",
    "leaf_cl3d": "torch.tensor({0}{kw}).contiguous(memory_format=torch.channels_last_3d).requires_grad_({1})",
    "cl": "{0}.contiguous(memory_format=torch.channels_last)",
    "cl3d": "{0}.contiguous(memory_format=torch.channels_last_3d)",
    "mT": "{0}.transpose(-1, -2)", "strided": "{0}[..., ::2]",
    "sigmoid": "torch.sigmoid({0})",
    "first": "{0}[0]",
    "cdist": "torch.cdist({0}, {1}{kw})",
    "backward": Stmt("({0} * _w({0})).sum().backward()"),
}
for _n, _names in ARITY.items():
    for _name in _names.split():
        OPS[_name] = f"F.{_name}(" + ", ".join(f"{{{i}}}" for i in range(_n)) + "{kw})"


# -- inputs -------------------------------------------------------------------------------------------------

def values(b, shape, kind="grid"):
    """Nested lists for a tensor literal: grid values (ties, kinks), distinct values, probabilities in [0, 1],
    positive values, or +-1 labels."""
    n = 1
    for s in shape:
        n *= s
    if kind == "grid":
        flat = [b.choice(GRID) for _ in range(n)]
    elif kind == "distinct":
        # spread over about 2 around the grid value (not nearly constant: float32 normalizations of near-constant
        # rows differ by their rounding), ties only by chance
        flat = [round(b.choice(GRID) + (0.3719 * (i + 1)) % 2.0 - 1.0, 4) for i in range(n)]
    elif kind == "prob":
        flat = [b.choice([0.25, 0.5, 0.75, 0.1, 0.9, 0.0, 1.0]) for _ in range(n)]
    elif kind == "pos":
        flat = [b.choice([0.5, 1.0, 2.0, 0.25, 3.0, 1.5]) for _ in range(n)]
    else:   # "sign"
        flat = [b.choice([1.0, -1.0]) for _ in range(n)]
    out = flat
    for s in reversed(shape[1:]):
        out = [out[i:i + s] for i in range(0, len(out), s)]
    return out if shape else flat[0]


def inp(b, shape, kind=None, rg=None, dtype=None, layout=True):
    """A float input of `shape`: a leaf, or a non-contiguous view of one (transposed, sliced, channels_last)."""
    shape = tuple(shape)
    kind = kind or b.choice(["grid", "distinct"])
    rg = (not b.chance(25)) if rg is None else rg
    dt = Src(dtype or (b.dt if not b.chance(4) else b.choice(["torch.float32", "torch.float64"])))
    if 0 in shape:
        return b.add("zeros", shape, dtype=dt, requires_grad=rg)
    lay = b.choice(["plain", "plain", "plain", "cl", "mT", "strided"]) if layout and len(shape) >= 2 else "plain"
    if lay == "cl" and len(shape) not in (4, 5):
        lay = "mT"
    if lay == "plain":
        return b.add("tensor", values(b, shape, kind), dtype=dt, requires_grad=rg)
    if lay == "cl":
        suffix = "" if len(shape) == 4 else "3d"
        if b.chance(50):
            return b.add("leaf_cl" + suffix, values(b, shape, kind), rg, dtype=dt)
        return b.add("cl" + suffix, b.add("tensor", values(b, shape, kind), dtype=dt, requires_grad=rg))
    if lay == "mT":
        t = b.add("tensor", values(b, shape[:-2] + (shape[-1], shape[-2]), kind), dtype=dt, requires_grad=rg)
        return b.add("mT", t)
    t = b.add("tensor", values(b, shape[:-1] + (2 * shape[-1] - 1,), kind), dtype=dt, requires_grad=rg)
    return b.add("strided", t)


def aux(b, shape, kind="pos"):
    """A small plain tensor (a weight, a target): no grad, mostly."""
    return inp(b, shape, kind=kind, rg=b.chance(20), layout=False)


def longs(b, shape, lo, hi):
    flat = [b.integer(lo, hi) for _ in range(_numel(shape))]
    out = flat
    for s in reversed(shape[1:]):
        out = [out[i:i + s] for i in range(0, len(out), s)]
    return b.add("long", out if shape else flat[0])


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def opt(b, kw, name, choices, percent=40):
    """Sometimes pass name=one of choices."""
    if b.chance(percent):
        kw[name] = b.choice(choices)


def ituple(b, d, lo, hi):
    """An int, or a d-tuple of ints (rarely of the wrong length)."""
    if b.chance(50):
        return b.integer(lo, hi)
    return tuple(b.integer(lo, hi) for _ in range(d if not b.chance(5) else d + 1))


def spatial(b, d, lo=1):
    hi = {1: 7, 2: 5, 3: 4}[d]
    return tuple(b.integer(lo, hi) for _ in range(d))


def batch(b, c=None, need_n=False):
    """(N, C), or (C,) (no batch dim)."""
    c = c if c is not None else b.integer(1, 3)
    return (b.integer(1, 2), c) if need_n or b.chance(75) else (c,)


# -- cases: each adds its inputs and one or two F calls, and returns the last result ---------------------------

def pooling(b):
    kind = b.choice(["max", "avg", "lp", "adaptive_avg", "adaptive_max", "fractional"])
    d = b.integer(2, 3) if kind == "fractional" else b.integer(1, 3)
    x = inp(b, batch(b) + spatial(b, d), kind=b.choice(["distinct", "grid"]))
    kw = {}
    if kind in ("max", "avg", "lp"):
        kw["kernel_size"] = ituple(b, d, 1, 3)
        if b.chance(60):
            kw["stride"] = ituple(b, d, 1, 3)
        if kind != "lp" and b.chance(50):
            kw["padding"] = ituple(b, d, 0, 2)
        opt(b, kw, "ceil_mode", [True, False])
        if kind == "max":
            opt(b, kw, "dilation", [2, 1, (1, 2, 2)[:d]])
            opt(b, kw, "return_indices", [True])
        elif kind == "avg":
            opt(b, kw, "count_include_pad", [False, True])
            if d > 1:
                opt(b, kw, "divisor_override", [1, 3, 0])
        else:
            kw = {"norm_type": b.choice([2, 1, 3.0, 1.5])} | kw
        return b.add(f"{kind}_pool{d}d", x, **kw)
    if kind == "fractional":
        shape = b[x].shape
        n, c = (shape[0], shape[1]) if len(shape) == d + 2 else (1, shape[0])
        kw["kernel_size"] = ituple(b, d, 1, 2)
        if b.chance(70):
            kw["output_size"] = ituple(b, d, 1, 3)
        else:
            kw["output_ratio"] = b.choice([0.5, 0.75, (0.5, 0.6, 0.9)[:d]])
        kw["_random_samples"] = inp(b, (n, c, d), kind="prob", rg=False, layout=False)
        opt(b, kw, "return_indices", [True])
        return b.add(f"fractional_max_pool{d}d", x, **kw)
    size = b.choice([1, 2, 3, 4, None])
    kw["output_size"] = size if size is not None and b.chance(40) else tuple(
        b.choice([1, 2, 3, 4, None]) for _ in range(d))
    if kind == "adaptive_max":
        opt(b, kw, "return_indices", [True])
    return b.add(f"{kind}_pool{d}d", x, **kw)


LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def interpolate(b):
    d = b.integer(1, 3)
    x = inp(b, batch(b, need_n=not b.chance(5)) + spatial(b, d))
    modes = ["nearest", "nearest-exact", "area", LINEAR[d]] + (["bicubic"] * 2 if d == 2 else [])
    mode = b.choice(modes) if not b.chance(8) else b.choice(["linear", "bilinear", "bicubic", "trilinear"])
    kw = {"mode": mode} if mode != "nearest" or b.chance(50) else {}
    form = b.choice(["size", "scale", "scale", "both"] if b.chance(5) else ["size", "scale"])
    if form in ("size", "both"):
        kw["size"] = b.integer(1, 6) if b.chance(40) else tuple(b.integer(1, 6) for _ in range(d))
    if form in ("scale", "both"):
        scales = [2.0, 0.5, 1.5, 0.75, 2.5, 3.0, 1.0, 1.7]
        kw["scale_factor"] = b.choice(scales) if b.chance(50) else tuple(b.choice(scales) for _ in range(d))
        opt(b, kw, "recompute_scale_factor", [True, False])
    linear = mode in ("linear", "bilinear", "bicubic", "trilinear")
    if linear or b.chance(5):
        opt(b, kw, "align_corners", [True, False], 60)
    if mode in ("bilinear", "bicubic") or b.chance(3):
        opt(b, kw, "antialias", [True])
    return b.add("interpolate", x, **kw)


def pad(b):
    nd = b.integer(1, 5)
    x = inp(b, tuple(b.integer(1, 4) for _ in range(nd)))
    mode = b.choice(["constant", "reflect", "replicate", "circular"])
    pairs = b.integer(1, min(3, nd)) if not b.chance(5) else b.integer(1, 3)
    kw = {"pad": tuple(b.integer(-1, 3) for _ in range(2 * pairs))}
    if mode != "constant" or b.chance(50):
        kw["mode"] = mode
    if mode == "constant" or b.chance(5):
        opt(b, kw, "value", [1.5, -2.0, 0.0])
    return b.add("pad", x, **kw)


def unfold_fold(b):
    x = inp(b, batch(b) + spatial(b, 2))
    kw = {"kernel_size": ituple(b, 2, 1, 3)}
    opt(b, kw, "dilation", [2, (1, 2)])
    opt(b, kw, "padding", [1, (0, 1), 2])
    opt(b, kw, "stride", [2, (2, 1)])
    if b.chance(75):
        u = b.add("unfold", x, **kw)
        if b[u] is None or not b.chance(60):
            return u
        size = tuple(b[x].shape[-2:])
        return b.add("fold", u, output_size=size if not b.chance(10) else (size[0] + 1, size[1]), **kw)
    # fold of a drawn (N, C * prod(k), L) input
    k = kw["kernel_size"]
    kk = k * k if isinstance(k, int) else _numel(k)
    c = b.integer(1, 2)
    y = inp(b, batch(b, c * kk if not b.chance(10) else c * kk + 1) + (b.integer(1, 6),))
    return b.add("fold", y, output_size=ituple(b, 2, 1, 5), **kw)


def pixel(b):
    r = b.integer(1, 3)
    lead = tuple(b.integer(1, 2) for _ in range(b.integer(0, 2)))
    if b.chance(50):
        c = b.integer(1, 2) * r * r + (1 if b.chance(8) else 0)
        x = inp(b, lead + (c, b.integer(1, 3), b.integer(1, 3)))
        return b.add("pixel_shuffle", x, upscale_factor=r)
    h, w = b.integer(1, 2) * r, b.integer(1, 2) * r + (1 if b.chance(8) else 0)
    x = inp(b, lead + (b.integer(1, 2), h, w))
    return b.add("pixel_unshuffle", x, downscale_factor=r)


def sampling(b):
    d = 2 if b.chance(75) else 3
    n, c = b.integer(1, 2), b.integer(1, 2)
    x = inp(b, (n, c) + spatial(b, d, lo=1), kind="distinct")
    out = tuple(b.integer(1, 3) for _ in range(d))
    corners = b.choice([False, True])
    if b.chance(50):
        theta = inp(b, (n, d, d + 1), kind="distinct")
        grid = b.add("affine_grid", theta, size=(n, c) + out, **({"align_corners": corners} if b.chance(70) else {}))
        if b[grid] is None or b.chance(20):
            return grid
    else:
        grid = inp(b, (n,) + out + (d,), kind="distinct")
    kw = {}
    opt(b, kw, "mode", ["bilinear", "nearest"] + (["bicubic"] if d == 2 or b.chance(10) else []), 70)
    opt(b, kw, "padding_mode", ["zeros", "border", "reflection"], 70)
    opt(b, kw, "align_corners", [corners, not corners], 70)
    return b.add("grid_sample", x, grid, **kw)


def conv(b):
    d = b.integer(1, 3)
    transpose = b.chance(35)
    g = b.choice([1, 1, 2])
    cin, cout = g * b.integer(1, 2), g * b.integer(1, 2)
    x = inp(b, batch(b, cin) + spatial(b, d, lo=2))
    k = ituple(b, d, 1, 3)
    ks = (k,) * d if isinstance(k, int) else k
    wshape = (cin, cout // g) if transpose else (cout, cin // g)
    w = inp(b, wshape + tuple(ks) if len(ks) == d or b.chance(50) else wshape + (1,) * d)
    kw = {}
    if b.chance(40):
        kw["bias"] = inp(b, (cout,), rg=b.chance(60), layout=False)
    opt(b, kw, "stride", [2, (1, 2, 2)[:d]])
    if transpose:
        opt(b, kw, "padding", [1, (0, 1, 1)[:d]])
        opt(b, kw, "output_padding", [1, (1, 0, 0)[:d]])
    else:
        opt(b, kw, "padding", [1, "same", "valid", (0, 1, 1)[:d], 2])
    opt(b, kw, "dilation", [2, (1, 2, 1)[:d]])
    if g > 1 or b.chance(10):
        kw["groups"] = g
    return b.add(f"conv_transpose{d}d" if transpose else f"conv{d}d", x, w, **kw)


def distances(b):
    kind = b.choice(["normalize", "cosine_similarity", "pairwise_distance", "pdist", "cdist"])
    if kind == "pdist":
        x = inp(b, (b.integer(1, 4), b.integer(1, 3)), kind=b.choice(["grid", "distinct"]))
        return b.add("pdist", x, **({"p": b.choice([2.0, 1.0, 0.5, 3.0, float("inf"), 0.0])} if b.chance(70) else {}))
    if kind == "cdist":
        m = b.integer(1, 3)
        lead = b.choice([(), (2,), (1,)])
        x1 = inp(b, lead + (b.integer(1, 3), m))
        x2 = inp(b, b.choice([lead, (2,) if lead == (1,) else lead]) + (b.integer(1, 3), m))
        kw = {}
        opt(b, kw, "p", [2.0, 1.0, 0.5, 3.0, float("inf"), 0.0], 70)
        opt(b, kw, "compute_mode", ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"], 20)
        return b.add("cdist", x1, x2, **kw)
    shape = tuple(b.integer(1, 3) for _ in range(b.integer(1, 3)))
    x = inp(b, shape)
    dim = b.integer(-len(shape), len(shape) - 1)
    kw = {}
    if kind == "normalize":
        opt(b, kw, "p", [2.0, 1.0, float("inf"), 0.5, 3])
        opt(b, kw, "dim", [dim], 70)
        opt(b, kw, "eps", [1e-12, 0.5])
        return b.add("normalize", x, **kw)
    other = shape if b.chance(60) else tuple(1 if b.chance(50) else s for s in shape)[b.integer(0, len(shape) - 1):]
    y = inp(b, other)
    if kind == "cosine_similarity":
        opt(b, kw, "dim", [dim], 70)
        opt(b, kw, "eps", [1e-8, 0.5])
        return b.add("cosine_similarity", x, y, **kw)
    opt(b, kw, "p", [2.0, 1.0, float("inf"), 0.5, 0.0])
    opt(b, kw, "eps", [1e-6, 0.0, 0.5])
    opt(b, kw, "keepdim", [True])
    return b.add("pairwise_distance", x, y, **kw)


# activation -> {option: choices}
ACTIVATIONS = {
    "hardswish": {}, "hardsigmoid": {}, "mish": {}, "softsign": {}, "tanhshrink": {}, "selu": {},
    "logsigmoid": {},
    "threshold": {"threshold": [0.5, 0.0, -1.0], "value": [-1.0, 0.0, 2.0]},
    "rrelu": {"lower": [0.1, 0.125], "upper": [0.3, 1 / 3], "training": [False]},
    "celu": {"alpha": [1.0, 0.5, 2.0]}, "elu": {"alpha": [1.0, 0.5, -0.5]},
    "softplus": {"beta": [1.0, 2.0, 0.5, -1.0], "threshold": [20.0, 1.0, 0.5]},
    "hardshrink": {"lambd": [0.5, 1.0, 0.0]}, "softshrink": {"lambd": [0.5, 1.0, 0.0]},
}


def activation(b, x=None):
    name = b.choice(list(ACTIVATIONS) + ["softmax", "log_softmax", "softmin", "glu"])
    if x is None:
        x = inp(b, tuple(b.integer(1, 4) for _ in range(b.integer(0, 3))))
    nd = len(b[x].shape)
    if name in ("softmax", "log_softmax", "softmin", "glu"):
        kw = {"dim": b.integer(-max(nd, 1), max(nd, 1) - 1)} if name == "glu" or b.chance(85) else {}
        if name != "glu":
            opt(b, kw, "dtype", [Src("torch.float64"), Src("torch.float32")], 20)
        return b.add(name, x, **kw)
    kw = {}
    for k, choices in ACTIVATIONS[name].items():
        if name == "threshold" or (name == "rrelu" and k == "training") or b.chance(50):
            kw[k] = b.choice(choices)
    return b.add(name, x, **kw)


def norms(b):
    kind = b.choice(["layer_norm", "group_norm", "instance_norm", "batch_norm", "local_response_norm"])
    c = b.integer(1, 4)
    nd = b.integer(0, 2) if kind != "local_response_norm" else b.integer(1, 2)
    shape = (b.integer(1, 3), c) + tuple(b.integer(1, 3) for _ in range(nd))
    x = inp(b, shape, kind="distinct" if b.chance(70) else "grid")
    kw = {}
    if kind == "local_response_norm":
        kw["size"] = b.integer(1, 4)
        opt(b, kw, "alpha", [1e-4, 0.5])
        opt(b, kw, "beta", [0.75, 1.0])
        opt(b, kw, "k", [1.0, 2.0])
        return b.add(kind, x, **kw)
    if kind == "layer_norm":
        k = b.integer(1, len(shape))
        norm_shape = shape[-k:] if not b.chance(5) else shape[-k:][:-1] + (shape[-1] + 1,)
        kw["normalized_shape"] = norm_shape
        if b.chance(50):
            kw["weight"] = inp(b, norm_shape, rg=b.chance(70), layout=False)
        if b.chance(40):
            kw["bias"] = inp(b, norm_shape, rg=b.chance(70), layout=False)
        opt(b, kw, "eps", [1e-5, 0.1])
        return b.add(kind, x, **kw)
    if kind == "group_norm":
        kw["num_groups"] = b.choice([g for g in (1, 2, 3, 4) if c % g == 0] if not b.chance(8) else [2, 3])
    affine = [("weight", True), ("bias", True)]
    if kind == "batch_norm" or (kind == "instance_norm" and b.chance(50)):
        stats = b.chance(80) if kind == "batch_norm" else True
        if stats:
            kw["running_mean"] = inp(b, (c,), kind="grid", rg=False, layout=False)
            kw["running_var"] = inp(b, (c,), kind="pos", rg=False, layout=False)
        elif b.chance(50):
            kw["running_mean"] = kw["running_var"] = None
        if kind == "batch_norm":
            opt(b, kw, "training", [True, False] if stats else [True, True, False], 80)
        else:
            opt(b, kw, "use_input_stats", [True, False], 50)
        opt(b, kw, "momentum", [0.1, 0.5, 1.0])
    for name, _ in affine:
        if b.chance(50):
            kw[name] = inp(b, (c,), rg=b.chance(70), layout=False)
    opt(b, kw, "eps", [1e-5, 0.1])
    if kind == "batch_norm" and "running_mean" not in kw:
        kw = {"running_mean": None, "running_var": None} | kw
    return b.add(kind, x, **kw)


def embedding(b):
    num, dim = b.integer(1, 5), b.integer(1, 3)
    idx = longs(b, b.choice([(2, 3), (4,), (), (1, 2)]), 0, num - 1 if not b.chance(5) else num)
    if b.chance(20):
        kw = {}
        opt(b, kw, "num_classes", [-1, num, num + 1, 1], 70)
        return b.add("one_hot", idx, **kw)
    w = inp(b, (num, dim), kind="grid", rg=not b.chance(10), layout=b.chance(30))
    kw = {}
    opt(b, kw, "padding_idx", [0, -1, num - 1, num])
    opt(b, kw, "max_norm", [1.0, 2.0, 0.5])
    opt(b, kw, "norm_type", [2.0, 1.0, 3.0], 25)
    opt(b, kw, "scale_grad_by_freq", [True])
    return b.add("embedding", idx, w, **kw)


def _red(b, kw, extra=()):
    opt(b, kw, "reduction", REDUCTIONS + list(extra), 60)
    return kw


def _class_shape(b, c):
    """Input shape of a classification loss: (C,), (N, C), (N, C, d1) or (N, C, d1, d2)."""
    return b.choice([(c,), (b.integer(1, 3), c), (b.integer(1, 3), c), (b.integer(1, 2), c, b.integer(1, 3)),
                     (b.integer(1, 2), c, b.integer(1, 2), b.integer(1, 2))])


def _targets(b, shape, c, ignore=None):
    """Class-index targets for an input of `shape` (batch dims without the class dim)."""
    tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    hi = c if b.chance(5) else c - 1
    flat = [b.integer(0, hi) if ignore is None or not b.chance(20) else ignore for _ in range(_numel(tshape))]
    out = flat
    for s in reversed(tshape[1:]):
        out = [out[i:i + s] for i in range(0, len(out), s)]
    return b.add("long", out if tshape else flat[0])


def classification(b):
    kind = b.choice(["cross_entropy", "cross_entropy", "nll_loss", "multi_margin_loss",
                     "multilabel_margin_loss", "multilabel_soft_margin_loss"])
    c = b.integer(1, 4)
    kw = {}
    if kind in ("multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss"):
        shape = (b.integer(1, 3), c) if b.chance(75) else (c,)
        x = inp(b, shape, kind="distinct" if b.chance(50) else "grid")
        if kind == "multi_margin_loss":
            y = _targets(b, shape, c)
            opt(b, kw, "p", [1, 2, 3])
            opt(b, kw, "margin", [1.0, 0.5, 2.0])
            if b.chance(40):
                kw["weight"] = aux(b, (c,))
        elif kind == "multilabel_margin_loss":
            rows = [[b.integer(0, c - 1) if b.chance(70) else -1 for _ in range(c)] for _ in range(_numel(shape[:-1]))]
            y = b.add("long", rows if len(shape) == 2 else rows[0])
        else:
            y = aux(b, shape, kind="prob")
            if b.chance(40):
                kw["weight"] = aux(b, (c,))
        return b.add(kind, x, y, **_red(b, kw))
    shape = _class_shape(b, c)
    x = inp(b, shape, kind="distinct" if b.chance(50) else "grid")
    if kind == "nll_loss" and b.chance(50):
        x = b.add("log_softmax", x, dim=0 if len(shape) == 1 else 1)
    ignore = b.choice([None, 0, 1, -1]) if b.chance(40) else None
    if ignore is not None:
        kw["ignore_index"] = ignore
    if kind == "cross_entropy" and b.chance(30):
        t = inp(b, shape, kind="prob", rg=b.chance(20), layout=False)
        y = b.add("softmax", t, dim=0 if len(shape) == 1 else 1) if b.chance(50) else t
    else:
        y = _targets(b, shape, c, ignore if ignore is not None and ignore >= 0 else None)
    if b.chance(40):
        kw["weight"] = aux(b, (c,) if not b.chance(5) else (c + 1,))
    if kind == "cross_entropy":
        opt(b, kw, "label_smoothing", [0.1, 0.5, 0.0, 1.0])
    return b.add(kind, x, y, **_red(b, kw))


def pointwise_loss(b):
    kind = b.choice(["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy",
                     "binary_cross_entropy_with_logits", "poisson_nll_loss", "gaussian_nll_loss",
                     "hinge_embedding_loss", "soft_margin_loss"])
    shape = tuple(b.integer(1, 3) for _ in range(b.integer(0, 3)))
    tshape = shape if b.chance(85) else tuple(1 if b.chance(50) else s for s in shape)[b.integer(0, len(shape)):]
    kw = {}
    if kind == "binary_cross_entropy":
        x = b.add("sigmoid", inp(b, shape)) if b.chance(50) else inp(b, shape, kind="prob")
        y = aux(b, tshape, kind="prob")
        if b.chance(30):
            kw["weight"] = aux(b, shape[-1:])
        return b.add(kind, x, y, **_red(b, kw))
    x = inp(b, shape, kind="pos" if kind == "poisson_nll_loss" and b.chance(50) else None)
    if kind in ("hinge_embedding_loss", "soft_margin_loss"):
        y = aux(b, tshape, kind="sign")
        if kind == "hinge_embedding_loss":
            opt(b, kw, "margin", [1.0, 0.5, -1.0, 0.0])
        return b.add(kind, x, y, **_red(b, kw))
    if kind == "kl_div":
        log_target = b.chance(40)
        y = inp(b, tshape, kind="grid" if log_target else "prob", rg=b.chance(20), layout=False)
        kw["log_target"] = log_target
        return b.add(kind, x, y, **_red(b, kw, ["batchmean"]))
    if kind == "binary_cross_entropy_with_logits":
        y = aux(b, tshape, kind="prob")
        if b.chance(30):
            kw["weight"] = aux(b, shape[-1:])
        if b.chance(40):
            kw["pos_weight"] = aux(b, shape[-1:] or (1,))
        return b.add(kind, x, y, **_red(b, kw))
    if kind == "poisson_nll_loss":
        y = aux(b, tshape, kind=b.choice(["pos", "prob"]))
        opt(b, kw, "log_input", [False, True])
        opt(b, kw, "full", [True])
        opt(b, kw, "eps", [1e-8, 0.5])
        return b.add(kind, x, y, **_red(b, kw))
    y = inp(b, tshape, rg=b.chance(30), layout=False)
    if kind == "gaussian_nll_loss":
        vshape = b.choice([shape, shape, shape[:-1] + (1,), shape[:-1]]) if shape else shape
        var = aux(b, vshape, kind="pos" if not b.chance(8) else "grid") if b.chance(85) else b.choice([1.0, 0.5])
        opt(b, kw, "full", [True])
        opt(b, kw, "eps", [1e-6, 0.5])
        return b.add(kind, x, y, var, **_red(b, kw))
    if kind == "smooth_l1_loss":
        opt(b, kw, "beta", [1.0, 0.5, 0.0, 2.0])
    if kind == "huber_loss":
        opt(b, kw, "delta", [1.0, 0.5, 2.0])
    return b.add(kind, x, y, **_red(b, kw))


def triplets(b):
    kind = b.choice(["margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss",
                     "triplet_margin_with_distance_loss"])
    kw = {}
    if kind == "margin_ranking_loss":
        shape = tuple(b.integer(1, 3) for _ in range(b.integer(0, 2)))
        x1, x2 = inp(b, shape), inp(b, shape)
        y = aux(b, shape if b.chance(85) else shape[1:], kind="sign")
        opt(b, kw, "margin", [0.0, 0.5, -0.5])
        return b.add(kind, x1, x2, y, **_red(b, kw))
    d = b.integer(1, 3)
    shape = (b.integer(1, 3), d) if b.chance(75) else (d,)
    if kind == "cosine_embedding_loss":
        x1, x2 = inp(b, shape), inp(b, shape)
        y = aux(b, shape[:-1], kind="sign")
        opt(b, kw, "margin", [0.0, 0.5, -0.5])
        return b.add(kind, x1, x2, y, **_red(b, kw))
    a, p, n = inp(b, shape), inp(b, shape), inp(b, shape)
    opt(b, kw, "margin", [1.0, 0.5, 0.0, 2.0])
    opt(b, kw, "swap", [True])
    if kind == "triplet_margin_loss":
        opt(b, kw, "p", [2.0, 1.0, 3.0])
        opt(b, kw, "eps", [1e-6, 0.5])
    else:
        opt(b, kw, "distance_function", [Src("F.pairwise_distance"),
                                         Src("lambda a, c: 1.0 - F.cosine_similarity(a, c)"),
                                         Src("lambda a, c: (a - c).abs().sum(-1)")])
    return b.add(kind, a, p, n, **_red(b, kw))


CASES = [pooling, pooling, interpolate, interpolate, pad, unfold_fold, pixel, sampling, conv, distances,
         activation, norms, embedding, classification, classification, pointwise_loss, pointwise_loss, triplets]


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY)
    b.dt = b.choice(["torch.float32", "torch.float64"])
    out = b.choice(CASES)(b)
    v = b[out]
    if isinstance(v, tuple) and v:          # (values, indices)
        out = b.add("first", out)
        v = b[out]
    if is_float_tensor(v) and v.numel() and b.chance(25):
        out = activation(b, out)
        v = b[out]
    if is_float_tensor(v) and v.requires_grad:
        b.add("backward", out)
    return b.program()


FAMILY = Family("functional", OPS, programs, prelude=PRELUDE, exception_types=True, float32_loose=3.0)
