"""ember.nn: Module, Parameter, layers, losses (PyTorch's torch.nn)."""
from . import functional, init
from .modules import *
from .parameter import Buffer, Parameter, UninitializedParameter
from . import utils
