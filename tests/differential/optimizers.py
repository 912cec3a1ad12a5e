"""Family (c): every optimizer x its options x parameter patterns, over several steps.

Parameters are 0-d or small, float32 or float64, in one or two groups; each step draws its own loss, in which
each parameter is used 0, 1, 2 or 3 times (the "dynamic net" pattern); mid-run the state_dict is loaded into a
fresh optimizer, which then carries on. The optimizer's state_dict (state tensors and hyperparameters) is
compared after every step."""
from hypothesis import strategies as st

from .gen import DTYPES, Builder
from .program import Family, Src, Stmt

# name -> {option: choices}; an option is passed (with a drawn choice) only sometimes
OPTIONS = {
    "SGD": dict(momentum=[0.9, 0.5], dampening=[0.5], nesterov=[True], weight_decay=[0.1], maximize=[True]),
    "Adam": dict(betas=[(0.5, 0.9)], eps=[1e-3], weight_decay=[0.1], amsgrad=[True], maximize=[True],
                 foreach=[False, True], decoupled_weight_decay=[True]),
    "AdamW": dict(betas=[(0.5, 0.9)], weight_decay=[0.0, 0.1], amsgrad=[True], maximize=[True]),
    "Adamax": dict(betas=[(0.5, 0.9)], eps=[1e-3], weight_decay=[0.1], maximize=[True], foreach=[False, True]),
    "NAdam": dict(betas=[(0.5, 0.9)], momentum_decay=[0.1], weight_decay=[0.1], decoupled_weight_decay=[True]),
    "RAdam": dict(betas=[(0.5, 0.9)], weight_decay=[0.1], decoupled_weight_decay=[True]),
    "RMSprop": dict(alpha=[0.5], eps=[1e-3], weight_decay=[0.1], momentum=[0.9], centered=[True],
                    maximize=[True]),
    "Adagrad": dict(lr_decay=[0.1], weight_decay=[0.1], initial_accumulator_value=[0.5], eps=[1e-3],
                    maximize=[True]),
    "Adadelta": dict(rho=[0.5], eps=[1e-3], weight_decay=[0.1], maximize=[True]),
    "ASGD": dict(lambd=[0.1], alpha=[0.5], t0=[1.0, 2.0], weight_decay=[0.1], maximize=[True]),
    "Rprop": dict(etas=[(0.3, 1.5)], step_sizes=[(0.01, 0.05)], maximize=[True]),
    "Adafactor": dict(beta2_decay=[-0.5], d=[0.5], weight_decay=[0.1], maximize=[True]),
    "LBFGS": dict(history_size=[2], line_search_fn=["strong_wolfe"], tolerance_grad=[1e-3]),
}
LR = {"Adadelta": [1.0, 0.5], "LBFGS": [1.0, 0.5], "ASGD": [0.1, 0.01]}
# one use of parameter p in a loss; LBFGS gets only the convex ones (on the others its unguarded steps
# run off to overflow, where one rounding apart gives another trajectory)
CONVEX = ["({p} * {p}).sum()", "({p} - 1).abs().sum()", "{p}.exp().sum()", "({p} * 0.5).sum()"]
TERMS = CONVEX + ["({p}.tanh() * 3).sum()", "({p} ** 3).mean()"]   # (not sin: parameters grow large)

OPS = {name: f"torch.optim.{name}({{0}}{{kw}})" for name in OPTIONS}
OPS.update({
    "param": "torch.nn.Parameter(torch.tensor({0}{kw}))",
    "zero_grad": Stmt("{0}.zero_grad({kw})"),
    "loss": "{0}",
    "backward": Stmt("{0}.backward()"),
    "step": Stmt("{0}.step()"),
    "step_closure": "{0}.step(closure({0}, lambda: {1}))",
    "reload": Stmt("{0}.load_state_dict(copy.deepcopy({1}.state_dict()))"),
    "reload_shared": Stmt("{0}.load_state_dict({1}.state_dict())"),  # PyTorch: both then share the state
})
PRELUDE = '''\
import copy


def closure(opt, loss_fn):
    def c():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    return c
'''


def options(b, name):
    kw = {"lr": b.choice(LR.get(name, [0.1, 0.01]))}
    if name == "LBFGS":     # (its default 20 inner iterations amplify float64 rounding past 1e-10)
        kw["max_iter"] = b.choice([3, 5])
    kw.update({k: b.choice(v) for k, v in OPTIONS[name].items() if b.chance(35)})
    return kw


def loss(b, params, terms=TERMS):
    terms = [b.choice(terms).format(p=p) for p in params for _ in range(b.choice([1, 0, 2, 3]))]
    return Src(" + ".join(terms) or f"({params[0]!r} * 0).sum()")


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY, run=False)
    name = b.choice(list(OPTIONS))
    params = []
    for _ in range(b.integer(1, 3)):
        shape = b.choice([(3,), (), (2, 2)])
        # LBFGS in float32 is chaotic: one rounding apart, the line search takes other steps
        dtype = "float64" if name == "LBFGS" else b.choice(["float32", "float64"])
        params.append(b.add("param", b.data(shape), dtype=DTYPES[dtype]))
    groups = params
    if len(params) > 1 and b.chance(40):
        second = {"params": params[1:], "lr": 0.05} | {k: b.choice(v) for k, v in OPTIONS[name].items()
                                                       if b.chance(20)}
        groups = [{"params": params[:1]}, second]
    kw = options(b, name)
    opt = b.add(name, groups, **kw)
    for _ in range(b.integer(1, 5)):
        if name == "LBFGS" or b.chance(15):
            b.add("step_closure", opt, loss(b, params, CONVEX if name == "LBFGS" else TERMS))
        else:
            b.add("zero_grad", opt, **({"set_to_none": False} if b.chance(25) else {}))
            b.add("backward", b.add("loss", loss(b, params)))
            b.add("step", opt)
        if b.chance(25):                # carry on with a fresh optimizer loaded from the state_dict
            new = b.add(name, groups, **(kw | {"lr": 0.5} if b.chance(50) else kw))
            b.add("reload_shared" if b.chance(20) else "reload", new, opt)
            opt = new
    return b.program()


FAMILY = Family("optim", OPS, programs, PRELUDE, observe_all=True)
