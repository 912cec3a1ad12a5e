"""Differential testing against PyTorch (issue 12): random programs, written once against a module bound to
`torch`, run under ember and under PyTorch and compared after every step.

- program.py    steps as plain data, the interpreter, what is observed and compared, the reproducer
- gen.py        the Builder that draws a program step by step (running PyTorch to see the values)
- autograd_graphs.py, inplace_views.py, optimizers.py, schedulers.py, models.py, save_load.py: the families
- known.py      divergences already filed, kept from failing the suite until they are fixed
- test_differential.py  the fixed, derandomized budget `make test` runs
- fuzz.py       `make fuzz`: a fresh seed, every class of divergence once, each with a shrunk reproducer
"""
