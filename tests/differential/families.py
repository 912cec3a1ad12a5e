"""Every family of programs, by name."""
from . import autograd_graphs, dtypes, indexing, inplace_views, linalg, models, optimizers, save_load, schedulers

FAMILIES = {m.FAMILY.name: m.FAMILY for m in (autograd_graphs, inplace_views, optimizers, schedulers, models,
                                              save_load, dtypes, indexing, linalg)}

from . import functional  # noqa: E402  (helper F5's family, kept on its own lines)

FAMILIES[functional.FAMILY.name] = functional.FAMILY
