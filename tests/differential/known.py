"""Divergences already filed, kept from failing the suite until they are fixed: remove an entry with its fix.

Each entry is narrow: a family, the ops that trigger it (the op of the step where the runs part, or, with
`anywhere=True`, any op of the program) and the kinds of divergence it produces. `make fuzz` still prints
these classes, labelled with their entry."""
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    item: str                   # where it is filed: "issue 12 §2: ..." (or the new class it reports)
    family: str
    ops: frozenset
    kinds: frozenset = frozenset()  # empty: any kind
    anywhere: bool = False      # the ops may be anywhere in the program, not only at the diverging step
    when: object = None         # and, if given, when(program, divergence) holds

    def matches(self, program, d) -> bool:
        if program.family.name != self.family or (self.kinds and d.kind not in self.kinds):
            return False
        used = program.ops() if self.anywhere else {program.steps[d.step].op}
        return bool(self.ops & used) and (self.when is None or self.when(program, d))


def _k(item, family, ops, kinds="", anywhere=False, when=None):
    return Known(item, family, frozenset(ops.split()), frozenset(kinds.split()), anywhere, when)


def _special(program, d=None) -> bool:
    """The program has a nan or an infinity among its literals."""
    steps = "\n".join(program.family.line(i, s) for i, s in enumerate(program.steps))
    return re.search(r"\b(nan|inf)\b", steps) is not None


def _linear_closure(program, d=None) -> bool:
    """A closure's loss is linear in the parameters (only `(p * 0.5).sum()` terms): along any line its cubic
    interpolation's discriminant d1**2 - g1*g2 is 0 in exact arithmetic, so its sign is the last bit's."""
    bodies = re.findall(r"lambda: (.*)\)\)$", program.source(), re.MULTILINE)
    return any(all(re.fullmatch(r"\(v\d+ \* 0\.5\)\.sum\(\)", t.strip()) for t in body.split(" + "))
               for body in bodies)


def _says(*texts):
    """The divergence's message (PyTorch's or ember's) contains one of texts."""
    return lambda program, d: any(t in d.torch or t in d.ember for t in texts)


def _torch_raised(program, step) -> bool:
    """Step `step` of the program raises under PyTorch."""
    from .program import Interpreter, _torch
    run = Interpreter(_torch, program.family)
    return [run.run(i, s) for i, s in enumerate(program.steps[:step + 1])][-1] is not None


def _dtype_ops():
    from .dtypes import OPS
    return sorted(OPS)


_DTYPE_OPS = _dtype_ops()

S2 = "issue 12 §2: "         # filed in the issue's list of divergences
NEW = "found by tests/differential, not in issue 12 §2: "

KNOWN = [
    # -- autograd graphs
    _k("PyTorch's own bug, nothing to fix in ember: huber_loss backward with mixed float dtypes raises "
       "'Found dtype Float but expected Double'", "autograd", "huber_loss", "raises-only-torch", anywhere=True,
       when=_says("Found dtype")),
    _k(NEW + "PyTorch's internal ZeroTensor, nothing to fix in ember: a create_graph gradient through abs/sgn/sign "
       "differentiated again gives PyTorch's efficient zero tensor, which refuses .numpy() (the fuzzer's observation "
       "raises); ember's is a plain tensor of zeros, equal in value", "autograd", "grad backward backward_gradient",
       "missing:observing-raised", anywhere=True, when=lambda p, d: "create_graph=True" in p.source()),
    _k(NEW + "PyTorch's float32/bfloat16 gelu kernel gives nan at +inf (its float64 kernel and the tanh form give "
       "inf, the limit, as ember does); matching it would cost every gelu an extra pass over its result",
       "autograd", "gelu", "value", when=lambda p, d: "nan" in d.torch and "inf" in d.ember),
    _k("rounding, not fixable in general: L-BFGS's strong-Wolfe line search on a loss linear in the parameters "
       "extrapolates with a cubic whose discriminant is exactly 0; the last bit of gtd (the two-loop recursion's "
       "rounding, which ember does not reproduce bit for bit) picks between the step bound and a bisection",
       "optim", "LBFGS", "value state:value", anywhere=True,
       when=lambda p, d: "strong_wolfe" in p.source() and _linear_closure(p)),
    # -- in-place ops and views
    _k(NEW + "setitem whose value is the written tensor itself seen through size-1 dims of other strides "
       "(`v1[0] = v1` for a (1, 1, 1) view): PyTorch's overlap check calls it partial and refuses, ember's sees "
       "the same elements and copies", "inplace", "setitem", "raises-only-torch",
       when=_says("refer to a single memory location")),
    # -- indexing (found by tests/differential/indexing.py; not yet fixed in ember)
    _k(NEW + "index_add/index_fill/index_copy(_) with an out-of-range index: ember's exception type (IndexError vs "
       "RuntimeError) does not follow PyTorch's per-dim/per-shape choice in every case (Note [index op checks])",
       "indexing", "index_add! index_add_! index_fill! index_fill_! index_copy! index_copy_!", "value",
       when=lambda p, d: "Error" in d.torch and "Error" in d.ember),
    _k(NEW + "index_fill on a tensor with a size-0 dim: PyTorch skips the bounds check when there is nothing to fill, "
       "ember raises IndexError", "indexing", "index_fill index_fill_ index_copy index_copy_", "raises-only-ember"),
    _k(NEW + "index_put_ with a Python scalar value in place: PyTorch's TypeError (argument parsing) comes before "
       "the other checks, ember's in-place wrapper raises its RuntimeError first", "indexing", "index_put_!",
       "value", when=_says("TypeError")),
    _k(NEW + "take_along_dim with a size-0 index along a size-0 dim: PyTorch refuses, ember returns an empty "
       "tensor", "indexing", "take_along_dim!", "type"),
    _k(NEW + "out-of-place index_put (and other advanced-index results) on a non-contiguous input: PyTorch keeps the "
       "input's layout (TensorIterator), ember's result is contiguous; values agree", "indexing", "stride contig",
       "value"),
    _k(NEW + "a backward that raises part way (scatter(reduce=) has no derivative): PyTorch's engine leaves every "
       "leaf's .grad None, ember's has already accumulated the leaves it reached first", "indexing", "backward!",
       "grad:type", when=lambda p, d: "reduce=" in p.source() and d.torch == "'NoneType'"),
    _k(NEW + "an out-of-range advanced index (getitem, index_select, index_add) into a tensor with a size-0 dim: "
       "PyTorch checks nothing (or raises RuntimeError) when there is nothing to read or write, ember raises",
       "indexing", "getitem index_select! index_add index_add_", "raises-only-ember value",
       when=lambda p, d: "torch.zeros((" in p.source()),
    _k(NEW + "ember more permissive by design (tests/ops/op_db.py's scatter case, torch_backward_fails): scatter / "
       "scatter_add with a src larger than the index: PyTorch's engine refuses src's gradient (the index's shape), "
       "ember zero-pads it to src's shape", "indexing", "backward!", "grad:type",
       when=lambda p, d: ".scatter" in p.source() and "reduce=" not in p.source() and d.torch == "'NoneType'"),
    _k(NEW + "an out-of-range advanced index next to an empty slice (`t[0:0, idx]`): PyTorch checks no index when "
       "the result is empty, ember (NumPy) does; as the size-0-dim entry above", "indexing",
       "getitem index_put_! setitem!", "raises-only-ember value",
       when=lambda p, d: ("out of bounds" in d.ember or d.ember == "'IndexError'") and
       re.search(r"\b(\d+):\1\b", p.source()) is not None),
    _k(NEW + "an in-place scatter-family op on an expanded tensor with a bad dim: PyTorch's argument check (IndexError, "
       "'Dimension out of range') comes before its overlap check, ember's in-place wrapper checks overlap first "
       "(RuntimeError)", "indexing", "scatter_! scatter_add_! index_add_! index_copy_! index_fill_! put_!", "value",
       when=lambda p, d: ".expand(" in p.source() and d.torch == "'IndexError'" and d.ember == "'RuntimeError'"),
    # -- optimizers
    _k("not a bug, rounding: LBFGS's history (al = ro * s.q with ro = 1 / y.s, y.s small near a minimum) "
       "agrees to ~3e-10 in float64; the parameters to ~1e-12", "optim", "LBFGS", "state:value", anywhere=True),
    _k("rounding at a kink, not fixable in general: PyTorch's dot is MKL's ddot, whose summation order (CPU "
       "dependent) ember emulates for up to 4 elements only, and the two-loop recursion is not reproduced bit for "
       "bit over several steps; so an L-BFGS step can land one ulp off |x - c| = 0 in one library and on it (or "
       "on its other side) in the other (abs' is 0 there, +-1 beside it), and the runs part",
       "optim", "LBFGS", "value state:value grad:value", anywhere=True, when=lambda p, d: ".abs()" in p.source()),
    # -- dtypes and type promotion (tests/differential/dtypes.py)
    _k(NEW + "not in ember: PyTorch promotes float16 with a complex scalar or 0-d complex tensor to complex32 "
       "(ComplexHalf), a dtype ember lacks (README: not there); ember gives complex64", "dtypes",
       " ".join(_DTYPE_OPS), "dtype value", anywhere=True, when=_says("complex32")),
    _k(NEW + "ember more permissive, not yet fixed: PyTorch's CPU kernel lacks a dtype (abs/cumprod/arange on bool, "
       "amax/clamp/nansum on complex, bitwise_not on float16 ...) and raises NotImplementedError (or 'does not "
       "support complex'); ember computes NumPy's answer or raises TypeError", "dtypes", " ".join(_DTYPE_OPS),
       "raises-only-torch exception-type",
       when=_says("NotImplementedError", "does not support complex", "is not supported for complex")),
    _k(NEW + "not yet in ember: sum and floor_divide take no out=", "dtypes", "sum_out floor_divide_out",
       "raises-only-ember exception-type", when=_says("unexpected keyword argument 'out'")),
    _k(NEW + "PyTorch's partial write, nothing to fix in ember: an in-place integer division that raises "
       "ZeroDivisionError has already written the elements before the zero in PyTorch; ember checks first and "
       "leaves the tensor as it was", "dtypes", "ifloordiv imod floor_divide_ remainder_", "value",
       when=lambda p, d: _torch_raised(p, d.step)),
    _k(NEW + "PyTorch's complex pow(0, 0) is nan+nanj for a tensor exponent (exp(0 * log 0)); ember (NumPy) gives 1",
       "dtypes", "pow pow_ torch.pow", "value", when=lambda p, d: "nan" in d.torch),
    _k(NEW + "not yet fixed: PyTorch's extra scalar/out= dtype checks that ember lacks: a complex fill with an "
       "imaginary part into a real dtype ('value cannot be converted'), neg/abs out= of another dtype ('Found dtype "
       "Char but expected Byte'), clamp_ of a bool tensor by an int bound ('can't be cast'), a bool alpha for a "
       "non-bool result, unary + on bool, torch.where with an int scalar out of the tensor's range (300 with uint8); "
       "and masked_fill_ with a complex value into an int tensor (ember raises)",
       "dtypes", "full_like scalar_tensor neg_out abs_out clamp_ torch.add torch.sub positive masked_fill_ where",
       "raises-only-torch raises-only-ember",
       when=_says("cannot be converted", "Found dtype", "can't be cast", "Boolean alpha", "on a bool tensor")),
    _k(NEW + "PyTorch's fused kernel, not worth matching: a complex add computes a + alpha * b with a complex alpha "
       "of 1, so an infinite real operand's zero imaginary part becomes inf * 0 = nan (torch inf+nanj, ember and "
       "C99 inf+2j)", "dtypes", "add iadd add_ torch.add", "value",
       when=lambda p, d: "nanj" in d.torch and "inf" in p.source()),
    # -- linear algebra (tests/differential/linalg.py)
    _k(NEW + "PyTorch's own bug, nothing to fix in ember: torch.kron of a non-contiguous (transposed) matrix raises "
       "'view size is not compatible'", "linalg", "kron", "raises-only-torch", when=_says("view size")),
    _k(NEW + "PyTorch skips its dtype check for empty operands: bmm / cdist of a (0, m, n) float32 and float64 "
       "run there; ember refuses mixed dtypes whatever the size", "linalg", "bmm cdist baddbmm pinv",
       "raises-only-ember", when=lambda p, d: "zeros((0," in p.source()),
    _k(NEW + "rounding, not yet matched: cdist(p=2) through the matrix product (compute_mode='use_mm_for_euclid_dist'"
       ", or past 25 rows): PyTorch's kernel rounds ||x||^2 - 2 x.y + ||y||^2 its own way (0 between identical rows), "
       "ember's residue there is a rounding error's square root (~2e-4 in float32); neither sum order tried (ember's, "
       "an augmented single product) matches PyTorch's elementwise", "linalg", "cdist", "value",
       when=lambda p, d: "use_mm_for_euclid_dist" in p.source()),
    _k(NEW + "PyTorch's solve_triangular takes A and B of different float dtypes (the result in A's dtype) "
       "without a check, unlike linalg.solve; ember refuses them as linalg.solve does", "linalg",
       "solve_triangular triangular_solve", "raises-only-ember", when=_says("to have the same dtype")),
    # -- torch.nn.functional (tests/differential/functional.py)
    _k(NEW + "PyTorch's own bug, nothing to fix in ember: a loss's backward with mixed float32/float64 operands "
       "raises 'Found dtype Double but expected Float'", "functional", "backward", "raises-only-torch",
       when=_says("Found dtype")),
    _k(NEW + "PyTorch's own bug, nothing to fix in ember: group_norm with a bias and no weight raises 'tensor does not "
       "have a device' in backward", "functional", "backward", "raises-only-torch", when=_says("does not have a device")),
    _k(NEW + "PyTorch's own bugs, nothing to fix in ember: lp_pool1d with a tuple kernel_size (its docs allow one) "
       "multiplies by the tuple and raises TypeError; fractional_max_pool2d/3d with a number as output_ratio (its docs "
       "allow one) raises TypeError; pixel_unshuffle refuses a channels_last_3d input; ember computes them",
       "functional", "lp_pool1d fractional_max_pool2d fractional_max_pool3d pixel_unshuffle", "raises-only-torch",
       when=_says("must be Tensor, not tuple", "has no len()", "Unsupported memory format")),
    _k(NEW + "not in ember (README: grid_sample is 4-D bilinear/nearest): grid_sample's bicubic mode and 5-D "
       "(volumetric) input", "functional", "grid_sample", "raises-only-ember exception-type",
       when=_says("not supported by ember", "ember supports 4-D input")),
    _k(NEW + "PyTorch's circular pad with negative pads crops first, then copies inside its output: a positive pad "
       "wider than what is left overlaps its source, and PyTorch raises or reads memory it never wrote, by memory "
       "layout; ember refuses every such pad (RuntimeError)", "functional", "pad", "raises-only-ember value",
       when=lambda p, d: "circular" in p.source() and "-" in p.source().split("F.pad(")[-1].split(")")[0]),
    _k(NEW + "not fixed (ember/ops/conv.py is not this helper's): conv_transpose with padding making the output size 0 "
       "raises in ember, PyTorch returns an empty tensor", "functional",
       "conv_transpose1d conv_transpose2d conv_transpose3d", "raises-only-ember", when=_says("too small")),
    _k(NEW + "not fixed yet: interpolate(mode='area') to an output size 0 (scale_factor < 1 on a size-1 dim): PyTorch "
       "returns an empty tensor, ember raises", "functional", "interpolate", "raises-only-ember",
       when=_says("should be greater than 0")),
    _k(NEW + "not fixed yet: exception types of a few invalid calls differ (interpolate with a size of the wrong length "
       "for a linear mode: ValueError vs NotImplementedError; multi_margin_loss target out of range: RuntimeError vs "
       "IndexError)", "functional", "interpolate multi_margin_loss", "exception-type"),
    _k(NEW + "not fixed yet: cosine_similarity with a norm under eps: PyTorch clamps the norms in place under no_grad, "
       "so its gradient still flows through the unclamped norm; ember's clamp_min gives that path no gradient",
       "functional", "backward", "grad:value", anywhere=True,
       when=lambda p, d: "cosine_similarity" in p.source() and "eps=0.5" in p.source()),
    _k(NEW + "rounding at a singular point: cosine_embedding_loss with a zero vector has gradients ~1/sqrt(1e-12); the "
       "two formulas agree to ~4e-9 relative in float64", "functional", "backward", "grad:value", anywhere=True,
       when=lambda p, d: "cosine_embedding_loss" in p.source() and "1000000" in d.torch),
    _k(NEW + "PyTorch's partial write, nothing to fix in ember: embedding(max_norm=) with an index out of range renorms "
       "the weight rows before raising IndexError; ember checks first", "functional", "embedding", "value",
       when=lambda p, d: _torch_raised(p, d.step)),
    _k(NEW + "PyTorch's own bug: lp_pool3d with a kernel_size of the wrong length fails unpacking it (ValueError); "
       "ember's RuntimeError is the one its other pools raise", "functional", "lp_pool3d", "exception-type",
       when=_says("too many values to unpack", "not enough values to unpack")),
    _k(NEW + "a kink's side: grid_sample's bilinear gradient is one-sided where a grid point lands exactly on a pixel "
       "(affine_grid of round thetas, as an identity-initialised spatial transformer's), and PyTorch's vectorized CPU "
       "kernel unnormalises with a fused multiply-add ((y + 1) * size/2 - 0.5 rounded once: 2/3 lands at "
       "1.9999999999999998 where plain arithmetic gives 2.0), so it takes the other side at some points; NumPy has no "
       "fma (long double emulation is not portable)", "functional", "backward", "grad:value", anywhere=True,
       when=lambda p, d: "affine_grid" in p.source() and "grid_sample" in p.source()),
]


def known_issue(program, d):
    """The entry that explains divergence d, or None."""
    return next((k for k in KNOWN if k.matches(program, d)), None)
