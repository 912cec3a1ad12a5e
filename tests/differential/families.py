"""Every family of programs, by name."""
from . import autograd_graphs, inplace_views, models, optimizers, save_load, schedulers

FAMILIES = {m.FAMILY.name: m.FAMILY for m in (autograd_graphs, inplace_views, optimizers, schedulers, models,
                                              save_load)}
