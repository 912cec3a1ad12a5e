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


def _k(item, family, ops, kinds=(), anywhere=False, when=None):
    return Known(item, family, frozenset(ops.split()), frozenset(kinds.split()), anywhere, when)


def _special(program) -> bool:
    """The program has a nan or an infinity among its literals."""
    return any(w in program.source() for w in ("nan,", "inf,", "nan]", "inf]", "(nan", "(inf", " nan", " inf"))


KNOWN = [
]


def known_issue(program, d):
    """The entry that explains divergence d, or None."""
    return next((k for k in KNOWN if k.matches(program, d)), None)
