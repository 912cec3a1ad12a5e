"""`make fuzz`: random programs with a fresh seed until the time (or example) budget is spent; every class of
divergence is printed once, with its shrunk reproducer.

    python -m tests.differential.fuzz [--seconds 180] [--examples N] [--seed S] [--family autograd ...]

A class is family + the op of the step where the runs part + the kind of divergence (value, grad:value,
raises-only-ember, dtype, ...). The search goes in rounds of a few hundred programs, one family at a time:
in a round, the first program that diverges in a class not seen yet becomes the target, hypothesis shrinks
it to a minimal program of that same class (then simplify.py drops the steps it left), and the round ends.
A divergence counts as seen when a reproducer of its class uses only ops its program uses, or when the
known.py entry that explains it was met already, so one bug does not hide the others. Known classes are
printed with their entry, after the new ones. Exit status 1 when a class that is not in known.py was found."""
import argparse
import random
import sys
import time
from dataclasses import dataclass

from hypothesis import HealthCheck, find, settings
from hypothesis.errors import HypothesisException, NoSuchExample

from .families import FAMILIES
from .known import KNOWN, known_issue
from .program import check, class_of, fails_as, reproducer
from .simplify import simplify

ROUND = 300     # programs per round, at most
INPUTS = {"tensor", "zeros", "tensor_t", "param", "item", "grad_of"}   # ops that only make inputs


class _OutOfTime(Exception):
    pass


@dataclass
class Finding:
    program: object
    divergence: object
    known: object

    @property
    def ops(self):
        return self.program.ops() - INPUTS


class Fuzzer:
    def __init__(self, families, seed, deadline):
        self.families, self.seed, self.rng, self.deadline = families, seed, random.Random(seed), deadline
        self.found = {}     # class -> [Finding]
        self.notes = {}     # (family, op, torch's exception, ember's) -> (program, divergence), not shrunk
        self.examples = 0
        self.known_met = set()  # known.py entries that explained a divergence in this run

    def seen(self, key, program, d) -> bool:
        """Already found: a reproducer of this class uses only ops this program uses, or the known.py entry
        that explains it was found already."""
        known = known_issue(program, d)
        return any(f.ops <= program.ops() for f in self.found.get(key, ())) or (
            known is not None and any(f.known == known for fs in self.found.values() for f in fs))

    def round(self, family):
        target, smallest = [], []

        def diverges(program):
            if time.monotonic() > self.deadline:
                raise _OutOfTime
            self.examples += 1
            d, notes = check(program)
            for n in notes:
                note = (family.name, program.steps[n.step].op, n.torch.split(":")[0], n.ember.split(":")[0])
                self.notes.setdefault(note, (program, n))
            if d is None:
                return False
            self.known_met.add(known_issue(program, d))
            key = class_of(program, d)
            if not target and not self.seen(key, program, d):
                target.append(key)
            if target and key == target[0]:
                smallest[:] = [program]     # the shrinker only ever moves to a smaller failing program
                return True
            return False

        try:
            program = find(family.programs(), diverges, random=random.Random(self.rng.getrandbits(64)),
                           settings=settings(max_examples=ROUND, database=None, deadline=None,
                                             suppress_health_check=list(HealthCheck)))
        except NoSuchExample:
            return None
        except HypothesisException as e:   # a generator that is not deterministic: say so, go on
            print(f"  [{family.name}] round abandoned: {type(e).__name__}: {str(e).splitlines()[0]}", flush=True)
            return None
        except _OutOfTime:              # keep what the shrinker had reached
            if not smallest:
                return None
            program = smallest[0]
        d = check(program)[0]
        if d is None:                   # (a program that diverges only sometimes: nothing to report)
            return None
        key = class_of(program, d)
        fails = fails_as(key)
        program = simplify(program, lambda p: time.monotonic() < self.deadline + 10 and fails(p))
        d, _ = check(program)
        finding = Finding(program, d, known_issue(program, d))
        self.found.setdefault(key, []).append(finding)
        return finding

    def report(self, seconds) -> int:
        findings = [f for fs in self.found.values() for f in fs]
        new = [f for f in findings if f.known is None]
        print(f"\n== {len(findings)} classes ({len(new)} new, {len(findings) - len(new)} known) in "
              f"{self.examples} programs, {seconds:.0f} s, seed {self.seed} ==")
        for f in sorted(findings, key=lambda f: (f.known is not None, class_of(f.program, f.divergence))):
            family, op, kind = class_of(f.program, f.divergence)
            label = f"known: {f.known.item}" if f.known else "NEW"
            print(f"\n-- [{family}] {op} / {kind}  ({label})\n{f.divergence.describe()}\n")
            print(reproducer(f.program, f.divergence))
        unmet = [k for k in KNOWN if k.family in {f.name for f in self.families} and k not in self.known_met]
        if unmet:
            print("== known.py entries no program met in this run (fixed? then remove them) ==")
            for k in unmet:
                print(f"[{k.family}] {k.item}")
        if self.notes:
            print("== both raised, with different exception types (not failures) ==")
            for (family, op, theirs, ours), (program, n) in sorted(self.notes.items()):
                line = program.family.line(n.step, program.steps[n.step])
                print(f"[{family}] {op}: torch {theirs}, ember {ours}   | {line}")
        return 1 if new else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="time budget (default 180)")
    parser.add_argument("--examples", type=int, default=None, help="stop after this many programs")
    parser.add_argument("--seed", type=int, default=None, help="reproduce an earlier run")
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES), help="only these (repeatable)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 32)
    print(f"fuzz: seed {seed} (rerun with --seed {seed})", flush=True)
    start = time.monotonic()
    fuzzer = Fuzzer([FAMILIES[n] for n in args.family or FAMILIES], seed, start + args.seconds)
    k = 0
    try:
        while time.monotonic() < fuzzer.deadline and (args.examples is None or fuzzer.examples < args.examples):
            family = fuzzer.families[k % len(fuzzer.families)]
            k += 1
            f = fuzzer.round(family)
            if f is not None:
                print(f"  [{family.name}] {' / '.join(class_of(f.program, f.divergence)[1:])}"
                      f"{'' if f.known is None else '  (known)'}", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    return fuzzer.report(time.monotonic() - start)


if __name__ == "__main__":
    sys.exit(main())
