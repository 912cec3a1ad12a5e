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
    # -- optimizers
    _k("not a bug, rounding: LBFGS's history (al = ro * s.q with ro = 1 / y.s, y.s small near a minimum) "
       "agrees to ~3e-10 in float64; the parameters to ~1e-12", "optim", "LBFGS", "state:value", anywhere=True),
    _k("rounding at a kink, not fixable in general: PyTorch's dot is MKL's ddot, whose summation order (CPU "
       "dependent) ember emulates for up to 4 elements only; with more parameters an L-BFGS step can land one ulp "
       "off |x - c| = 0 in one library and on it in the other (abs' is 0 there), and the runs part",
       "optim", "LBFGS", "value state:value", anywhere=True, when=lambda p, d: ".abs()" in p.source()),
    # -- in-place ops and views
    _k(NEW + "F.max_pool1d of a tensor that requires grad returns a view in PyTorch (max_pool2d's output squeezed: "
       "SqueezeBackward1), so detach_() of it raises there; ember's output is no view", "inplace", "detach_",
       "raises-only-torch", when=lambda p, d: "max_pool1d" in p.source() and "detach views" in d.torch),
    _k(NEW + "softmax/log_softmax of a 0-d tensor: ember's result is a view (a reshape back to 0-d, grad_fn "
       "ViewBackward0), so detach_() of it raises in ember only", "inplace", "detach_", "raises-only-ember",
       when=lambda p, d: "softmax" in p.source() and "detach views" in d.ember),
]


def known_issue(program, d):
    """The entry that explains divergence d, or None."""
    return next((k for k in KNOWN if k.matches(program, d)), None)
