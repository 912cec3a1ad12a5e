"""Divergences already filed, kept from failing the suite until they are fixed: remove an entry with its fix.

Each entry is narrow: a family, the ops that trigger it (the op of the step where the runs part, or, with
`anywhere=True`, any op of the program) and the kinds of divergence it produces. `make fuzz` still prints
these classes, labelled with their entry."""
import re
from dataclasses import dataclass

from .inplace_views import VIEWS
from .program import Ref


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


def _backwards(program, d=None) -> int:
    return sum(s.op in ("backward", "backward_gradient", "grad") for s in program.steps)


def _create_graph(program, d=None) -> bool:
    return any(k == ("create_graph", True) for s in program.steps for k in s.kwargs)


def _operand_is_a_view_of_the_target(program, d) -> bool:
    """The diverging step is `x.op_(y)` with y a view of x (`x.add_(x.diagonal())`)."""
    args = program.steps[d.step].args
    if len(args) < 2 or not isinstance(args[1], Ref):
        return False
    made = program.steps[args[1].i]
    return made.op in VIEWS and made.args[:1] == args[:1]


def _says(*texts):
    """The divergence's message (PyTorch's or ember's) contains one of texts."""
    return lambda program, d: any(t in d.torch or t in d.ember for t in texts)


S2 = "issue 12 §2: "         # filed in the issue's list of divergences
NEW = "found by tests/differential, not in issue 12 §2: "

KNOWN = [
    # -- autograd graphs
    _k(S2 + "a second backward: ember saves what PyTorch does not (or frees what it keeps)", "autograd",
       "backward backward_gradient grad", "raises-only-ember raises-only-torch", when=lambda p, d: _backwards(p) > 1),
    _k(NEW + "a backward that raises midway has already accumulated some leaves' grads (engine order)",
       "autograd", "backward backward_gradient", "grad:type", when=lambda p, d: _backwards(p) > 1),
    _k(S2 + "median of an empty tensor", "autograd", "median median_dim"),
    _k(S2 + "create_graph first-order grads of piecewise ops must require grad (l1_loss and tensordot with a "
       "size-1 contracted dim are fixed)", "autograd", "hardshrink softshrink rrelu_eval",
       "grad:requires_grad requires_grad", anywhere=True, when=_create_graph),
    _k(NEW + "size-0 operands of another dtype: PyTorch skips its dtype check (einsum returns float32), ember "
       "raises or promotes (matmul's case is fixed)", "autograd", "einsum", "raises-only-ember dtype",
       when=lambda p, d: d.kind == "dtype" or "same dtype" in d.ember),
    _k(NEW + "create_graph grads of size-0 inputs: PyTorch's formula short-circuits to a constant for some ops "
       "(cumprod: .grad.requires_grad False)", "autograd", "backward backward_gradient grad",
       "grad:requires_grad requires_grad", when=lambda p, d: "zeros((0" in p.source()),
    _k(NEW + "nan's sign bit: ember's sqrt of a negative number is -nan (NumPy), PyTorch's +nan (log's is fixed); "
       "copysign and signbit see it", "autograd", "copysign", "value"),
    _k("PyTorch's own bug, nothing to fix in ember: huber_loss backward with mixed float dtypes raises "
       "'Found dtype Float but expected Double'", "autograd", "huber_loss", "raises-only-torch", anywhere=True,
       when=_says("Found dtype")),
    # -- optimizers
    _k(S2 + "LBFGS with line_search_fn='strong_wolfe': iteration counts and state as PyTorch", "optim", "LBFGS",
       anywhere=True, when=lambda p, d: "strong_wolfe" in p.source()),
    _k("not a bug, rounding: LBFGS's history (al = ro * s.q with ro = 1 / y.s, y.s small near a minimum) "
       "agrees to ~3e-10 in float64; the parameters to ~1e-12", "optim", "LBFGS", "state:value", anywhere=True),
    # -- in-place ops and views
    _k(S2 + "views made under no_grad report requires_grad/is_leaf as PyTorch does", "inplace",
       "nograd_view nograd_detached", anywhere=True),
    _k(S2 + "views made before base.requires_grad_() report requires_grad/is_leaf as PyTorch does", "inplace",
       "requires_grad_", anywhere=True),
    _k(S2 + "zero_/fill_/copy_ on a non-leaf stay in the graph and are checked by version counters", "inplace",
       "zero_ fill_ copy_", "raises-only-torch raises-only-ember grad:type grad:value is_leaf requires_grad "
       "grad_fn", anywhere=True),
    _k(NEW + "a backward that raises midway has already accumulated some leaves' grads (engine order)",
       "inplace", "backward grad", "grad:type"),
    _k(NEW + "an in-place op with an operand that requires grad, on a view of a base that does not: the base's "
       "other views must leave the leaves too (PyTorch regenerates their grad_fn)", "inplace",
       "add_ mul_ sub_ div_ copy_ setitem index_add_ nograd_add_", "is_leaf grad_fn"),
    _k(NEW + "detach_() of a view must raise (\"Can't detach views in-place\"), and so must an in-place op on a "
       "view whose base was detach_()ed, and a backward that needs a saved tensor that was detach_()ed",
       "inplace", "detach_ div_ mul_ add_ sub_ exp_ sin_ relu_ F.relu_ clamp_ sigmoid_ tanh_ pow_ neg_ abs_ sqrt_ "
       "zero_ fill_ copy_ setitem masked_fill_ index_add_ backward grad", "raises-only-torch",
       when=_says("detach views in-place", "view of a leaf Variable", "detached in-place")),
    _k(S2 + "split/unbind/chunk outputs whose base or sibling was modified in place", "inplace",
       "split unbind chunk", "missing:observing-raised raises-only-torch", anywhere=True),
    _k(S2 + "the in-place safety net has holes (chains of in-place ops on saved tensors)", "inplace",
       "backward grad", "raises-only-torch", when=_says("modified by an inplace operation")),
    _k(NEW + "(the same) where PyTorch does not refuse the overlap, it reads the operand as it writes "
       "(x.add_(x.diagonal()) sees updated elements); ember reads a snapshot", "inplace",
       "add_ mul_ sub_ div_ copy_ nograd_add_", "value", when=_operand_is_a_view_of_the_target),
    _k(NEW + "`view.data = t` with another dtype changes the base's grad dtype", "inplace", "set_data",
       "grad:dtype", anywhere=True),
]


def known_issue(program, d):
    """The entry that explains divergence d, or None."""
    return next((k for k in KNOWN if k.matches(program, d)), None)
