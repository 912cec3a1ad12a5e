"""Family (d): lr schedulers x options over a dozen epochs, with a state_dict reload mid-run.

An SGD optimizer with momentum (CyclicLR and OneCycleLR cycle it) over one or two parameter groups; each
epoch is `opt.step(); sched.step()` (`sched.step(metric)` for ReduceLROnPlateau). The scheduler's last lr and
epoch and the optimizer's param_groups are compared after every step."""
from hypothesis import strategies as st

from .gen import Builder
from .program import Family, Src, Stmt

LRS = "torch.optim.lr_scheduler."
# name -> {option: choices}; options with a first choice of None are passed only sometimes
SCHEDULERS = {
    "StepLR": dict(step_size=[2, 1, 3], gamma=[0.1, 0.5]),
    "MultiStepLR": dict(milestones=[[2, 4], [1, 1, 3]], gamma=[0.1, 0.5]),
    "ExponentialLR": dict(gamma=[0.9, 0.5]),
    "CosineAnnealingLR": dict(T_max=[5, 2], eta_min=[None, 0.01]),
    "LambdaLR": dict(lr_lambda=[Src("lambda e: 0.9 ** e"), Src("lambda e: 1 / (e + 1)")]),
    "MultiplicativeLR": dict(lr_lambda=[Src("lambda e: 0.9"), Src("lambda e: 0.5 if e % 2 else 1.0")]),
    "LinearLR": dict(start_factor=[None, 0.5, 0.25], end_factor=[None, 0.1], total_iters=[None, 2, 5]),
    "ConstantLR": dict(factor=[None, 0.5], total_iters=[None, 2]),
    "PolynomialLR": dict(total_iters=[None, 3, 8], power=[None, 2.0, 0.5]),
    "CosineAnnealingWarmRestarts": dict(T_0=[3, 2], T_mult=[None, 2], eta_min=[None, 0.01]),
    "CyclicLR": dict(base_lr=[0.01], max_lr=[0.1, [0.1, 0.2]], step_size_up=[2, 3], step_size_down=[None, 1],
                     mode=[None, "triangular2", "exp_range"], gamma=[None, 0.9], cycle_momentum=[None, False]),
    "OneCycleLR": dict(max_lr=[0.1, 1.0], total_steps=[20], pct_start=[None, 0.5], anneal_strategy=[None, "linear"],
                       three_phase=[None, True], cycle_momentum=[None, False], div_factor=[None, 5.0]),
    "ReduceLROnPlateau": dict(mode=[None, "max"], factor=[None, 0.5], patience=[None, 0, 2], threshold=[None, 0.1],
                              threshold_mode=[None, "abs"], cooldown=[None, 1], min_lr=[None, 0.02]),
    "SequentialLR": dict(milestones=[[2], [3]]),     # of the two below
    "ChainedScheduler": dict(),
}
TWO = f"[{LRS}ConstantLR({{0}}, factor=0.5, total_iters=2), {LRS}ExponentialLR({{0}}, gamma=0.9)]"
METRICS = [1.0, 0.9, 0.95, 0.5, 0.5, 0.5, 0.4, 2.0]

OPS = {name: f"{LRS}{name}({{0}}{{kw}})" for name in SCHEDULERS}
OPS.update({
    "SequentialLR": f"{LRS}SequentialLR({{0}}, {TWO}{{kw}})",
    "ChainedScheduler": f"{LRS}ChainedScheduler({TWO}{{kw}})",
    "param": "torch.nn.Parameter(torch.tensor([1.0, -2.0]))",
    "SGD": "torch.optim.SGD({0}{kw})",
    "opt_step": Stmt("{0}.step()"),
    "sched_step": Stmt("{0}.step({kw})"),
    "plateau_step": Stmt("{0}.step({1})"),
    "reload": Stmt("{0}.load_state_dict({1}.state_dict())"),
})


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY, run=False)
    params = [b.add("param") for _ in range(b.integer(1, 2))]
    groups = params if len(params) == 1 else [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    opt = b.add("SGD", groups, lr=0.1, momentum=0.9)
    name = b.choice(list(SCHEDULERS))

    def make():
        kw = {k: b.choice(v[1:] if v[0] is None else v) for k, v in SCHEDULERS[name].items()
              if v[0] is not None or b.chance(40)}
        if b.chance(20):
            kw["last_epoch"] = -1
        return b.add(name, opt, **kw)

    sched = make()
    for epoch in range(b.integer(1, 12)):
        b.add("opt_step", opt)
        if name == "ReduceLROnPlateau":
            b.add("plateau_step", sched, METRICS[epoch % len(METRICS)])
        else:
            b.add("sched_step", sched)
        if b.chance(10):                # carry on with a fresh scheduler loaded from the state_dict
            new = make()
            b.add("reload", new, sched)
            sched = new
    return b.program()


FAMILY = Family("sched", OPS, programs, observe_all=True)
