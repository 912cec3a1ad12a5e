"""A last shrinking pass over a failing program's steps (hypothesis shrinks the draws, which can leave
chains like `exp(exp(x))` that no single draw change removes): drop a step nothing uses, or bypass a step
by handing its first input to its users, while the program still fails the same way."""
import re

from .program import Program, Ref, Src, Step

_NAME = re.compile(r"\bv(\d+)\b")


def _refs(x) -> set:
    """The step indices an argument refers to."""
    if isinstance(x, Ref):
        return {x.i}
    if isinstance(x, Src):
        return {int(i) for i in _NAME.findall(x)}
    if isinstance(x, (list, tuple)):
        return set().union(*map(_refs, x)) if x else set()
    if isinstance(x, dict):
        return _refs(list(x.values()))
    return set()


def _rename(x, new):
    """x with each reference to step i pointing to step new[i]."""
    if isinstance(x, Ref):
        return Ref(new[x.i])
    if isinstance(x, Src):
        return Src(_NAME.sub(lambda m: f"v{new[int(m.group(1))]}", x))
    if isinstance(x, list):
        return [_rename(v, new) for v in x]
    if isinstance(x, tuple):
        return tuple(_rename(v, new) for v in x)
    if isinstance(x, dict):
        return {k: _rename(v, new) for k, v in x.items()}
    return x


def _without(program: Program, j: int, replacement=None):
    """The program without step j; its users refer to step `replacement` instead (None: there must be none)."""
    steps = program.steps
    used = any(j in _refs(s.args) | _refs(s.kwargs) for s in steps[j + 1:])
    if used and replacement is None:
        return None
    new = {i: i - (i > j) for i in range(len(steps))}
    new[j] = new[replacement] if replacement is not None else None
    kept = tuple(Step(s.op, _rename(s.args, new), _rename(s.kwargs, new))
                 for i, s in enumerate(steps) if i != j)
    return Program(program.family, kept)


def simplify(program: Program, fails) -> Program:
    """Remove steps while fails(program) holds; fails(program) must hold to begin with."""
    progress = True
    while progress:
        progress = False
        for j in reversed(range(len(program.steps))):
            inputs = sorted(_refs(program.steps[j].args), reverse=True)
            for candidate in [_without(program, j)] + [_without(program, j, k) for k in inputs]:
                if candidate is not None and fails(candidate):
                    program, progress = candidate, True
                    break
    return program
