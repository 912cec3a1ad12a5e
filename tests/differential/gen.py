"""Drawing programs: a Builder appends steps and runs each one under PyTorch as it goes, so the next draw
knows what the values are (their shapes, dtypes, whether they raised) without shape rules of its own."""
import functools

import numpy as np
from hypothesis import strategies as st

from .program import Interpreter, Program, Ref, Src, Step, _torch

# Leaf values: a small grid, so ties (max, sort, median) and kinks (relu at 0, abs, clamp bounds) come up
GRID = [0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 1.5, -2.0, 3.0, -0.25, 0.25, -1.5]
SPECIAL = [float("nan"), float("inf"), float("-inf")]
SHAPES = [(3,), (2, 3), (), (3, 2), (1, 3), (2, 1, 3), (0,), (0, 3), (2, 2)]
DTYPES = {"float32": Src("torch.float32"), "float64": Src("torch.float64")}


class Builder:
    """Appends steps to a program, running each under PyTorch to learn what it made (`run=False`: for
    generators that never look at the values)."""

    def __init__(self, draw, family, run=True):
        self.draw, self.family, self.steps, self.run = draw, family, [], run
        self.torch = Interpreter(_torch, family)

    def add(self, op, *args, **kwargs) -> Ref:
        step = Step(op, args, tuple(kwargs.items()))
        if self.run:
            self.torch.run(len(self.steps), step)
        self.steps.append(step)
        return Ref(len(self.steps) - 1)

    def __getitem__(self, ref: Ref):
        return self.torch.value(ref.i)

    def refs(self, pred=lambda v: True) -> list:
        return [Ref(i) for i in range(len(self.steps)) if _holds(pred, self.torch.value(i))]

    def program(self) -> Program:
        return Program(self.family, tuple(self.steps))

    # draws, each shrinking towards the first choice / False / the low end
    def choice(self, options):
        options = tuple(options)
        return options[self.draw(_integers(0, len(options) - 1))]

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(_integers(lo, hi))

    def chance(self, percent: int) -> bool:
        return self.draw(_integers(0, 99)) >= 100 - percent

    def data(self, shape, special=False):
        """Nested lists of grid values for a tensor literal of `shape`."""
        grid = GRID + SPECIAL if special else GRID
        flat = [self.choice(grid) for _ in range(int(np.prod(shape, dtype=np.int64)))]
        return np.array(flat, dtype=object).reshape(shape).tolist() if shape else flat[0]


@functools.lru_cache(maxsize=None)
def _integers(lo, hi):
    return st.integers(lo, hi)


def _holds(pred, value) -> bool:
    try:
        return bool(pred(value))
    except Exception:           # PyTorch refuses to show some tensors (a split output modified in place)
        return False


def is_float_tensor(v) -> bool:
    return isinstance(v, _torch.Tensor) and v.dtype in (_torch.float32, _torch.float64)


def broadcastable(a, b) -> bool:
    try:
        np.broadcast_shapes(tuple(a), tuple(b))
        return True
    except ValueError:
        return False
