"""Divergences already filed, kept from failing the suite until they are fixed: remove an entry with its fix.

Each entry is narrow: a family, the ops that trigger it (the op of the step where the runs part, or, with
`anywhere=True`, any op of the program) and the kinds of divergence it produces. `make fuzz` still prints
these classes, labelled with their entry."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    item: str                   # where it is filed: "issue 12 §2: ..." (or the new class it reports)
    family: str
    ops: frozenset
    kinds: frozenset = frozenset()  # empty: any kind
    anywhere: bool = False      # the ops may be anywhere in the program, not only at the diverging step
    when: object = None         # and, if given, when(program) holds

    def matches(self, program, d) -> bool:
        if program.family.name != self.family or (self.kinds and d.kind not in self.kinds):
            return False
        used = program.ops() if self.anywhere else {program.steps[d.step].op}
        return bool(self.ops & used) and (self.when is None or self.when(program))


def _k(item, family, ops, kinds="", anywhere=False, when=None):
    return Known(item, family, frozenset(ops.split()), frozenset(kinds.split()), anywhere, when)


def _special(program) -> bool:
    """The program has a nan or an infinity among its literals."""
    return any(w in program.source() for w in ("nan,", "inf,", "nan]", "inf]", "(nan", "(inf", " nan", " inf"))


def _backwards(program) -> int:
    return sum(s.op in ("backward", "backward_gradient", "grad") for s in program.steps)


def _create_graph(program) -> bool:
    return any(k == ("create_graph", True) for s in program.steps for k in s.kwargs)


S2 = "issue 12 §2: "         # filed in the issue's list of divergences
NEW = "found by tests/differential, not in issue 12 §2: "

KNOWN = [
    # -- autograd graphs
    _k(S2 + "a second backward: ember saves what PyTorch does not (or frees what it keeps)", "autograd",
       "backward backward_gradient grad", "raises-only-ember raises-only-torch", when=lambda p: _backwards(p) > 1),
    _k(NEW + "a backward that raises midway has already accumulated some leaves' grads (engine order)",
       "autograd", "backward backward_gradient", "grad:type", when=lambda p: _backwards(p) > 1),
    _k(NEW + "backward into a .grad that requires grad (after create_graph) must accumulate in place",
       "autograd", "backward backward_gradient", "grad:requires_grad", when=_create_graph),
    _k(S2 + "median of an empty tensor", "autograd", "median median_dim"),
    _k(NEW + "torch.outer accepts non-1-d arguments", "autograd", "outer", "raises-only-torch"),
    _k(NEW + "einsum/tensordot promote mixed dtypes where PyTorch refuses them", "autograd", "einsum tensordot",
       "raises-only-torch dtype"),
    _k(NEW + "F.linear of a size-0 input raises", "autograd", "linear", "raises-only-ember"),
    _k(NEW + "cummax/cummin of a 0-d tensor raise", "autograd", "cummax", "raises-only-ember"),
    _k(NEW + "cat backward gives no grad to a size-0 input", "autograd", "cat", "grad:type", anywhere=True),
    _k(NEW + "x[[[0], [1]]] (a list of lists) is a tuple index in PyTorch", "autograd", "index", "shape"),
    _k(NEW + "digamma backward at a pole (PyTorch: a large finite number)", "autograd", "digamma",
       "grad:value value", anywhere=True),
    _k(NEW + "copysign backward at inf (PyTorch: nan)", "autograd", "copysign", "grad:value value", anywhere=True,
       when=_special),
]


def known_issue(program, d):
    """The entry that explains divergence d, or None."""
    return next((k for k in KNOWN if k.matches(program, d)), None)
