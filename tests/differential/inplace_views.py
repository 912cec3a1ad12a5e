"""Family (b): in-place ops on leaves, non-leaves and views; no_grad, `.data`, detach; then backward.

The version counters must refuse exactly the programs PyTorch refuses ("modified by an inplace operation",
"a leaf Variable that requires grad is being used in an in-place operation", "a view of a leaf ...")."""
from hypothesis import strategies as st

from .autograd_graphs import other, tame, tensor
from .gen import Builder, is_float_tensor
from .program import Family, Src, Stmt

# out-of-place ops that save their input or output for backward, so a later in-place op matters
COMPUTE = {
    "mul": "{0} * {1}", "exp": "{0}.exp()", "sigmoid": "torch.sigmoid({0})", "tanh": "{0}.tanh()",
    "relu": "torch.relu({0})", "pow2": "{0} ** 2", "sin": "{0}.sin()", "sqrt": "{0}.sqrt()",
    "div": "{0} / {1}", "clone": "{0}.clone()", "times1": "{0} * 1", "softmax": "{0}.softmax(-1)",
    "prod": "{0}.prod()", "cumsum": "{0}.cumsum(0)", "max": "{0}.max()", "sum": "{0}.sum()",
    "max_pool": "F.max_pool1d({0}.reshape(1, 1, -1), 2)", "mm": "{0} @ {1}.mT",
}
VIEWS = {
    "slice": "{0}[1:]", "t": "{0}.t()", "view": "{0}.view(-1)", "unsqueeze": "{0}.unsqueeze(0)",
    "diagonal": "{0}.diagonal()", "select": "{0}[0]", "narrow": "{0}.narrow(0, 0, 1)",
    "expand": "{0}.expand(2, *{0}.shape)", "transpose": "{0}.transpose(0, -1)", "detach": "{0}.detach()",
    "data": "{0}.data", "split": "{0}.split(1)[0]", "unbind": "{0}.unbind()[-1]", "chunk": "{0}.chunk(2)[0]",
    "view_as_flat": "{0}.flatten()", "nograd_view": Stmt("with torch.no_grad(): {out} = {0}[1:]"),
    "nograd_detached": Stmt("with torch.no_grad(): {out} = {0}.view_as({0})"),
}
INPLACE = {
    "add_": Stmt("{0}.add_({1})"), "mul_": Stmt("{0}.mul_({1})"), "sub_": Stmt("{0}.sub_({1})"),
    "div_": Stmt("{0}.div_({1})"), "exp_": Stmt("{0}.exp_()"), "sin_": Stmt("{0}.sin_()"),
    "relu_": Stmt("{0}.relu_()"), "F.relu_": Stmt("F.relu_({0})"), "clamp_": Stmt("{0}.clamp_(-1, 1)"),
    "sigmoid_": Stmt("{0}.sigmoid_()"), "tanh_": Stmt("{0}.tanh_()"), "pow_": Stmt("{0}.pow_(2)"),
    "neg_": Stmt("{0}.neg_()"), "abs_": Stmt("{0}.abs_()"), "sqrt_": Stmt("{0}.sqrt_()"),
    "zero_": Stmt("{0}.zero_()"), "fill_": Stmt("{0}.fill_(0.5)"), "copy_": Stmt("{0}.copy_({1})"),
    "setitem": Stmt("{0}[{2}] = {1}"), "masked_fill_": Stmt("{0}.masked_fill_({0} > 0, 0.0)"),
    "index_add_": Stmt("{0}.index_add_(0, torch.tensor([0]), {1}[:1])"),
    "unsqueeze_": Stmt("{0}.unsqueeze_(0)"), "t_": Stmt("{0}.t_()"),
    "detach_": Stmt("{0}.detach_()"), "requires_grad_": Stmt("{0}.requires_grad_({1})"),
    "data_mul_": Stmt("{0}.data.mul_(2)"), "nograd_add_": Stmt("with torch.no_grad(): {0}.add_({1})"),
    "set_data": Stmt("{0}.data = {1}"),
}
BACKWARD = {
    "backward": Stmt("{0}.sum().backward({kw})"),
    "grad": "torch.autograd.grad({0}.sum(), {1}, allow_unused=True{kw})",
}
OPS = {"tensor": "torch.tensor({0}{kw})", "zeros": "torch.zeros({0}{kw})", **COMPUTE, **VIEWS, **INPLACE,
       **BACKWARD}
_WITH_OTHER = {"mul", "div", "mm", "add_", "mul_", "sub_", "div_", "copy_", "setitem", "nograd_add_",
               "index_add_", "set_data"}


def _args(b, name, x):
    if name in _WITH_OTHER:
        y = other(b, x, same_shape=name in ("mm", "set_data")) if not b.chance(30) else 2.0
        return (y, Src(b.choice(["0", "...", "1:", "0, 0"]))) if name == "setitem" else (y,)
    if name == "requires_grad_":
        return (b.chance(50),)
    return ()


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY)
    for _ in range(b.integer(1, 2)):
        tensor(b, b.choice([(3,), (2, 3), (), (2, 2)]))
    for _ in range(b.integer(2, 10)):
        pool = b.refs(lambda v: is_float_tensor(v) and tame(v)) or [tensor(b, (3,))]
        x = b.choice(pool[::-1])
        table = b.choice([COMPUTE, VIEWS, INPLACE, INPLACE, BACKWARD])
        name = b.choice(list(table))
        if name == "backward":
            b.add(name, x, **({"retain_graph": True} if b.chance(50) else {}))
        elif name == "grad":
            leaves = b.refs(lambda v: is_float_tensor(v) and v.is_leaf and v.requires_grad)
            b.add(name, x, leaves[:2] or [x], **({"retain_graph": True} if b.chance(50) else {}))
        else:
            b.add(name, x, *_args(b, name, x))
    b.add("backward", b.choice(b.refs(is_float_tensor)[::-1] or [tensor(b, (3,))]))
    return b.program()


FAMILY = Family("inplace", OPS, programs)
