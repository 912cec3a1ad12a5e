"""ember.nn: Module, Parameter, layers, losses (PyTorch's torch.nn)."""
from . import functional, init
from .modules import *
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from . import parallel, utils
from .parallel import DataParallel
