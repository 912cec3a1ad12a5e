"""MEM-1 and MEM-2 (docs/RELIABILITY.md): backward frees the graph by reference counting alone; no reference cycles."""
import gc
import math
import tracemalloc
import weakref

import pytest

import ember


@pytest.fixture
def gc_disabled():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_intermediate_dies_right_after_backward(gc_disabled):
    x = ember.ones(3, requires_grad=True)
    h = x.exp()
    y = (h * h).sum()
    ref = weakref.ref(h)
    del h
    assert ref() is not None                       # still saved by MulBackward0
    y.backward()
    assert ref() is None
    mul = y.grad_fn.next_functions[0][0]
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        _ = mul.saved_tensors


def _seed_step(params, x, y, fn):
    a, b, c, d = params
    h = (a + b * x + c * x ** 2 + d * fn.apply(x * 0.5)).reshape(20, 10)
    h2 = h * 1
    h2[0].mul_(2)                                  # in-place on a view: CopySlices history
    h2.retain_grad()
    h2.register_hook(lambda g: g * 1)
    loss = (h2 - y.reshape(20, 10)).pow(2).sum()
    loss.backward()
    with ember.no_grad():
        for p in params:
            p -= 1e-4 * p.grad
            p.grad = None


class _P3(ember.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return grad * 1.5 * (5 * input ** 2 - 1)


def _ember_objects(objects):
    """Instances of ember's classes (tensors, nodes, ...), not the classes themselves."""
    found = []
    for o in objects:
        module = type(o).__dict__.get("__module__") if not isinstance(o, type) else None
        if isinstance(module, str) and module.startswith("ember"):
            found.append(o)
    return found


def _big_blocks(snapshot):
    return sum(trace.size for trace in snapshot.traces if trace.size >= 256)


def test_training_loop_makes_no_cycles_and_stays_flat(gc_disabled):
    x = ember.linspace(-math.pi, math.pi, 200)
    y = ember.sin(x)
    params = [ember.full((), v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3)]
    for _ in range(20):                            # warm-up: caches, first allocations
        _seed_step(params, x, y, _P3)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    tracked = len(_ember_objects(gc.get_objects()))
    for _ in range(500):
        _seed_step(params, x, y, _P3)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(_ember_objects(gc.get_objects())) == tracked
    # Python's small-object free lists (tuples, floats) look like growth to tracemalloc until they fill up;
    # array data and graph objects are the blocks of interest: count blocks of 256 bytes and more.
    growth = _big_blocks(after) - _big_blocks(before)
    assert growth < 16 * 1024, f"memory in large blocks grew by {growth} bytes over 500 steps"
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        leaked = _ember_objects(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not leaked, f"reference cycles among: {sorted({type(o).__name__ for o in leaked})}"


def test_create_graph_backward_makes_no_cycle(gc_disabled):
    x = ember.ones(3, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    grad_ref = weakref.ref(x.grad.grad_fn)
    x.grad = None
    assert grad_ref() is None                      # the leaf holds its accumulator, not the other way round
