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
    # -- optimizers
    _k("not a bug, rounding: LBFGS's history (al = ro * s.q with ro = 1 / y.s, y.s small near a minimum) "
       "agrees to ~3e-10 in float64; the parameters to ~1e-12", "optim", "LBFGS", "state:value", anywhere=True),
    _k("rounding at a kink, not fixable in general: PyTorch's dot is MKL's ddot, whose summation order (CPU "
       "dependent) ember emulates for up to 4 elements only, and the two-loop recursion is not reproduced bit for "
       "bit over several steps; so an L-BFGS step can land one ulp off |x - c| = 0 in one library and on it (or "
       "on its other side) in the other (abs' is 0 there, +-1 beside it), and the runs part",
       "optim", "LBFGS", "value state:value grad:value", anywhere=True, when=lambda p, d: ".abs()" in p.source()),
]


def known_issue(program, d):
    """The entry that explains divergence d, or None."""
    return next((k for k in KNOWN if k.matches(program, d)), None)
